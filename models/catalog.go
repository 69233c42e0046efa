package models

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/engine/gguf"
)

// Entry is one servable model as configured or discovered.
type Entry struct {
	Name string
	Path string
	// Model holds every setting, with the config's defaults applied.
	Model config.Model
	// ContextLength is tokens per sequence the model loads with.
	ContextLength int
	Embeddings    bool
	Projector     string // the vision projector (mmproj) it loads with, "" none
	// Discovered is true for a GGUF found in models_dir that the config
	// file does not name.
	Discovered bool
	// Created is the file's modification time.
	Created time.Time
	// LoadHash is a short digest of the file (path, size, modification
	// time) and the settings it loads with: it changes exactly when a
	// reload reloads the model, so clients can tell the backend changed.
	LoadHash string
}

// Instance is the name of the model whose loaded instance serves e: its
// base for a variant (config base:), else its own name.
func (e Entry) Instance() string {
	if e.Model.Base != "" {
		return e.Model.Base
	}
	return e.Name
}

// DemoName is the model written into an empty models_dir on first run.
const DemoName = "demo-random"

// item is an Entry with what the manager derives from the file, computed
// outside the manager goroutine because it reads files.
type item struct {
	Entry
	spec      loadSpec
	opts      engine.LoadOptions // GPULayers, TensorSplit and Progress are set per load
	gpuLayers config.GPULayers   // as configured; placed per load
	est       gguf.Estimate
	estErr    error // the file was refused or cannot fit any memory: loading it fails with this
	prepErr   error // the load cannot even be attempted (chat template unreadable)
}

// loadSpec is everything that, when it changes, needs the model reloaded.
// Settings outside it (pricing, description, sampling...) apply at once.
type loadSpec struct {
	Path           string
	Size           int64
	ModTime        int64
	Context        int
	Parallel       int
	Threads        int
	GPULayers      config.GPULayers
	KVCacheType    string
	FlashAttention string
	Embeddings     bool
	ChatTemplate   string
	QueueDepth     int
	Projector      fileStamp
}

// hash is a short digest of every field: equal specs, equal hashes.
func (s loadSpec) hash() string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%+v", s))
	return hex.EncodeToString(sum[:6])
}

// fileStamp identifies a version of a file: a change of any field means the
// file changed.
type fileStamp struct {
	Path          string
	Size, ModTime int64
}

// fileMeta caches what a GGUF's metadata says, keyed by path, size and
// modification time, so reloads re-read only files that changed.
type fileMeta struct {
	size    int64
	modTime int64
	trained int
	arch    string // general.architecture
	err     error
}

// estKey caches estimates: the same file under the same settings.
type estKey struct {
	path          string
	size, modTime int64
	params        gguf.EstimateParams
}

type estResult struct {
	est gguf.Estimate
	err error
}

// catalogBuilder turns a config and the models folder into items. It is
// used only in a Manager's reload turn (see reloadTurn).
type catalogBuilder struct {
	estimate Estimator
	meta     map[string]fileMeta
	ests     map[estKey]estResult
}

func newCatalogBuilder(e Estimator) *catalogBuilder {
	return &catalogBuilder{estimate: e, meta: map[string]fileMeta{}, ests: map[estKey]estResult{}}
}

