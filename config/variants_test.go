package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestVariants: a model entry with base: shares its base's file and load
// settings, takes its own serving settings, and inherits the base's where it
// sets none.
func TestVariants(t *testing.T) {
	path := writeConfig(t, `
models_dir: models
models:
  yi-34b:
    file: a.gguf
    context: 2048
    parallel: 3
    keep_alive: 1h
    preload: true
    aliases: [yi]
    description: Yi 34B chat, per 1K tokens
    stop: ["<|im_end|>"]
    max_tokens: 512
    system_prompt: You are Yi.
    sampling: {temperature: 0.3, top_k: 40}
    pricing: {input_per_1k: 0.01, output_per_1k: 0.02}
    rate_limit: 60
    tags: [chat]
  yi-34b-t:
    base: yi-34b
    aliases: [yi-t]
    description: Yi 34B chat, per second
    sampling: {temperature: 0.9}
    pricing: {per_second: 0.02, max_seconds: 90}
    rate_limit: 10
  yi-34b-cheap:
    base: yi-34b
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := c.Model("yi-34b")
	v, ok := c.Model("yi-34b-t")
	if !ok || !v.IsVariant() || base.IsVariant() {
		t.Fatalf("variant %+v", v)
	}
	tests := []struct {
		what      string
		got, want any
	}{
		{"file", v.File, filepath.Join(filepath.Dir(path), "models", "a.gguf")},
		{"context", v.Context, 2048},
		{"parallel", v.Parallel, 3},
		{"keep_alive", *v.KeepAlive, *base.KeepAlive},
		{"preload", v.Preload, false},
		{"aliases", strings.Join(v.Aliases, ","), "yi-t"},
		{"description", v.Description, "Yi 34B chat, per second"},
		{"stop inherited", strings.Join(v.Stop, ","), "<|im_end|>"},
		{"max_tokens inherited", v.MaxTokens, 512},
		{"system prompt inherited", v.SystemPrompt, "You are Yi."},
		{"temperature own", *v.Sampling.Temperature, 0.9},
		{"top_k inherited", *v.Sampling.TopK, 40},
		{"base temperature untouched", *base.Sampling.Temperature, 0.3},
		{"per_second own", v.Pricing.PerSecond, 0.02},
		{"token price not inherited with an own pricing", v.Pricing.InputPer1K, 0.0},
		{"rate_limit own", v.RateLimit, 10},
		{"tags inherited", strings.Join(v.Tags, ","), "chat"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.what, tt.got, tt.want)
		}
	}
	if cheap, _ := c.Model("yi-34b-cheap"); cheap.Pricing.InputPer1K != 0.01 || cheap.RateLimit != 60 {
		t.Errorf("a variant that sets nothing is not its base's price and limit: %+v", cheap)
	}
}

func TestVariantErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"unknown base", "models_dir: models\nmodels:\n  a: {}\n  v:\n    base: aa\n",
			[]string{":5:5: models.v.base: no model is named \"aa\" (did you mean a?)"}},
		{"variant of a variant", "models_dir: models\nmodels:\n  a: {}\n  v: {base: a}\n  w: {base: v}\n",
			[]string{"models.w.base: v is itself a variant of a: name a as the base"}},
		{"own base", "models_dir: models\nmodels:\n  v: {base: v}\n", []string{"models.v.base: a model cannot be a variant of itself"}},
		{"load settings on a variant", "models_dir: models\nmodels:\n  a: {}\n  v:\n    base: a\n    context: 4096\n    parallel: 2\n    gpu_layers: 0\n    chat_template: tmpl.jinja\n    file: b.gguf\n",
			[]string{
				":6:5: models.v.context: a variant shares the loaded instance of its base and takes context from it: set it on models.a",
				"models.v.parallel", "models.v.gpu_layers", "models.v.chat_template", "models.v.file",
			}},
		{"own settings still checked", "models_dir: models\nmodels:\n  a: {}\n  v:\n    base: a\n    pricing: {per_second: -1}\n",
			[]string{"models.v.pricing.per_second: must be a number from 0 to 1e+06, got -1"}},
		{"one file twice suggests a variant", "models_dir: models\nmodels:\n  a: {}\n  b:\n    file: a.gguf\n",
			[]string{"models.b.file", "already served as models.a", "a variant with base: a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tt.body))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestDefaultPricing: defaults.pricing prices every model that sets no
// pricing of its own, discovered ones included; pricing: {} stays free.
func TestDefaultPricing(t *testing.T) {
	c, err := Load(writeConfig(t, `
models_dir: models
configured_only: true
defaults:
  pricing: {input_per_1k: 1, output_per_1k: 2}
models:
  priced:
    file: a.gguf
  free:
    file: b.gguf
    pricing: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := c.Model("priced"); m.Pricing.OutputPer1K != 2 {
		t.Errorf("model without pricing: %+v", m.Pricing)
	}
	if m, _ := c.Model("free"); !m.Pricing.IsZero() {
		t.Errorf("pricing: {} is not free: %+v", m.Pricing)
	}
	if d := c.DiscoveredModel(filepath.Join(c.ModelsDir, "x.gguf")); d.Pricing.InputPer1K != 1 {
		t.Errorf("discovered model: %+v", d.Pricing)
	}
	if !c.ConfiguredOnly {
		t.Error("configured_only not read")
	}
}

// TestCachedPrice: an unset cached_input_per_1k bills cached tokens as
// input; an explicit 0 makes them free.
func TestCachedPrice(t *testing.T) {
	c, err := Load(writeConfig(t, `
models_dir: models
models:
  unset:
    file: a.gguf
    pricing: {input_per_1k: 0.5}
  zero:
    file: b.gguf
    pricing: {input_per_1k: 0.5, cached_input_per_1k: 0}
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"unset": 0.5, "zero": 0} {
		if m, _ := c.Model(name); m.Pricing.CachedPer1K() != want {
			t.Errorf("%s: cached price %v, want %v", name, m.Pricing.CachedPer1K(), want)
		}
	}
}

// TestVariantSettingsCovered: every model setting is either the loaded
// instance's (refused on a variant) or one a variant may set, so a setting
// added later cannot be silently dropped from variants.
func TestVariantSettingsCovered(t *testing.T) {
	known := map[string]int{"base": 1, "aliases": 1, "sampling": 1}
	for _, k := range instanceSettings {
		known[k]++
	}
	for _, s := range variantSettings {
		known[s.key]++
	}
	for name := range structFields(reflect.TypeOf(Model{})) {
		if known[name] != 1 {
			t.Errorf("models.*.%s is covered %d times by instanceSettings and variantSettings, want once", name, known[name])
		}
		delete(known, name)
	}
	for name := range known {
		t.Errorf("%s is not a model setting", name)
	}
}
