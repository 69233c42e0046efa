package gguf

import (
	"bufio"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ollama/ollama/llama"
	"github.com/ollama/ollama/ml"

	// ggml-cpu needs ggml's AMX kernels on AMX hosts built with
	// -march=native; without this the test binary does not link there.
	_ "github.com/ggufd/ggufd/engine/internal/ggmlamx"
	"github.com/ggufd/ggufd/internal/sharedtest"
)

// These tests load files through llama.cpp itself (the ollama binding the
// engine uses): a file that this package reads but llama.cpp rejects, or
// that llama.cpp sizes differently than Estimate, is a bug here.

var backendOnce sync.Once

func loadLlama(t *testing.T, path string) *llama.Model {
	t.Helper()
	backendOnce.Do(llama.BackendInit)
	m, err := llama.LoadModelFromFile(path, llama.ModelParams{UseMmap: true})
	if err != nil {
		t.Fatalf("llama.cpp cannot load %s: %v", path, err)
	}
	t.Cleanup(func() { llama.FreeModel(m) })
	return m
}

func TestSynthesizedModelsRunInLlamaCpp(t *testing.T) {
	demo, err := Preset("demo")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec SynthSpec
	}{
		{"demo", demo},
		{"donor", SynthSpec{Name: "donor-vocab", Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 128,
			Vocab: VocabSource{DonorPath: sharedtest.Model(t, "llama-2-tiny-random.gguf")}}},
		{"f16", SynthSpec{Dim: 64, Layers: 1, Heads: 4, FFN: 96, WeightType: "f16"}},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name+".gguf")
			if err := Synthesize(p, tt.spec); err != nil {
				t.Fatal(err)
			}
			f, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			m := loadLlama(t, p)
			if m.NumVocab() != f.VocabSize() || m.NEmbd() != f.EmbeddingLength() {
				t.Errorf("llama.cpp sees vocab %d, embd %d; file says %d, %d", m.NumVocab(), m.NEmbd(), f.VocabSize(), f.EmbeddingLength())
			}
			if !m.AddBOSToken() {
				t.Error("llama.cpp does not add BOS")
			}
			toks, err := m.Tokenize("Hello world", true, true)
			if err != nil {
				t.Fatal(err)
			}
			var pieces []string
			for _, tok := range toks {
				pieces = append(pieces, m.TokenToPiece(tok))
			}
			t.Logf("tokens %v = %q", toks, pieces)
			if len(toks) < 3 || toks[0] != 1 {
				t.Errorf("Tokenize(Hello world) = %v, want BOS then the text", toks)
			}
			if got := strings.Join(pieces[1:], ""); strings.TrimSpace(got) != "Hello world" {
				t.Errorf("tokens detokenize to %q", got)
			}
			if tt.name == "demo" {
				// "world" is a built-in word: one token, not five letters.
				if len(toks) > 4 {
					t.Errorf("built-in vocabulary split Hello world into %d tokens %q", len(toks), pieces)
				}
				chat, err := m.Tokenize("<|im_start|>user\nhi<|im_end|>", false, true)
				if err != nil {
					t.Fatal(err)
				}
				if len(chat) == 0 || m.TokenToPiece(chat[0]) != "<|im_start|>" || !m.TokenIsEog(chat[len(chat)-1]) {
					t.Errorf("ChatML tokens %v not parsed as control tokens (last must end generation)", chat)
				}
			}

			ctx, err := llama.NewContextWithModel(m, llama.NewContextParams(256, 64, 1, 2, ml.FlashAttentionDisabled, "f16"))
			if err != nil {
				t.Fatal(err)
			}
			batch, err := llama.NewBatch(64, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer batch.Free()
			for i, tok := range toks {
				batch.Add(tok, nil, i, i == len(toks)-1, 0)
			}
			if err := ctx.Decode(batch); err != nil {
				t.Fatal(err)
			}
			logits := ctx.GetLogitsIth(len(toks) - 1)
			if len(logits) != f.VocabSize() {
				t.Fatalf("%d logits, want %d", len(logits), f.VocabSize())
			}
			var spread float64
			for i, l := range logits {
				if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
					t.Fatalf("logit %d is %v", i, l)
				}
				spread = max(spread, math.Abs(float64(l-logits[0])))
			}
			if spread == 0 {
				t.Error("all logits are equal: the weights did not reach the output")
			}
		})
	}
}

// llamaBuffers is what llama.cpp logs about the buffers of a new context.
type llamaBuffers struct{ kv, compute, output float64 } // MiB

var bufferLine = regexp.MustCompile(`CPU\s+(KV|compute|output) buffer size =\s+([0-9.]+) MiB`)