// build returns the items of cfg: its models, then every other *.gguf in
// ModelsDir under its file stem (unless configured_only), and the variants,
// which are served by their base's item. Warnings are problems worth a log
// line.
func (b *catalogBuilder) build(cfg *config.Config) (items []*item, variants []Entry, warnings []string) {
	// taken maps each name in use to the discovered file serving it, ""
	// for a configured model's name or alias.
	taken := map[string]string{}
	files := map[string]bool{}
	byName := map[string]*item{}
	// byFile finds the item already serving a file under another path (a
	// symlink to it): such a name shares that item's one load instead of
	// loading the same weights twice.
	byFile := map[string]*item{}
	for _, m := range cfg.Models {
		taken[m.Name] = ""
		for _, a := range m.Aliases {
			taken[a] = ""
		}
		files[m.File] = true
		if m.IsVariant() {
			continue
		}
		it := b.item(cfg, cfg.WithDefaults(m), false)
		byName[m.Name] = it
		byFile[config.RealPath(m.File)] = it
		items = append(items, it)
	}
	for _, m := range cfg.Models {
		if base := byName[m.Base]; m.IsVariant() && base != nil {
			variants = append(variants, base.variant(m.Name, cfg.WithDefaults(m)))
		}
	}
	defer func() { warnings = append(warnings, unpriced(cfg, items, variants)...) }()
	if cfg.ConfiguredOnly {
		return items, variants, warnings
	}
	for _, path := range realFilesFirst(findGGUF(cfg.ModelsDir)) {
		if files[path] || gguf.IsProjectorName(path) {
			continue // projectors pair with the model beside them
		}
		if b.metaOf(path).arch == gguf.ProjectorArchitecture {
			warnings = append(warnings, fmt.Sprintf("%s is a vision projector, not a model: name it NAME.mmproj.gguf beside the model NAME.gguf, or set mmproj on a configured model", path))
			continue
		}
		m := cfg.DiscoveredModel(path)
		if by, ok := taken[m.Name]; ok {
			if by == "" {
				warnings = append(warnings, fmt.Sprintf("%s is not served: its name %q is taken by a configured model or alias", path, m.Name))
			} else {
				// Files are taken in sorted order, real files before
				// links, so the same file wins on every reload.
				warnings = append(warnings, fmt.Sprintf("%s is not served: its name %q is taken by %s, which is served under it; rename one of the two files", path, m.Name, by))
			}
			continue
		}
		if m.Name == DemoName && m.Description == "" {
			m.Description = fmt.Sprintf("Demo model with random weights: its output is gibberish. Put real GGUF files in %s to serve them.", cfg.ModelsDir)
		}
		if m.Name == VisionDemoName && m.Description == "" {
			m.Description = "Vision demo model with random weights: it takes images, and its output is gibberish."
		}
		taken[m.Name] = path
		real := config.RealPath(path)
		if base := byFile[real]; base != nil {
			// Served like a variant: its own name and (default) price, the
			// base's load settings and instance.
			m.Base = base.Name
			e := base.variant(m.Name, m)
			e.Discovered = true
			variants = append(variants, e)
			warnings = append(warnings, fmt.Sprintf("%s is the same file as %s: %q shares the loaded instance of %q", path, base.Path, m.Name, base.Name))
			continue
		}
		it := b.item(cfg, m, true)
		byFile[real] = it
		items = append(items, it)
	}
	// Forget cached files that are gone so the caches do not grow.
	live := map[string]bool{}
	for _, it := range items {
		live[it.Path] = true
	}
	for p := range b.meta {
		if !live[p] {
			delete(b.meta, p)
		}
	}
	for k := range b.ests {
		if !live[k.path] {
			delete(b.ests, k)
		}
	}
	return items, variants, warnings
}

// unpriced names the served models that cost nothing while auth is on: a
// model served free by mistake (a file dropped into models_dir, an entry
// that forgot its pricing) is said at startup and on every reload rather
// than found on the invoice.
func unpriced(cfg *config.Config, items []*item, variants []Entry) []string {
	if cfg.Auth.Mode == "" || cfg.Auth.Mode == "none" {
		return nil
	}
	var free []string
	for _, it := range items {
		if it.Model.Pricing.IsZero() {
			free = append(free, it.Name)
		}
	}
	for _, v := range variants {
		if v.Model.Pricing.IsZero() {
			free = append(free, v.Name)
		}
	}
	if len(free) == 0 {
		return nil
	}
	sort.Strings(free)
	return []string{fmt.Sprintf("served free of charge while auth is %s: %s; set their pricing, or defaults.pricing "+
		"(configured_only: true serves only the models the config names)", cfg.Auth.Mode, strings.Join(free, ", "))}
}

func (b *catalogBuilder) item(cfg *config.Config, m config.Model, discovered bool) *item {
	it := &item{Entry: Entry{Name: m.Name, Path: m.File, Model: m, Embeddings: m.Embeddings, Discovered: discovered,
		Projector: m.ProjectorFile()}}
	meta := b.metaOf(m.File)
	size, mod := meta.size, meta.modTime
	if meta.modTime != 0 {
		it.Created = time.Unix(0, mod)
	}
	it.ContextLength = cfg.ContextFor(m, meta.trained)

	tmpl, err := m.ChatTemplateSource()
	if err != nil {
		it.prepErr = err
	}
	it.gpuLayers = config.GPULayersAuto
	if m.GPULayers != nil {
		it.gpuLayers = *m.GPULayers
	}
	it.opts = engine.LoadOptions{
		ContextLength:  it.ContextLength,
		Parallel:       m.Parallel,
		Threads:        m.Threads,
		KVCacheType:    m.KVCacheType,
		FlashAttention: m.FlashAttention,
		Embeddings:     m.Embeddings,
		ChatTemplate:   tmpl,
		QueueDepth:     cfg.QueueDepth,
		Projector:      it.Projector,
	}
	it.spec = loadSpec{
		Path: m.File, Size: size, ModTime: mod,
		Context: it.ContextLength, Parallel: m.Parallel, Threads: m.Threads, GPULayers: it.gpuLayers,
		KVCacheType: m.KVCacheType, FlashAttention: m.FlashAttention, Embeddings: m.Embeddings,
		ChatTemplate: tmpl, QueueDepth: cfg.QueueDepth, Projector: stampOf(it.Projector),
	}
	it.LoadHash = it.spec.hash()

	if meta.err != nil {
		it.estErr = meta.err
		return it
	}
	key := estKey{path: m.File, size: size, modTime: mod, params: cfg.EstimateParams(m, meta.trained)}
	res, ok := b.ests[key]
	if !ok {
		res.est, res.err = b.estimate(m.File, key.params)
		b.ests[key] = res
	}
	it.est, it.estErr = res.est, res.err
	if it.estErr == nil && it.spec.Projector.Size > 0 {
		// The projector's weights; its compute buffer is small beside them.
		it.est.Weights += uint64(it.spec.Projector.Size)
		it.est.Total += uint64(it.spec.Projector.Size)
	}
	return it
}

