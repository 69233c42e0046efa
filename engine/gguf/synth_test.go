package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/internal/sharedtest"
)

func TestSynthesizeRoundTrip(t *testing.T) {
	donor := sharedtest.Model(t, "llama-2-tiny-random.gguf")
	demo, err := Preset("demo")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		spec   SynthSpec
		vocab  int // 0: the built-in vocabulary's size
		weight GGMLType
	}{
		{"demo", demo, 0, GGMLTypeQ8_0},
		{"donor", SynthSpec{Name: "donor-vocab", Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 128,
			Vocab: VocabSource{DonorPath: donor}, Seed: 7}, 32000, GGMLTypeQ8_0},
		{"f16", SynthSpec{Dim: 32, Layers: 1, Heads: 2, FFN: 48, WeightType: "f16"}, 0, GGMLTypeF16},
		{"f32", SynthSpec{Dim: 32, Layers: 1, Heads: 2, FFN: 48, WeightType: "F32"}, 0, GGMLTypeF32},
	}
	builtin, _, _ := builtinVocab()
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name+".gguf")
			start := time.Now()
			if err := Synthesize(p, tt.spec); err != nil {
				t.Fatal(err)
			}
			t.Logf("synthesized in %v", time.Since(start))
			f, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := tt.spec.withDefaults()
			vocab := tt.vocab
			if vocab == 0 {
				vocab = len(builtin)
			}
			checks := []struct {
				what      string
				got, want any
			}{
				{"architecture", f.Architecture(), "llama"},
				{"name", f.Name(), s.Name},
				{"context length", f.ContextLength(), s.ContextLength},
				{"embedding length", f.EmbeddingLength(), s.Dim},
				{"block count", f.BlockCount(), s.Layers},
				{"head count", f.HeadCount(), s.Heads},
				{"kv head count", f.HeadCountKV(), s.KVHeads},
				{"ffn length", f.FeedForwardLength(), s.FFN},
				{"vocab size", f.VocabSize(), vocab},
				{"tensor count", len(f.Tensors), 3 + 9*s.Layers},
				{"chat template", f.ChatTemplate(), s.ChatTemplate},
				{"weight type", f.Tensors[0].Type, tt.weight},
				{"file size", uint64(f.FileSize()) >= uint64(f.DataOffset)+f.TensorBytes(), true},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
			if d, _ := f.String("general.description"); !strings.Contains(d, "gibberish") {
				t.Errorf("description %q does not warn about gibberish", d)
			}
			if add, ok := f.Bool("tokenizer.ggml.add_bos_token"); tt.vocab == 0 && (!ok || !add) {
				t.Errorf("add_bos_token = %v, %v", add, ok)
			}
			out, ok := f.Tensor("output.weight")
			if !ok || out.Dims[0] != uint64(s.Dim) || out.Dims[1] != uint64(vocab) {
				t.Errorf("output.weight = %+v", out)
			}
			// The same spec gives the same bytes.
			p2 := filepath.Join(dir, tt.name+"-again.gguf")
			if err := Synthesize(p2, tt.spec); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(p)
			b, _ := os.ReadFile(p2)
			if !bytes.Equal(a, b) {
				t.Error("two runs with the same spec differ")
			}
		})
	}
}

func TestSynthesizeDemoIsFast(t *testing.T) {
	spec, err := Preset("demo")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := Synthesize(filepath.Join(t.TempDir(), "demo.gguf"), spec); err != nil {
		t.Fatal(err)
	}
	// The daemon creates the demo at first start; it must not be noticed.
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("demo took %v, want well under a second", d)
	}
}

