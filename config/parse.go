package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/ggufd/ggufd/engine/toolformat"
	"gopkg.in/yaml.v3"
)

// source is where a configuration was read from. The Config keeps it so
// that checks made after Parse (the memory check, see CheckMemory) cite
// lines as Parse's own do.
type source struct {
	file string // as given to Parse
	// keys maps a field path to the position of the YAML key that set it.
	keys map[string]position
}

type position struct{ line, column int }

// errorAt is an *Error about field, placed at the key that set it or at its
// closest ancestor that the file sets.
func (s *source) errorAt(field, msg string) *Error {
	e := &Error{Field: field, Msg: msg}
	if s == nil {
		return e // Default(): no file
	}
	e.File = s.file
	for f := field; f != ""; {
		if pos, ok := s.keys[f]; ok {
			e.Line, e.Column = pos.line, pos.column
			break
		}
		i := strings.LastIndexByte(f, '.')
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return e
}

// parser collects every problem of one file instead of stopping at the
// first, so an operator fixes them all in one edit.
type parser struct {
	src  *source
	errs []*Error
}

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	e := &Error{File: p.src.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// set reports whether the file sets field.
func (p *parser) set(field string) bool {
	_, ok := p.src.keys[field]
	return ok
}

func (p *parser) fieldErr(field, format string, args ...any) {
	p.errs = append(p.errs, p.src.errorAt(field, fmt.Sprintf(format, args...)))
}

func parse(data []byte, name string) (*Config, error) {
	p := &parser{src: &source{file: name, keys: map[string]position{}}}
	cfg := Default()
	cfg.src = p.src
	cfg.Auth.Mode = "" // resolved from listen in validate
	cfg.Path = name
	if name != "" {
		abs, err := filepath.Abs(name)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", name, err)
		}
		cfg.Path = abs
		cfg.Dir = filepath.Dir(abs)
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		cfg.Dir = wd
	}

	if len(bytes.TrimSpace(data)) == 0 {
		// Editors that truncate a file before writing it leave it empty for
		// a moment, and applying that would drop every model. An empty file is refused (a reload keeps the last
		// good configuration); a file of comments only still means "all
		// defaults", since someone wrote it on purpose.
		return nil, &ValidationError{Errors: []*Error{{File: name,
			Msg: "the file is empty; write at least one setting (or a comment) to run on the defaults"}}}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, &ValidationError{Errors: []*Error{syntaxError(name, err)}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "", "the file holds more than one YAML document")
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			// A comment-only file: all defaults.
		} else if p.check(root, reflect.TypeOf(Config{}), "") {
			if err := root.Decode(cfg); err != nil {
				// check accepted every node, so this is unexpected;
				// report it rather than serve a half-read config.
				p.errorf(root, "", "%v", err)
			}
			cfg.Models = p.models(root, cfg.Dir)
		}
	}
	if len(p.errs) == 0 {
		p.validate(cfg)
	}
	if len(p.errs) > 0 {
		return nil, &ValidationError{Errors: p.errs}
	}
	return cfg, nil
}

// syntaxError turns a yaml.v3 parse error ("yaml: line 3: ...") into an
// *Error with the line filled in.
func syntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: file, Msg: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				e.Line = n
				e.Msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return e
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// check walks node against the Go type t: unknown or repeated keys, and
// values of the wrong type or form, become errors naming the field. It
// reports whether the node is clean enough to decode.
func (p *parser) check(n *yaml.Node, t reflect.Type, field string) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return true // "key:" with no value leaves the default
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || isScalarKind(t.Kind()) {
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			p.errorf(n, field, "%s", typeMessage(n, t, err))
			return false
		}
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			p.errorf(n, field, "want a mapping, got a %s", kindName(n))
			return false
		}
		fields := structFields(t)
		seen := map[string]bool{}
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := join(field, k.Value)
			if seen[k.Value] {
				p.errorf(k, path, "set twice")
				ok = false
				continue
			}
			seen[k.Value] = true
			p.src.keys[path] = position{k.Line, k.Column}
			if t == reflect.TypeOf(Config{}) && k.Value == "models" {
				ok = p.checkModels(v) && ok
				continue
			}
			f, known := fields[k.Value]
			if !known {
				p.errorf(k, path, "unknown field%s", suggest(k.Value, keys(fields)))
				ok = false
				continue
			}
			ok = p.check(v, f.Type, path) && ok
		}
		return ok
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.errorf(n, field, "want a list, got a %s", kindName(n))
			return false
		}
		ok := true
		for i, item := range n.Content {
			ok = p.check(item, t.Elem(), fmt.Sprintf("%s[%d]", field, i)) && ok
		}
		return ok
	}
	p.errorf(n, field, "unsupported field type %s", t)
	return false
}

