package models

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine"
)

const variantsConfig = `
models:
  yi:
    file: stories.gguf
    parallel: 2
    pricing: {input_per_1k: 1, output_per_1k: 2}
  yi-t:
    base: yi
    aliases: [yi-seconds]
    description: per second
    pricing: {per_second: 0.5}
`

// TestVariantsShareOneInstance: a variant and its base are served by one
// load; each keeps its own settings in the catalog, the statuses and the
// lease.
func TestVariantsShareOneInstance(t *testing.T) {
	e := newEnv(t, fakeLoad, variantsConfig, func(models string) { twoModels(models, t) })
	base, variant := e.acquire("yi"), e.acquire("yi-seconds")
	defer base.Release()
	defer variant.Release()
	if n := e.loads.count("stories.gguf"); n != 1 || base.Loaded() != variant.Loaded() {
		t.Fatalf("%d loads; variant and base share the instance: %v", n, base.Loaded() == variant.Loaded())
	}
	if v := variant.Entry(); v.Name != "yi-t" || v.Model.Pricing.PerSecond != 0.5 || v.Instance() != "yi" {
		t.Errorf("variant lease entry %+v", v)
	}
	if b := base.Entry(); b.Name != "yi" || b.Model.Pricing.InputPer1K != 1 {
		t.Errorf("base lease entry %+v", b)
	}
	byName := map[string]Status{}
	for _, s := range e.m.Statuses() {
		byName[s.Name] = s
	}
	if v, b := byName["yi-t"], byName["yi"]; v.State != StateLoaded || b.State != StateLoaded ||
		v.Model.Description != "per second" || v.Model.Pricing.PerSecond != 0.5 || b.Model.Pricing.PerSecond != 0 {
		t.Errorf("statuses: variant %+v, base %+v", v, b)
	}
	if s, err := e.m.Status("yi-t"); err != nil || s.Name != "yi-t" || s.State != StateLoaded {
		t.Errorf("Status(variant) = %+v, %v", s, err)
	}

	// Unloading through the variant unloads the one instance.
	base.Release()
	variant.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.m.Unload(ctx, "yi-t"); err != nil {
		t.Fatal(err)
	}
	if e.state("yi") != StateUnloaded {
		t.Errorf("base is %s after unloading its variant", e.state("yi"))
	}
}

// TestSymlinkSharesTheLoad: a GGUF in models_dir that is a symlink to a
// file already served (configured or discovered) is served under its own
// name by the same single load, like a variant, and said in a warning. The
// load is the file's own whatever the link's name.
func TestSymlinkSharesTheLoad(t *testing.T) {
	tests := []struct {
		name, body   string
		link, target string // file names in models_dir
		served       string // the name target is served under
		base         string // the name whose instance serves both
	}{
		{"link to a configured file", "models:\n  yi:\n    file: stories.gguf\n", "z-link.gguf", "stories.gguf", "yi", "yi"},
		{"link to a discovered file", "", "z-link.gguf", "tiny.gguf", "tiny", "tiny"},
		{"link sorted before its file", "", "a-link.gguf", "tiny.gguf", "tiny", "tiny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, fakeLoad, tt.body, func(models string) {
				twoModels(models, t)
				if err := os.Symlink(tt.target, filepath.Join(models, tt.link)); err != nil {
					t.Fatal(err)
				}
			})
			linkName := strings.TrimSuffix(tt.link, ".gguf")
			a, b := e.acquire(linkName), e.acquire(tt.served)
			defer a.Release()
			defer b.Release()
			if a.Loaded() != b.Loaded() {
				t.Fatalf("%s and %s are two loads of one file", linkName, tt.served)
			}
			if n := e.loads.count(tt.target) + e.loads.count(tt.link); n != 1 {
				t.Errorf("%d loads, want 1", n)
			}
			for _, l := range []*Lease{a, b} {
				if got := l.Entry().Instance(); got != tt.base {
					t.Errorf("%s is served by instance %q, want %q", l.Entry().Name, got, tt.base)
				}
			}
		})
	}
}