func TestSynthesizeRejectsBadSpecs(t *testing.T) {
	tests := []struct {
		name string
		spec SynthSpec
		want string
	}{
		{"zero", SynthSpec{}, "must be positive"},
		{"heads", SynthSpec{Dim: 64, Layers: 1, Heads: 3, FFN: 64}, "not a multiple of Heads"},
		{"kv heads", SynthSpec{Dim: 64, Layers: 1, Heads: 4, KVHeads: 3, FFN: 64}, "not a multiple of KVHeads"},
		{"odd head dim", SynthSpec{Dim: 96, Layers: 1, Heads: 32, FFN: 64, WeightType: "f32"}, "even"},
		{"q8_0 blocks", SynthSpec{Dim: 64, Layers: 1, Heads: 4, FFN: 100}, "multiples of 32"},
		{"weight type", SynthSpec{Dim: 64, Layers: 1, Heads: 4, FFN: 64, WeightType: "q4_k"}, "WeightType"},
		{"both vocabs", SynthSpec{Dim: 64, Layers: 1, Heads: 4, FFN: 64, Vocab: VocabSource{DonorPath: "x", Builtin: true}}, "not both"},
		{"missing donor", SynthSpec{Dim: 64, Layers: 1, Heads: 4, FFN: 64, Vocab: VocabSource{DonorPath: "/nonexistent.gguf"}}, "donor"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name+".gguf")
			err := Synthesize(p, tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Synthesize = %v, want an error containing %q", err, tt.want)
			}
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("a failed Synthesize left %s behind", p)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestPresets(t *testing.T) {
	for _, name := range PresetNames() {
		s, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.withDefaults(); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
	if _, err := Preset("7b"); err == nil || !strings.Contains(err.Error(), "tinyllama-1.1b") {
		t.Errorf("Preset(7b) = %v, want an error listing the presets", err)
	}
}

func TestF32ToF16(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {0.5, 0x3800}, {65504, 0x7bff},
		{1e6, 0x7c00}, {1e-9, 0}, {0.0002706, 0x0c6f},
	}
	for _, tt := range tests {
		if got := f32ToF16(tt.in); got != tt.want {
			t.Errorf("f32ToF16(%v) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
}

// BenchmarkSynthesizePreset times the presets with a Llama-2 32k vocabulary,
// as benchmarks use them:
//
//	go test -run '^$' -bench SynthesizePreset -benchtime 1x ./engine/gguf/
func BenchmarkSynthesizePreset(b *testing.B) {
	donor := sharedtest.Model(b, "llama-2-tiny-random.gguf")
	for _, name := range []string{"demo", "110m", "tinyllama-1.1b"} {
		b.Run(name, func(b *testing.B) {
			spec, err := Preset(name)
			if err != nil {
				b.Fatal(err)
			}
			if name != "demo" {
				spec.Vocab = VocabSource{DonorPath: donor}
			}
			p := filepath.Join(b.TempDir(), name+".gguf")
			for b.Loop() {
				if err := Synthesize(p, spec); err != nil {
					b.Fatal(err)
				}
			}
			st, err := os.Stat(p)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
		})
	}
}

// The vision preset writes a projector beside the model, under the name the
// pairing convention finds, with the keys and tensors clip.cpp requires of
// an "mlp" (LLaVA) projector; the engine's vision tests load it.
func TestSynthesizeVisionPreset(t *testing.T) {
	spec, err := Preset("vision-demo")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "eyes.gguf")
	if err := Synthesize(p, spec); err != nil {
		t.Fatal(err)
	}
	proj := ProjectorPath(p)
	if cands := ProjectorCandidates(p); cands[0] != proj {
		t.Fatalf("ProjectorCandidates(%s)[0] = %s, want %s", p, cands[0], proj)
	}
	f, err := Open(proj)
	if err != nil {
		t.Fatal(err)
	}
	model, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if model.ChatTemplate() == "" {
		t.Error("the vision demo model has no chat template")
	}
	ps, _ := spec.Projector.withDefaults()
	checks := []struct {
		what      string
		got, want any
	}{
		{"architecture", f.Architecture(), ProjectorArchitecture},
		{"projector type", str(f, "clip.projector_type"), "mlp"},
		{"projection dim", uintOf(f, "clip.vision.projection_dim"), uint64(model.EmbeddingLength())},
		{"image size", uintOf(f, "clip.vision.image_size"), uint64(ps.ImageSize)},
		{"tensors", len(f.Tensors), 5 + 16*ps.Layers + 4},
		{"patches", ps.Patches(), 16},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if mm2, ok := f.Tensor("mm.2.weight"); !ok || mm2.Dims[1] != uint64(model.EmbeddingLength()) {
		t.Errorf("mm.2.weight = %+v, want an output the size of the model's embeddings", mm2)
	}
	if !IsProjectorName(proj) || IsProjectorName(p) {
		t.Errorf("IsProjectorName: %s %v, %s %v", proj, IsProjectorName(proj), p, IsProjectorName(p))
	}
}

func TestProjectorNames(t *testing.T) {
	for name, want := range map[string]bool{
		"llava.mmproj.gguf": true, "mmproj-llava.gguf": true, "MMPROJ-X.GGUF": true,
		"llava.gguf": false, "mmproj.gguf": false, "mmproj-notes.txt": false, "my-mmproj-model.gguf": false,
	} {
		if got := IsProjectorName(name); got != want {
			t.Errorf("IsProjectorName(%q) = %v, want %v", name, got, want)
		}
	}
	got := ProjectorCandidates(filepath.Join("m", "llava-7b.gguf"))
	want := []string{filepath.Join("m", "llava-7b.mmproj.gguf"), filepath.Join("m", "mmproj-llava-7b.gguf")}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("ProjectorCandidates = %v, want %v", got, want)
	}
}

func str(f *File, key string) string    { s, _ := f.String(key); return s }
func uintOf(f *File, key string) uint64 { u, _ := f.Uint(key); return u }
