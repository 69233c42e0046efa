package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a config and two empty model files into a temp folder
// and returns the config path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	models := filepath.Join(dir, "models")
	if err := os.MkdirAll(models, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"models/a.gguf", "models/b.gguf", "tmpl.jinja"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// link.gguf is a.gguf under another name.
	if err := os.Symlink("a.gguf", filepath.Join(models, "link.gguf")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ggufd.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseValid(t *testing.T) {
	path := writeConfig(t, `
listen: 127.0.0.1:9000
models_dir: models
keep_alive: 10m
max_keep_alive: 1h
memory_headroom: 512MiB
memory_limit: 8GB
defaults:
  parallel: 2
  kv_cache_type: q8_0
models:
  zeta:
    file: b.gguf
    keep_alive: -1
  alpha:
    file: a.gguf
    aliases: [first, "org/alpha:latest"]
    context: 2048
    gpu_layers: -1
    chat_template: tmpl.jinja
    tool_format: deepseek3.1
    sampling: {temperature: 0, seed: 7}
    pricing: {input_per_1k: 0.5, output_per_1k: 1.5}
    tags: [Chinese ability]
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	if c.ModelsDir != filepath.Join(dir, "models") {
		t.Errorf("ModelsDir = %s", c.ModelsDir)
	}
	if c.DataDir != filepath.Join(dir, "data") {
		t.Errorf("DataDir = %s", c.DataDir)
	}
	if c.KeepAlive.Std() != 10*time.Minute || c.MemoryHeadroom != 512<<20 || c.MemoryLimit != 8e9 {
		t.Errorf("units: %v %v %v", c.KeepAlive, c.MemoryHeadroom, c.MemoryLimit)
	}
	if c.Auth.Mode != "none" {
		t.Errorf("auth mode on loopback = %q, want none", c.Auth.Mode)
	}
	if len(c.Models) != 2 || c.Models[0].Name != "zeta" || c.Models[1].Name != "alpha" {
		t.Fatalf("models not in file order: %+v", c.Models)
	}
	a := c.Models[1]
	if a.File != filepath.Join(dir, "models", "a.gguf") {
		t.Errorf("file = %s", a.File)
	}
	if a.Sampling.Temperature == nil || *a.Sampling.Temperature != 0 || a.Sampling.TopP != nil || *a.Sampling.Seed != 7 {
		t.Errorf("sampling = %+v", a.Sampling)
	}
	if a.ToolFormat != "deepseek3.1" {
		t.Errorf("tool_format = %q", a.ToolFormat)
	}
	if src, err := a.ChatTemplateSource(); err != nil || src != "x" {
		t.Errorf("ChatTemplateSource = %q, %v", src, err)
	}
	if ka := c.KeepAliveFor(c.Models[0]); ka != Duration(time.Hour) {
		t.Errorf("keep_alive -1 capped by max_keep_alive = %v, want 1h", ka)
	}
	if ka := c.KeepAliveFor(a); ka != Duration(10*time.Minute) {
		t.Errorf("default keep_alive = %v", ka)
	}
	if m := c.WithDefaults(a); m.Parallel != 2 || m.KVCacheType != "q8_0" || c.ContextFor(m, 8192) != 2048 {
		t.Errorf("WithDefaults = %+v", m)
	}
	found := false
	for _, w := range c.Warnings {
		found = found || strings.Contains(w.Error(), "models.zeta.keep_alive: never is capped by max_keep_alive 1h0m0s")
	}
	if !found {
		t.Errorf("no keep_alive warning in %v", c.Warnings)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // substrings of the error, each must appear
	}{
		{"unknown top-level field", "listen: 127.0.0.1:1\nkeep_alve: 5m\n",
			[]string{"ggufd.yaml:2:1: keep_alve: unknown field (did you mean keep_alive?)"}},
		{"unknown model field", "models_dir: models\nmodels:\n  a:\n    contxt: 10\n",
			[]string{":4:5: models.a.contxt: unknown field (did you mean context?)"}},
		{"wrong type", "models_dir: models\nmodels:\n  a:\n    context: lots\n",
			[]string{":4:14: models.a.context: want an integer, got \"lots\""}},
		{"bad duration", "keep_alive: 5 minutes\n",
			[]string{":1:13: keep_alive: invalid duration \"5 minutes\""}},
		{"bad size", "memory_limit: 4 gigs\n", []string{"memory_limit: invalid size"}},
		{"missing file", "models_dir: models\nmodels:\n  c:\n    file: nope.gguf\n",
			[]string{":4:5: models.c.file: model file", "nope.gguf does not exist"}},
		{"default file missing", "models_dir: models\nmodels:\n  nope: {}\n",
			[]string{"models.nope.file: model file", "nope.gguf does not exist"}},
		{"duplicate model", "models_dir: models\nmodels:\n  a: {}\n  a: {}\n",
			[]string{"defined twice"}},
		{"alias equals other name", "models_dir: models\nmodels:\n  a:\n    aliases: [b]\n  b: {}\n",
			[]string{"models.a.aliases[0]: alias \"b\" is already used by models.b"}},
		{"duplicate alias", "models_dir: models\nmodels:\n  a:\n    aliases: [x]\n  b:\n    aliases: [x]\n",
			[]string{"models.b.aliases[0]: alias \"x\" is already used by models.a.aliases[0]"}},
		{"same file twice", "models_dir: models\nmodels:\n  a: {}\n  b:\n    file: a.gguf\n",
			[]string{"models.b.file", "already served as models.a"}},
		{"same file through a symlink", "models_dir: models\nmodels:\n  a: {}\n  b:\n    file: link.gguf\n",
			[]string{"models.b.file", "link.gguf is already served as models.a"}},
		{"ranges", "models_dir: models\nqueue_depth: 0\nmodels:\n  a:\n    parallel: -1\n    kv_cache_type: f32\n    sampling: {top_p: 1.5}\n",
			[]string{"queue_depth: must be between 1 and 65536, got 0", "models.a.parallel", "models.a.kv_cache_type", "models.a.sampling.top_p"}},
		// A queue_depth past what make accepts panicked in the model's load
		// goroutine, killing the daemon at the first request.
		{"queue_depth huge", "queue_depth: 35184372088832\n", []string{"queue_depth: must be between 1 and 65536, got 35184372088832"}},
		// NaN compares false with every bound: each sampling default must
		// still be refused, not reach every request as the client's fault.
		{"sampling NaN", "models_dir: models\nmodels:\n  a:\n    sampling: {temperature: .nan, top_p: .nan, min_p: .NaN, repeat_penalty: .nan, presence_penalty: .nan, frequency_penalty: .nan}\n",
			[]string{"sampling.temperature: must be between 0 and 2, got NaN", "sampling.top_p", "sampling.min_p", "sampling.repeat_penalty", "sampling.presence_penalty", "sampling.frequency_penalty"}},
		// Prices past int64 micro-units wrapped around: NaN, ±Inf and 1e13
		// all became the minimum int64, so 1000 prompt tokens cost nothing.
		{"prices not finite or too large", "models_dir: models\nmodels:\n  a:\n    pricing: {input_per_1k: .nan, output_per_1k: .inf, cached_input_per_1k: 1e13, per_second: 1000001}\n",
			[]string{"models.a.pricing.input_per_1k: must be a number from 0 to 1e+06, got NaN", "models.a.pricing.output_per_1k: must be a number from 0 to 1e+06, got +Inf",
				"models.a.pricing.cached_input_per_1k: must be a number from 0 to 1e+06, got 1e+13", "models.a.pricing.per_second: must be a number from 0 to 1e+06, got 1.000001e+06"}},
		{"max_seconds NaN", "models_dir: models\nmodels:\n  a:\n    pricing: {per_second: 1, max_seconds: .nan}\n",
			[]string{"models.a.pricing.max_seconds: must be 0 (no cap) or from 0.001 to 1e+06 seconds, got NaN"}},
		{"max_seconds infinite", "models_dir: models\nmodels:\n  a:\n    pricing: {per_second: 1, max_seconds: .inf}\n",
			[]string{"models.a.pricing.max_seconds: must be 0 (no cap) or from 0.001 to 1e+06 seconds, got +Inf"}},
		{"max_seconds under a millisecond", "models_dir: models\nmodels:\n  a:\n    pricing: {per_second: 1, max_seconds: 1e-10}\n",
			[]string{"models.a.pricing.max_seconds: must be 0 (no cap) or from 0.001 to 1e+06 seconds, got 1e-10"}},
		{"keep_alive NaN", "models_dir: models\nmodels:\n  a:\n    keep_alive: nan\n",
			[]string{"models.a.keep_alive", "is not a number"}},
		{"open network without auth", "listen: 0.0.0.0:8080\nauth: {mode: none}\n",
			[]string{"auth.mode: mode none on 0.0.0.0:8080"}},
		{"bad listen", "listen: localhost\n", []string{"listen: want host:port"}},
		{"models not a mapping", "models: [a, b]\n", []string{"models: want a mapping"}},
		{"syntax", "listen: [\n", []string{"ggufd.yaml"}},
		{"missing template", "models_dir: models\nmodels:\n  a:\n    chat_template: t.jinja\n",
			[]string{"models.a.chat_template: template file"}},
		{"gpu_layers below -1", "models_dir: models\nmodels:\n  a:\n    gpu_layers: -2\n",
			[]string{":4:17: models.a.gpu_layers: want auto, -1 (all) or a number of layers, got \"-2\""}},
		{"gpu_layers word", "defaults:\n  gpu_layers: most\n",
			[]string{":2:15: defaults.gpu_layers: want auto, -1 (all) or a number of layers, got \"most\""}},
		{"gpu_layers list", "defaults:\n  gpu_layers: [1]\n",
			[]string{":2:15: defaults.gpu_layers: want auto, -1 (all) or a number of layers, got a list"}},
		{"unknown tool format", "models_dir: models\nmodels:\n  a:\n    tool_format: qwen\n",
			[]string{"models.a.tool_format: want one of", "hermes", `got "qwen"`}},
		{"empty file", "", []string{"ggufd.yaml: the file is empty"}},
		{"whitespace only", " \n\t\n\n", []string{"ggufd.yaml: the file is empty"}},
		{"request limits", "body_timeout: 0\nprompt_limit: 10\nmax_connections: -1\n",
			[]string{"body_timeout: must be positive", "prompt_limit: must be at least 1KiB", "max_connections: must not be negative"}},
		{"database not postgres", "database: mysql://db/ggufd\n", []string{":1:1: database: want a postgres:// URL"}},
		{"database without host", "database: postgres:///ggufd\n", []string{"database: the URL names no host"}},
		{"database password not echoed", "database: 'mysql://u:s3cret@db/x'\n", []string{"database: want a postgres:// URL"}},
		{"reservation ttl too short", "reservation_ttl: 100ms\n", []string{"reservation_ttl: must be at least 1s"}},
		{"missing projector", "models_dir: models\nmodels:\n  a:\n    mmproj: a.mmproj.gguf\n",
			[]string{":4:5: models.a.mmproj: projector file", "a.mmproj.gguf does not exist"}},
		{"projector of an embedding model", "models_dir: models\nmodels:\n  a:\n    embeddings: true\n    mmproj: b.gguf\n",
			[]string{"models.a.mmproj: an embedding model takes no projector"}},
		{"image limits", "images:\n  max_bytes: 10\n  max_pixels: 0\n  max_per_request: -1\n  fetch_timeout: 0s\n",
			[]string{"images.max_bytes: must be at least 1KiB", "images.max_pixels", "images.max_per_request", "images.fetch_timeout"}},
		{"remote host as URL", "images:\n  remote_hosts: [\"http://img.lan/x\", \"*.\", ok.lan, \"ok.lan:8080\"]\n",
			[]string{"images.remote_hosts[0]: \"http://img.lan/x\": want a host name", "images.remote_hosts[1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.body)
			_, err := Load(path)
			if err == nil {
				t.Fatal("no error")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValidationError: %v", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the database password", err)
			}
		})
	}
}

// TestGPULayers checks what gpu_layers becomes for each model: its own
// value, else defaults', else auto.
func TestGPULayers(t *testing.T) {
	tests := []struct {
		name     string
		defaults string // the defaults.gpu_layers line, "" for none
		own      string // model a's gpu_layers, "" for none
		want     GPULayers
	}{
		{"unset everywhere", "", "", GPULayersAuto},
		{"auto", "", "auto", GPULayersAuto},
		{"AUTO", "", "AUTO", GPULayersAuto},
		{"all", "", "-1", GPULayersAll},
		{"cpu only", "", "0", 0},
		{"count", "", "20", 20},
		{"from defaults", "gpu_layers: 0", "", 0},
		{"own wins over defaults", "gpu_layers: 0", "auto", GPULayersAuto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := "models_dir: models\ndefaults:\n  " + tt.defaults + "\nmodels:\n  a:\n"
			if tt.own != "" {
				body += "    gpu_layers: " + tt.own + "\n"
			} else {
				body += "    parallel: 1\n"
			}
			c, err := Load(writeConfig(t, body))
			if err != nil {
				t.Fatal(err)
			}
			m := c.WithDefaults(c.Models[0])
			if m.GPULayers == nil || *m.GPULayers != tt.want {
				t.Fatalf("gpu_layers = %v, want %v", m.GPULayers, tt.want)
			}
			// A model found in models_dir takes the defaults too.
			d := c.DiscoveredModel(filepath.Join(c.ModelsDir, "b.gguf"))
			want := GPULayersAuto
			if c.Defaults.GPULayers != nil {
				want = *c.Defaults.GPULayers
			}
			if d.GPULayers == nil || *d.GPULayers != want {
				t.Errorf("discovered model gpu_layers = %v, want %v", d.GPULayers, want)
			}
		})
	}
}

func TestDatabaseURL(t *testing.T) {
	for _, db := range []string{"postgres://ggufd@db:5432/ggufd", "postgresql://u:p@10.0.0.5/x?sslmode=require", "postgres:///ggufd?host=/run/postgresql"} {
		c, err := Parse([]byte("database: '"+db+"'\nreservation_ttl: 5s\n"), "")
		if err != nil {
			t.Fatalf("%s: %v", db, err)
		}
		if c.Database != db || c.ReservationTTL != Duration(5*time.Second) {
			t.Fatalf("%s: got %q, %v", db, c.Database, c.ReservationTTL)
		}
	}
}

func TestContextFor(t *testing.T) {
	c := Default()
	for _, tt := range []struct{ own, def, trained, want int }{
		{0, 0, 128, 128}, {0, 0, 131072, DefaultContext}, {0, 0, 0, DefaultContext},
		{0, 8192, 131072, 8192}, {0, 8192, 2048, 2048}, {512, 8192, 2048, 512}, {16384, 0, 2048, 16384},
	} {
		c.Defaults.Context = tt.def
		if got := c.ContextFor(Model{Context: tt.own}, tt.trained); got != tt.want {
			t.Errorf("ContextFor(own %d, default %d, trained %d) = %d, want %d", tt.own, tt.def, tt.trained, got, tt.want)
		}
	}
}

func TestAuthModeDefault(t *testing.T) {
	for _, tt := range []struct{ listen, want string }{
		{"127.0.0.1:8080", "none"}, {"localhost:8080", "none"}, {"[::1]:8080", "none"},
		{"0.0.0.0:8080", "key"}, {":8080", "key"},
	} {
		c, err := Parse([]byte("listen: \""+tt.listen+"\"\n"), "")
		if err != nil {
			t.Fatal(err)
		}
		if c.Auth.Mode != tt.want {
			t.Errorf("listen %s: mode %q, want %q", tt.listen, c.Auth.Mode, tt.want)
		}
	}
}

func TestCommentsOnlyAndMissing(t *testing.T) {
	c, err := Parse([]byte("# every setting at its default\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.QueueDepth != DefaultQueueDepth || !filepath.IsAbs(c.ModelsDir) ||
		c.BodyTimeout != DefaultBodyTimeout || c.PromptLimit != DefaultPromptLimit || c.MaxConnections != DefaultMaxConnections {
		t.Errorf("comment-only config: %+v", c)
	}
	_, err = Load(filepath.Join(t.TempDir(), "none.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file error %v does not match fs.ErrNotExist", err)
	}
}

func TestUnits(t *testing.T) {
	durations := []struct {
		in   string
		want Duration
		bad  bool
	}{
		{"5m", Duration(5 * time.Minute), false}, {"90", Duration(90 * time.Second), false},
		{"-1", Never, false}, {"never", Never, false}, {"0", 0, false}, {"1h30m", Duration(90 * time.Minute), false},
		{"soon", 0, true}, {"", 0, true},
	}
	for _, d := range durations {
		got, err := ParseDuration(d.in)
		if (err != nil) != d.bad || got != d.want {
			t.Errorf("ParseDuration(%q) = %v, %v", d.in, got, err)
		}
	}
	sizes := []struct {
		in   string
		want ByteSize
		bad  bool
	}{
		{"1024", 1024, false}, {"1KiB", 1024, false}, {"1kb", 1000, false}, {"1.5GiB", 3 << 29, false},
		{"16M", 16 << 20, false}, {"2 GB", 2e9, false}, {"-1", 0, true}, {"lots", 0, true},
	}
	for _, s := range sizes {
		got, err := ParseByteSize(s.in)
		if (err != nil) != s.bad || got != s.want {
			t.Errorf("ParseByteSize(%q) = %v, %v", s.in, got, err)
		}
	}
	if s := FormatBytes(3 << 29); s != "1.5GiB" {
		t.Errorf("FormatBytes = %s", s)
	}
}

// TestMemoryCheck runs CheckMemory with pinned numbers: a model that can
// never fit is an error at its line, one that does not fit now a warning.
func TestMemoryCheck(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name    string
		gpu     string // model a's gpu_layers line
		need    uint64
		mach    Machine
		err     string // substring of the error; "" for none
		warning string // substring of the only warning; "" for none
	}{
		{"too big", "", 10 * gib, Machine{Total: 8 * gib, Available: 8 * gib},
			"ggufd.yaml:4:3: models.a: needs about 10GiB loaded (context default × parallel 8), more than the machine's memory (8GiB)", ""},
		{"not available now", "", 4 * gib, Machine{Total: 8 * gib, Available: 2 * gib}, "", "ggufd.yaml:4:3: models.a: needs about 4GiB loaded, but only 2GiB is available"},
		{"fits with the GPUs", "", 10 * gib, Machine{Total: 8 * gib, Available: 8 * gib, GPU: 24 * gib}, "", ""},
		{"too big for both", "gpu_layers: -1", 40 * gib, Machine{Total: 8 * gib, Available: 8 * gib, GPU: 24 * gib},
			"more than the machine's memory plus the GPUs' (32GiB)", ""},
		{"cpu only ignores the GPUs", "gpu_layers: 0", 10 * gib, Machine{Total: 8 * gib, Available: 8 * gib, GPU: 24 * gib},
			"more than the machine's memory (8GiB)", ""},
		{"memory_limit", "", 10 * gib, Machine{Total: 64 * gib, Available: 64 * gib}, "more than memory_limit (9GiB)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := ""
			if tt.name == "memory_limit" {
				limit = "memory_limit: 9GiB\n"
			}
			c, err := Load(writeConfig(t, "models_dir: models\nmemory_headroom: 0\nmodels:\n  a:\n    parallel: 8\n    "+tt.gpu+"\n"+limit))
			if err != nil {
				t.Fatal(err)
			}
			var asked []Model
			warnings, err := c.CheckMemory(tt.mach, func(m Model) (uint64, error) {
				asked = append(asked, m)
				return tt.need, nil
			})
			if len(asked) != 1 || asked[0].Parallel != 8 || asked[0].GPULayers == nil {
				t.Errorf("need asked for %+v, want model a with its defaults applied", asked)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.warning == "" && len(warnings) != 0:
				t.Errorf("warnings %v, want none", warnings)
			case tt.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0].Error(), tt.warning)):
				t.Errorf("warnings %v, want one with %q", warnings, tt.warning)
			}
		})
	}
	// An estimate that fails is a warning: the file may be mid-copy.
	c, err := Load(writeConfig(t, "models_dir: models\nmodels:\n  a: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	warnings, err := c.CheckMemory(Machine{Total: 8 * gib}, func(Model) (uint64, error) { return 0, errors.New("truncated file") })
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0].Error(), "models.a.file: cannot estimate memory: truncated file") {
		t.Errorf("failed estimate: %v, %v", warnings, err)
	}
}

// TestExampleConfig keeps ggufd.example.yaml valid: every field known, every
// value well formed.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "ggufd.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	models := filepath.Join(dir, "data", "models")
	if err := os.MkdirAll(models, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Qwen2.5-7B-Instruct-Q4_K_M.gguf", "nomic-embed-text-v1.5.Q8_0.gguf",
		"gemma-3-4b-it-Q4_K_M.gguf", "mmproj-gemma-3-4b-it-f16.gguf"} {
		if err := os.WriteFile(filepath.Join(models, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "ggufd.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// The model files hold one byte, no GGUF: Parse must not have opened
	// them (it did, to estimate memory, before CheckMemory took that over).
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %v, want none", c.Warnings)
	}
	q, ok := c.Model("qwen2.5-7b-instruct")
	if !ok || q.Sampling.TopK == nil || *q.Sampling.TopK != 20 || q.Pricing.MaxSeconds != 120 || !q.Preload ||
		len(q.Tags) != 2 || c.Auth.Currency != "元" || c.KeepAliveFor(q) != Duration(30*time.Minute) {
		t.Errorf("example parsed as %+v", q)
	}
	if g := c.Defaults.GPULayers; g == nil || *g != GPULayersAuto || c.GPUMemoryHeadroom != 512<<20 {
		t.Errorf("defaults.gpu_layers %v, gpu_memory_headroom %v; want auto, 512MiB", g, c.GPUMemoryHeadroom)
	}
	if v, _ := c.Model("qwen2.5-7b-instruct-t"); v.Base != q.Name || v.File != q.File || v.Pricing.PerSecond != 0.01 ||
		v.Pricing.InputPer1K != 0 || v.Context != q.Context || v.RateLimit != 30 || c.ConfiguredOnly {
		t.Errorf("variant parsed as %+v", v)
	}
	if e, _ := c.Model("nomic-embed"); !e.Embeddings || !c.KeepAliveFor(e).IsNever() {
		t.Errorf("embedding model %+v", e)
	}
	if v, _ := c.Model("gemma3-vision"); v.ProjectorFile() != filepath.Join(models, "mmproj-gemma-3-4b-it-f16.gguf") || q.ProjectorFile() != "" {
		t.Errorf("projectors: vision model %q, text model %q", v.ProjectorFile(), q.ProjectorFile())
	}
	if c.Images.MaxPerRequest != 8 || c.Images.MaxBytes != 10<<20 || len(c.Images.RemoteHosts) != 0 {
		t.Errorf("images = %+v", c.Images)
	}
}

func TestProjectorFile(t *testing.T) {
	dir := t.TempDir()
	touch := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	llava, both, prefixed := touch("llava.gguf"), touch("both.gguf"), touch("pre.gguf")
	llavaProj := touch("llava.mmproj.gguf")
	bothProj := touch("both.mmproj.gguf")
	touch("mmproj-both.gguf")
	preProj := touch("mmproj-pre.gguf")
	explicit := touch("custom-projector.gguf")
	tests := []struct {
		name string
		m    Model
		want string
	}{
		{"NAME.mmproj.gguf beside", Model{File: llava}, llavaProj},
		{"the first convention wins", Model{File: both}, bothProj},
		{"mmproj-NAME.gguf beside", Model{File: prefixed}, preProj},
		{"none beside", Model{File: touch("plain.gguf")}, ""},
		{"explicit", Model{File: llava, MMProj: explicit}, explicit},
		{"turned off", Model{File: llava, MMProj: NoProjector}, ""},
		{"embedding model", Model{File: llava, Embeddings: true}, ""},
	}
	for _, tt := range tests {
		if got := tt.m.ProjectorFile(); got != tt.want {
			t.Errorf("%s: ProjectorFile() = %q, want %q", tt.name, got, tt.want)
		}
	}
	// Parse resolves mmproj against models_dir and keeps the defaults of
	// the image limits that the file does not set.
	path := writeConfig(t, "models_dir: models\nimages: {max_per_request: 3, remote_hosts: [img.lan]}\nmodels:\n  a:\n    mmproj: b.gguf\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(path), "models", "b.gguf"); c.Models[0].ProjectorFile() != want {
		t.Errorf("mmproj = %q, want %q", c.Models[0].MMProj, want)
	}
	if im := c.Images; im.MaxPerRequest != 3 || im.MaxBytes != DefaultImageMaxBytes || im.MaxPixels != DefaultImageMaxPixels ||
		im.FetchTimeout != DefaultImageFetchTimeout || len(im.RemoteHosts) != 1 {
		t.Errorf("images = %+v", im)
	}
}