// checkModels checks the models mapping: keys are model names, values
// model settings (an empty value means all defaults).
func (p *parser) checkModels(n *yaml.Node) bool {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return true
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "models", "want a mapping of model name to settings, got a %s", kindName(n))
		return false
	}
	ok := true
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := "models." + k.Value
		if prev, dup := seen[k.Value]; dup {
			p.errorf(k, path, "model %q is defined twice (first at line %d)", k.Value, prev.Line)
			ok = false
			continue
		}
		seen[k.Value] = k
		p.src.keys[path] = position{k.Line, k.Column}
		ok = p.check(v, reflect.TypeOf(Model{}), path) && ok
	}
	return ok
}

// models decodes the models mapping in file order.
func (p *parser) models(root *yaml.Node, dir string) []Model {
	var n *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "models" {
			n = root.Content[i+1]
		}
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]Model, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		m := Model{Name: n.Content[i].Value, dir: dir}
		if v := n.Content[i+1]; !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
			if err := v.Decode(&m); err != nil {
				p.errorf(v, "models."+m.Name, "%v", err)
				continue
			}
		}
		out = append(out, m)
	}
	return out
}

func isScalarKind(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// typeMessage words a decode failure for people: what was expected and
// what the file holds.
func typeMessage(n *yaml.Node, t reflect.Type, err error) string {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return err.Error()
	}
	var want string
	switch t.Kind() {
	case reflect.String:
		want = "a string"
	case reflect.Bool:
		want = "true or false"
	case reflect.Float32, reflect.Float64:
		want = "a number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "a non-negative integer"
	default:
		want = "an integer"
	}
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("want %s, got %q", want, n.Value)
	}
	return fmt.Sprintf("want %s, got a %s", want, kindName(n))
}

func structFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		out[name] = f
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func join(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

// suggest returns " (did you mean X?)" for the closest known name, or "".
func suggest(got string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(got), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return "; known fields: " + strings.Join(known, ", ")
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// EditDistance is the Levenshtein distance between a and b, exported for
// "did you mean" suggestions elsewhere.
func EditDistance(a, b string) int { return editDistance(a, b) }

// validate checks the decoded values and resolves relative paths. It reads
// no model file: whether a model fits in memory is CheckMemory's question,
// asked by whoever knows the machine.
func (p *parser) validate(c *Config) {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		p.fieldErr("listen", "want host:port (e.g. 127.0.0.1:8080), got %q", c.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.fieldErr("listen", "invalid port %q", port)
	}

	c.ModelsDir = p.dir(c.Dir, c.ModelsDir, "models_dir")
	c.DataDir = p.dir(c.Dir, c.DataDir, "data_dir")
	p.database(c)

	if c.MaxKeepAlive < 0 {
		p.fieldErr("max_keep_alive", "must not be negative (0 means no cap)")
	}
	if c.MaxLoadedModels < 0 {
		p.fieldErr("max_loaded_models", "must not be negative (0 means no limit)")
	}
	if c.QueueDepth < 1 || c.QueueDepth > MaxQueueDepth {
		p.fieldErr("queue_depth", "must be between 1 and %d, got %d", MaxQueueDepth, c.QueueDepth)
	}
	if c.BodyLimit < 1024 {
		p.fieldErr("body_limit", "must be at least 1KiB, got %s", c.BodyLimit)
	}
	if c.BodyTimeout <= 0 {
		p.fieldErr("body_timeout", "must be positive (a slow client must not hold a connection forever), got %s", c.BodyTimeout)
	}
	if c.PromptLimit < 1024 {
		p.fieldErr("prompt_limit", "must be at least 1KiB, got %s", c.PromptLimit)
	}
	if c.MaxConnections < 0 {
		p.fieldErr("max_connections", "must not be negative (0 means no limit)")
	}
	if c.ShutdownTimeout < 0 {
		p.fieldErr("shutdown_timeout", "must not be negative")
	}

	switch c.Auth.Mode {
	case "":
		c.Auth.Mode = "key"
		if err == nil && isLoopback(host) {
			c.Auth.Mode = "none"
		}
	case "none":
		if err == nil && !isLoopback(host) && !c.Auth.AllowUnauthenticated {
			p.fieldErr("auth.mode", "mode none on %s lets anyone on the network use the server; "+
				"use mode key, listen on 127.0.0.1, or set auth.allow_unauthenticated: true", c.Listen)
		}
	case "key":
	case "openid":
	default:
		p.fieldErr("auth.mode", "want none, key or openid, got %q", c.Auth.Mode)
	}

	p.images(c.Images)

	d := c.Defaults
	p.loadSettings("defaults", d.Context, d.Parallel, d.Threads, d.KVCacheType, d.FlashAttention)
	p.pricing("defaults.pricing", d.Pricing)

	// names maps every name and alias to the field that introduced it.
	names := map[string]string{}
	files := map[string]string{}
	for i := range c.Models {
		m := &c.Models[i]
		f := "models." + m.Name
		if err := validName(m.Name); err != nil {
			p.fieldErr(f, "invalid model name: %v", err)
		}
		names[m.Name] = f
	}
	for i := range c.Models {
		m := &c.Models[i]
		f := "models." + m.Name
		for j, a := range m.Aliases {
			af := fmt.Sprintf("%s.aliases[%d]", f, j)
			if err := validName(a); err != nil {
				p.fieldErr(af, "invalid alias: %v", err)
				continue
			}
			if prev, dup := names[a]; dup {
				if prev == f {
					p.fieldErr(af, "alias %q repeats the model's own name", a)
				} else {
					p.fieldErr(af, "alias %q is already used by %s", a, prev)
				}
				continue
			}
			names[a] = af
		}
		if m.IsVariant() {
			continue // once every base is resolved, below
		}
		if !p.set(f + ".pricing") {
			m.Pricing = c.Defaults.Pricing
		}
		p.model(c, m, f)
		if m.File != "" {
			real := RealPath(m.File) // a symlink is the same weights
			if prev, dup := files[real]; dup {
				p.fieldErr(f+".file", "%s is already served as %s (use aliases for more names, "+
					"or a variant with base: %s for another name with its own price)", m.File, prev, strings.TrimPrefix(prev, "models."))
			}
			files[real] = f
		}
	}
	for i := range c.Models {
		if m := &c.Models[i]; m.IsVariant() {
			p.variant(c, m, "models."+m.Name)
		}
	}
}

// dir resolves a folder setting against base.
func (p *parser) dir(base, dir, field string) string {
	if strings.TrimSpace(dir) == "" {
		p.fieldErr(field, "must not be empty")
		return dir
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(base, dir)
	}
	dir = filepath.Clean(dir)
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		p.fieldErr(field, "%s is not a folder", dir)
	}
	return dir
}

// loadSettings checks the load settings a model shares with defaults.
// gpu_layers needs no check here: its YAML type accepts only valid values.
func (p *parser) loadSettings(f string, ctx, parallel, threads int, kv, fa string) {
	if ctx < 0 {
		p.fieldErr(f+".context", "must not be negative, got %d", ctx)
	}
	if parallel < 0 {
		p.fieldErr(f+".parallel", "must not be negative, got %d", parallel)
	}
	if threads < 0 {
		p.fieldErr(f+".threads", "must not be negative, got %d", threads)
	}
	switch kv {
	case "", "f16", "q8_0", "q4_0":
	default:
		p.fieldErr(f+".kv_cache_type", "want f16, q8_0 or q4_0, got %q", kv)
	}
	switch fa {
	case "", "auto", "on", "off":
	default:
		p.fieldErr(f+".flash_attention", "want auto, on or off, got %q", fa)
	}
}

// instanceSettings are the settings of a loaded instance, which a variant
// shares with its base and so may not set.
var instanceSettings = []string{"file", "context", "parallel", "threads", "gpu_layers", "kv_cache_type",
	"flash_attention", "embeddings", "mmproj", "chat_template", "tool_format", "keep_alive", "preload"}

// variant checks a model entry with base: and makes it whole: the base's
// instance settings, its own serving settings, and the base's serving
// settings where it sets none (a per-second variant keeps the base's stop
// strings and sampling defaults, and is never free because it forgot a
// price).
func (p *parser) variant(c *Config, m *Model, f string) {
	var base *Model
	var names []string
	for i := range c.Models {
		names = append(names, c.Models[i].Name)
		if c.Models[i].Name == m.Base {
			base = &c.Models[i]
		}
	}
	switch {
	case m.Base == m.Name:
		p.fieldErr(f+".base", "a model cannot be a variant of itself")
		return
	case base == nil:
		p.fieldErr(f+".base", "no model is named %q%s", m.Base, suggestName(m.Base, names))
		return
	case base.IsVariant():
		p.fieldErr(f+".base", "%s is itself a variant of %s: name %s as the base", m.Base, base.Base, base.Base)
		return
	}
	for _, k := range instanceSettings {
		if p.set(f + "." + k) {
			p.fieldErr(f+"."+k, "a variant shares the loaded instance of its base and takes %s from it: set it on models.%s", k, m.Base)
		}
	}
	p.serving(m, f)

	own := *m
	*m = *base
	m.Name, m.Base, m.Aliases = own.Name, own.Base, own.Aliases
	m.Preload = false // preloading the base loads the one instance
	for _, s := range variantSettings {
		if p.set(f + "." + s.key) {
			s.take(m, &own)
		}
	}
	m.Sampling = mergeSampling(base.Sampling, own.Sampling)
}

// variantSettings are the settings a variant may set for itself, and how
// its own value replaces the base's. Sampling merges field by field (see
// mergeSampling).
var variantSettings = []struct {
	key  string
	take func(m, own *Model)
}{
	{"display_name", func(m, own *Model) { m.DisplayName = own.DisplayName }},
	{"description", func(m, own *Model) { m.Description = own.Description }},
	{"tags", func(m, own *Model) { m.Tags = own.Tags }},
	{"stop", func(m, own *Model) { m.Stop = own.Stop }},
	{"max_tokens", func(m, own *Model) { m.MaxTokens = own.MaxTokens }},
	{"system_prompt", func(m, own *Model) { m.SystemPrompt = own.SystemPrompt }},
	{"rate_limit", func(m, own *Model) { m.RateLimit = own.RateLimit }},
	{"pricing", func(m, own *Model) { m.Pricing = own.Pricing }},
}

// mergeSampling is base with every value over sets.
func mergeSampling(base, over SamplingDefaults) SamplingDefaults {
	out := base
	bv, ov := reflect.ValueOf(&out).Elem(), reflect.ValueOf(over)
	for i := 0; i < ov.NumField(); i++ {
		if !ov.Field(i).IsNil() {
			bv.Field(i).Set(ov.Field(i))
		}
	}
	return out
}

// suggestName returns " (did you mean X?)" for the closest of names.
func suggestName(got string, names []string) string {
	best, bestD := "", max(2, len(got)/3)+1
	for _, n := range names {
		if d := editDistance(strings.ToLower(got), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func (p *parser) model(c *Config, m *Model, f string) {
	p.loadSettings(f, m.Context, m.Parallel, m.Threads, m.KVCacheType, m.FlashAttention)
	if m.File == "" {
		m.File = m.Name + ".gguf"
	}
	if !filepath.IsAbs(m.File) {
		m.File = filepath.Join(c.ModelsDir, m.File)
	}
	m.File = filepath.Clean(m.File)
	if st, err := os.Stat(m.File); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			p.fieldErr(f+".file", "model file %s does not exist", m.File)
		} else {
			p.fieldErr(f+".file", "%v", err)
		}
	} else if !st.Mode().IsRegular() {
		p.fieldErr(f+".file", "%s is not a regular file", m.File)
	}
	if m.KeepAlive != nil && c.MaxKeepAlive > 0 && (m.KeepAlive.IsNever() || *m.KeepAlive > c.MaxKeepAlive) {
		c.Warnings = append(c.Warnings, p.src.errorAt(f+".keep_alive",
			fmt.Sprintf("%s is capped by max_keep_alive %s", *m.KeepAlive, c.MaxKeepAlive)))
	}
	if path, ok := m.chatTemplatePath(); ok {
		if _, err := os.Stat(path); err != nil {
			p.fieldErr(f+".chat_template", "template file %s: %v", path, errNotExist)
		}
	}
	p.serving(m, f)
	if m.Embeddings && m.ChatTemplate != "" {
		p.fieldErr(f+".chat_template", "an embedding model has no chat template")
	}
	if !toolformat.Valid(m.ToolFormat) {
		p.fieldErr(f+".tool_format", "want one of %s (or nothing: detect it from the chat template), got %q",
			strings.Join(toolformat.Names(), ", "), m.ToolFormat)
	}
	p.projector(c, m, f)
}

// serving checks the settings that shape requests and their price, the
// ones a variant sets for itself.
func (p *parser) serving(m *Model, f string) {
	s := m.Sampling
	sf := f + ".sampling"
	rangeF := func(name string, v *float64, lo, hi float64) {
		// Written so that NaN (YAML's .nan) fails too: it compares false.
		if v != nil && !(*v >= lo && *v <= hi) {
			p.fieldErr(sf+"."+name, "must be between %g and %g, got %g", lo, hi, *v)
		}
	}
	rangeF("temperature", s.Temperature, 0, 2)
	rangeF("top_p", s.TopP, 0, 1)
	rangeF("min_p", s.MinP, 0, 1)
	rangeF("repeat_penalty", s.RepeatPenalty, 0, 10)
	rangeF("presence_penalty", s.PresencePenalty, -2, 2)
	rangeF("frequency_penalty", s.FrequencyPenalty, -2, 2)
	if s.TopK != nil && *s.TopK < 0 {
		p.fieldErr(sf+".top_k", "must not be negative, got %d", *s.TopK)
	}
	for i, stop := range m.Stop {
		if stop == "" {
			p.fieldErr(fmt.Sprintf("%s.stop[%d]", f, i), "must not be empty")
		}
	}
	if m.MaxTokens < 0 {
		p.fieldErr(f+".max_tokens", "must not be negative (0 means no cap)")
	}
	if m.RateLimit < 0 {
		p.fieldErr(f+".rate_limit", "must not be negative (0 means no limit)")
	}
	p.pricing(f+".pricing", m.Pricing)
}

// pricing checks a price: finite amounts from 0 to MaxPrice, and a
// max_seconds of 0 (no cap) or from MinMaxSeconds to MaxMaxSeconds. NaN
// fails every comparison, so each check is written to reject it; a price
// past the bound would wrap around int64 micro-units (1000 prompt tokens
// for nothing, or seven for the whole range).
func (p *parser) pricing(f string, pr Pricing) {
	cached := 0.0
	if pr.CachedInputPer1K != nil {
		cached = *pr.CachedInputPer1K
	}
	for _, v := range []struct {
		name string
		v    float64
	}{
		{"input_per_1k", pr.InputPer1K}, {"output_per_1k", pr.OutputPer1K},
		{"cached_input_per_1k", cached}, {"per_second", pr.PerSecond},
	} {
		if !(v.v >= 0 && v.v <= MaxPrice) {
			p.fieldErr(f+"."+v.name, "must be a number from 0 to %g, got %g", MaxPrice, v.v)
		}
	}
	if ms := pr.MaxSeconds; ms != 0 && !(ms >= MinMaxSeconds && ms <= MaxMaxSeconds) {
		p.fieldErr(f+".max_seconds", "must be 0 (no cap) or from %g to %g seconds, got %g", MinMaxSeconds, MaxMaxSeconds, ms)
	}
}

// validName rejects names that would be awkward in URLs, logs and JSON:
// empty, surrounding space, whitespace or control characters.
func validName(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > 128 {
		return errors.New("longer than 128 bytes")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%q contains whitespace or control characters", s)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// database checks the database URL without connecting: the daemon reports
// an unreachable server when it starts.
func (p *parser) database(c *Config) {
	if c.Database != "" {
		u, err := url.Parse(c.Database)
		switch {
		case err != nil:
			p.fieldErr("database", "not a URL: want postgres://user@host:5432/dbname")
		case u.Scheme != "postgres" && u.Scheme != "postgresql":
			p.fieldErr("database", "want a postgres:// URL (e.g. postgres://ggufd@db:5432/ggufd), or leave it out for the SQLite file in data_dir; got scheme %q", u.Scheme)
		case u.Host == "" && u.Query().Get("host") == "":
			p.fieldErr("database", "the URL names no host: want postgres://user@host:5432/dbname")
		}
	}
	if c.ReservationTTL != 0 && c.ReservationTTL < Duration(time.Second) {
		p.fieldErr("reservation_ttl", "must be at least 1s (0 means 30s), got %s", time.Duration(c.ReservationTTL))
	}
}