// TestNameTakenWarning: a models_dir file whose name is already in use is
// not served, and the warning says what holds the name: the file that won
// (files are taken in sorted order, real files before links), or a
// configured model or alias.
func TestNameTakenWarning(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		setup   func(dir string)
		served  string // the file that serves "dup"; "" a configured model does
		skipped string // the file that is not served
	}{
		{"two files with one stem", "", func(dir string) {
			copyModel(t, "stories260K.gguf", dir, "dup.gguf")
			copyModel(t, "llama-2-tiny-random.gguf", dir, "dup.GGUF")
		}, "dup.GGUF", "dup.gguf"},
		{"a link beside an unrelated file", "", func(dir string) {
			copyModel(t, "stories260K.gguf", dir, "dup.gguf")
			other := filepath.Join(dir, "elsewhere")
			if err := os.Mkdir(other, 0o755); err != nil {
				t.Fatal(err)
			}
			copyModel(t, "llama-2-tiny-random.gguf", other, "tiny.gguf")
			if err := os.Symlink(filepath.Join("elsewhere", "tiny.gguf"), filepath.Join(dir, "dup.GGUF")); err != nil {
				t.Fatal(err)
			}
		}, "dup.gguf", "dup.GGUF"},
		{"a configured model", "models:\n  dup: {file: stories.gguf}\n", func(dir string) {
			twoModels(dir, t)
			copyModel(t, "stories260K.gguf", dir, "dup.gguf")
		}, "", "dup.gguf"},
		{"an alias", "models:\n  yi: {file: stories.gguf, aliases: [dup]}\n", func(dir string) {
			twoModels(dir, t)
			copyModel(t, "stories260K.gguf", dir, "dup.gguf")
		}, "", "dup.gguf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(dir)
			if tt.served != "" && len(findGGUF(dir)) < 2 {
				t.Skip("file names are not case-sensitive here")
			}
			cfg, err := config.Parse([]byte("models_dir: "+dir+"\n"+tt.body), filepath.Join(dir, "ggufd.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			items, _, warnings := newCatalogBuilder(ggufEstimate).build(cfg)
			for _, it := range items {
				if it.Name == "dup" && it.Discovered && filepath.Base(it.Path) != tt.served {
					t.Errorf("dup is served from %s, want %s", it.Path, tt.served)
				}
			}
			skipped := filepath.Join(dir, tt.skipped)
			var got []string
			for _, w := range warnings {
				if strings.HasPrefix(w, skipped+" is not served") {
					got = append(got, w)
				}
			}
			if len(got) != 1 {
				t.Fatalf("warnings %q: want one saying %s is not served", warnings, skipped)
			}
			w := got[0]
			if tt.served == "" {
				if !strings.Contains(w, "configured model or alias") {
					t.Errorf("warning %q: want it to blame a configured model or alias", w)
				}
			} else if !strings.Contains(w, "taken by "+filepath.Join(dir, tt.served)) || strings.Contains(w, "configured") {
				t.Errorf("warning %q: want it to name %s, the file that serves \"dup\"", w, tt.served)
			}
		})
	}
}

// TestConfiguredOnly: with configured_only, GGUF files the config does not
// name are not served.
func TestConfiguredOnly(t *testing.T) {
	e := newEnv(t, fakeLoad, "configured_only: true\nmodels:\n  yi:\n    file: stories.gguf\n", func(models string) { twoModels(models, t) })
	var names []string
	for _, en := range e.m.Entries() {
		names = append(names, en.Name)
	}
	if got := strings.Join(names, ","); got != "yi" {
		t.Fatalf("served %s, want only yi", got)
	}
}

// TestUnpricedWarning: with auth on, every served model without a price is
// named, discovered ones and variants included; with auth off nothing is.
func TestUnpricedWarning(t *testing.T) {
	dir := t.TempDir()
	twoModels(dir, t)
	tests := []struct {
		name, body string
		want       string // "" : no warning
	}{
		{"auth on", "auth: {mode: key}\nmodels:\n  yi: {file: stories.gguf, pricing: {input_per_1k: 1}}\n  yi-free: {base: yi, pricing: {}}\n",
			"served free of charge while auth is key: tiny, yi-free"},
		{"defaults price discovered files", "auth: {mode: openid}\ndefaults: {pricing: {per_second: 1}}\nmodels:\n  yi: {file: stories.gguf}\n", ""},
		{"auth off", "auth: {mode: none}\nmodels:\n  yi: {file: stories.gguf}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte("models_dir: "+dir+"\n"+tt.body), filepath.Join(dir, "ggufd.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			_, _, warnings := newCatalogBuilder(ggufEstimate).build(cfg)
			got := strings.Join(warnings, "\n")
			if tt.want == "" && strings.Contains(got, "free of charge") || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("warnings %q, want %q", got, tt.want)
			}
		})
	}
}

// speedModel is a loaded model whose engine has measured its speed.
type speedModel struct {
	fakeModel
	prompt, gen time.Duration
}

func (m *speedModel) Stats() engine.Stats {
	return engine.Stats{PromptTokenCost: m.prompt, GenTokenCost: m.gen}
}

// TestSpeed: per-second reservations use the measured speed while the
// model is loaded and after it unloads, and an estimate from its size
// before any measurement.
func TestSpeed(t *testing.T) {
	load := func(ctx context.Context, path string, opts engine.LoadOptions) (LoadedModel, error) {
		return &speedModel{fakeModel: fakeModel{path: path, opts: opts}, prompt: time.Millisecond, gen: 20 * time.Millisecond}, nil
	}
	e := newEnv(t, load, variantsConfig, func(models string) { twoModels(models, t) })
	before, err := e.m.Speed("yi-t")
	if err != nil || before.Measured || before.GenToken <= 0 || before.PromptToken > before.GenToken {
		t.Fatalf("estimate before any load: %+v, %v", before, err)
	}
	l := e.acquire("yi")
	loaded, _ := e.m.Speed("yi-t")
	want := Speed{PromptToken: time.Millisecond, GenToken: 20 * time.Millisecond, Measured: true}
	if loaded != want {
		t.Errorf("while loaded: %+v, want %+v", loaded, want)
	}
	l.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.m.Unload(ctx, "yi"); err != nil {
		t.Fatal(err)
	}
	if after, _ := e.m.Speed("yi"); after != want {
		t.Errorf("after unloading: %+v, want the last measurement %+v", after, want)
	}
}

func TestEstimateSpeed(t *testing.T) {
	// A 34B model at 4.5 bits a weight: about 19 GB read per token.
	sp := estimateSpeed(19e9)
	if sp.GenToken < 500*time.Millisecond || sp.GenToken > 2*time.Second || sp.PromptToken >= sp.GenToken {
		t.Errorf("estimate for 19 GB of weights: %+v", sp)
	}
	if tiny := estimateSpeed(1 << 20); tiny.GenToken >= time.Millisecond || tiny.PromptToken <= 0 {
		t.Errorf("estimate for 1 MiB of weights: %+v", tiny)
	}
}