// newContextLogged creates a context and returns the buffer sizes llama.cpp
// logs. The binding logs through os.Stderr (a Go variable), so swapping it
// for a pipe captures the lines; the test must not run in parallel.
func newContextLogged(t *testing.T, m *llama.Model, p EstimateParams) llamaBuffers {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	done := make(chan llamaBuffers)
	go func() {
		var b llamaBuffers
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if mt := bufferLine.FindStringSubmatch(sc.Text()); mt != nil {
				v, _ := strconv.ParseFloat(mt[2], 64)
				switch mt[1] {
				case "KV":
					b.kv = v
				case "compute":
					b.compute = v
				case "output":
					b.output = v
				}
			}
		}
		io.Copy(io.Discard, r)
		done <- b
	}()
	fa := ml.FlashAttentionDisabled
	if p.FlashAttention {
		fa = ml.FlashAttentionEnabled
	}
	// The binding takes the total context and multiplies the batch by the
	// sequences for n_batch; n_ubatch stays p.BatchSize.
	ctx, err := llama.NewContextWithModel(m, llama.NewContextParams(p.ContextLength*p.Parallel, p.BatchSize, p.Parallel, 1, fa, p.KVCacheType))
	os.Stderr = saved
	w.Close()
	b := <-done
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	_ = ctx // the binding has no Free for contexts; it lives until the process ends
	if b.compute == 0 {
		t.Fatal("llama.cpp logged no compute buffer size; has its log format changed?")
	}
	return b
}

// TestEstimateMatchesLlamaCpp compares Estimate with the buffers llama.cpp
// allocates for real models and for synthetic ones in the shape of the
// presets (fewer layers: per-layer buffers are what is being checked).
func TestEstimateMatchesLlamaCpp(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~160 MB of synthetic models")
	}
	dir := t.TempDir()
	donor := sharedtest.Model(t, "llama-2-tiny-random.gguf")
	small, _ := Preset("110m")
	small.Layers, small.Vocab = 2, VocabSource{DonorPath: donor}
	gqa, _ := Preset("tinyllama-1.1b")
	gqa.Layers = 2
	models := map[string]string{
		"stories260K": sharedtest.Model(t, "stories260K.gguf"),
		"llama2-tiny": donor,
		"110m-2l":     filepath.Join(dir, "110m.gguf"),
		"1.1b-2l":     filepath.Join(dir, "1.1b.gguf"),
	}
	for name, spec := range map[string]SynthSpec{"110m-2l": small, "1.1b-2l": gqa} {
		if err := Synthesize(models[name], spec); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		model string
		p     EstimateParams
	}{
		{"stories260K", EstimateParams{ContextLength: 2048, Parallel: 1, BatchSize: 512, KVCacheType: "f16"}},
		{"llama2-tiny", EstimateParams{ContextLength: 1024, Parallel: 4, BatchSize: 512, KVCacheType: "f16"}},
		{"110m-2l", EstimateParams{ContextLength: 2048, Parallel: 1, BatchSize: 512, KVCacheType: "f16"}},
		// llama.cpp quantizes the V cache only with flash attention.
		{"110m-2l", EstimateParams{ContextLength: 4096, Parallel: 2, BatchSize: 256, KVCacheType: "q8_0", FlashAttention: true}},
		{"1.1b-2l", EstimateParams{ContextLength: 2048, Parallel: 1, BatchSize: 512, KVCacheType: "f16"}},
		{"1.1b-2l", EstimateParams{ContextLength: 2048, Parallel: 4, BatchSize: 512, KVCacheType: "q4_0", FlashAttention: true}},
		{"1.1b-2l", EstimateParams{ContextLength: 4096, Parallel: 1, BatchSize: 512, KVCacheType: "f16", FlashAttention: true}},
	}
	for _, tt := range tests {
		f, err := Open(models[tt.model])
		if err != nil {
			t.Fatal(err)
		}
		m := loadLlama(t, models[tt.model])
		b := newContextLogged(t, m, tt.p)
		e, err := f.Estimate(tt.p)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %+v: llama.cpp KV %.2f compute %.2f output %.2f MiB; estimate KV %.2f compute %.2f MiB",
			tt.model, tt.p, b.kv, b.compute, b.output, float64(e.KVCache)/mib, float64(e.Compute)/mib)
		if d := math.Abs(float64(e.KVCache)/mib - b.kv); d > 0.01 {
			t.Errorf("%s %+v: KV estimate %.2f MiB, llama.cpp %.2f MiB", tt.model, tt.p, float64(e.KVCache)/mib, b.kv)
		}
		checkCompute(t, tt.model, tt.p, e.Compute, uint64((b.compute+b.output)*mib))
	}
}