// metaOf returns what path's GGUF metadata says, read again only when the
// file changed.
func (b *catalogBuilder) metaOf(path string) fileMeta {
	var size, mod int64
	if st, err := os.Stat(path); err == nil {
		size, mod = st.Size(), st.ModTime().UnixNano()
	}
	meta, ok := b.meta[path]
	if ok && meta.size == size && meta.modTime == mod {
		return meta
	}
	meta = fileMeta{size: size, modTime: mod}
	if f, err := gguf.Open(path); err != nil {
		meta.err = err
	} else {
		meta.trained = f.ContextLength()
		meta.arch = f.Architecture()
	}
	b.meta[path] = meta
	return meta
}

// stampOf stamps the file at path; "" stamps nothing.
func stampOf(path string) fileStamp {
	if path == "" {
		return fileStamp{}
	}
	st := fileStamp{Path: path}
	if fi, err := os.Stat(path); err == nil {
		st.Size, st.ModTime = fi.Size(), fi.ModTime().UnixNano()
	}
	return st
}

// findGGUF lists the *.gguf files of dir (not recursive), sorted. Hidden
// files are skipped: downloaders write partial files as dotfiles.
func findGGUF(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.EqualFold(filepath.Ext(name), ".gguf") {
			continue
		}
		p := filepath.Join(dir, name)
		// Stat follows symlinks: a link to a model elsewhere is fine.
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// realFilesFirst orders paths so that files come before symlinks (each
// group keeps its order): a file and a link to it are served by one load,
// and that load is the file's own, named after it, whatever the link is
// called. Otherwise adding a link that sorts first would rename (and so
// reload) a model that is already serving.
func realFilesFirst(paths []string) []string {
	var files, links []string
	for _, p := range paths {
		if st, err := os.Lstat(p); err == nil && st.Mode()&os.ModeSymlink != 0 {
			links = append(links, p)
		} else {
			files = append(files, p)
		}
	}
	return append(files, links...)
}

// hasGGUF reports whether dir holds any GGUF file.
func hasGGUF(dir string) (bool, error) {
	_, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return len(findGGUF(dir)) > 0, nil
}

// catalog is an immutable snapshot of the served names, swapped on reload,
// so Lookup and Entries never wait for the manager goroutine.
type catalog struct {
	entries []Entry          // sorted by name
	byName  map[string]Entry // names and aliases
	names   []string         // names and aliases, for suggestions
}

// variant is the entry of another name served by this item's instance, with
// settings m of its own (m.Base names the item).
func (it *item) variant(name string, m config.Model) Entry {
	e := it.Entry
	e.Name, e.Model = name, m
	return e
}

func newCatalog(items []*item, variants []Entry) *catalog {
	c := &catalog{byName: map[string]Entry{}}
	add := func(e Entry) {
		c.entries = append(c.entries, e)
		c.byName[e.Name] = e
		c.names = append(c.names, e.Name)
		for _, a := range e.Model.Aliases {
			c.byName[a] = e
			c.names = append(c.names, a)
		}
	}
	for _, it := range items {
		add(it.Entry)
	}
	for _, v := range variants {
		add(v)
	}
	sort.Slice(c.entries, func(i, j int) bool { return c.entries[i].Name < c.entries[j].Name })
	sort.Strings(c.names)
	return c
}

// lookup resolves a name or alias: exactly, else case-insensitively when
// that matches one model only.
func (c *catalog) lookup(name string) (Entry, error) {
	if e, ok := c.byName[name]; ok {
		return e, nil
	}
	var found []Entry
	for n, e := range c.byName {
		if strings.EqualFold(n, name) {
			found = append(found, e)
		}
	}
	if len(found) > 0 {
		same := true
		for _, e := range found[1:] {
			same = same && e.Name == found[0].Name
		}
		if same {
			return found[0], nil
		}
	}
	return Entry{}, &NotFoundError{Name: name, Suggestions: suggestions(name, c.names)}
}

// suggestions returns up to three names close to name: within an edit
// distance of a third of its length (at least 2), or sharing a prefix.
func suggestions(name string, names []string) []string {
	type cand struct {
		name string
		d    int
	}
	lname := strings.ToLower(name)
	limit := max(2, len(name)/3)
	var cs []cand
	for _, n := range names {
		ln := strings.ToLower(n)
		d := config.EditDistance(lname, ln)
		switch {
		case d <= limit:
		case len(lname) >= 3 && (strings.HasPrefix(ln, lname) || strings.HasPrefix(lname, ln)):
			d = limit + 1 // after the edit-distance matches
		default:
			continue
		}
		cs = append(cs, cand{n, d})
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for _, c := range cs {
		if len(out) == 3 {
			break
		}
		out = append(out, c.name)
	}
	return out
}
