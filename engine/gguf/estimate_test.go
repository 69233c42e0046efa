package gguf

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ggufd/ggufd/internal/sharedtest"
)

const mib = 1 << 20

func TestEstimateKVCache(t *testing.T) {
	f, err := Open(sharedtest.Model(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	// stories260K: 5 layers, 4 KV heads of 64/8 = 8 dims: 2 × 5 × 4 × 8 = 320
	// values per cell; llama.cpp reports 1.25 MiB for 2048 f16 cells.
	tests := []struct {
		p    EstimateParams
		want uint64
	}{
		{EstimateParams{ContextLength: 2048}, 1310720},
		{EstimateParams{ContextLength: 2048, KVCacheType: "F16"}, 1310720},
		{EstimateParams{ContextLength: 1024, Parallel: 4}, 2621440},
		{EstimateParams{ContextLength: 2048, KVCacheType: "q8_0"}, 2048 * 320 * 34 / 32},
		{EstimateParams{ContextLength: 2048, KVCacheType: "q4_0"}, 2048 * 320 * 18 / 32},
		{EstimateParams{}, 1310720}, // trained context
	}
	for _, tt := range tests {
		e, err := f.Estimate(tt.p)
		if err != nil {
			t.Fatal(err)
		}
		if e.KVCache != tt.want {
			t.Errorf("Estimate(%+v).KVCache = %d, want %d", tt.p, e.KVCache, tt.want)
		}
		if e.Weights != f.TensorBytes() || e.Total != e.Weights+e.KVCache+e.Compute {
			t.Errorf("Estimate(%+v) = %+v: weights or total inconsistent", tt.p, e)
		}
	}
}

// TestEstimateComputeFigures checks the compute estimate against buffer sizes
// that llama.cpp (the pinned ollama v0.17.4 build, CPU backend) logged for the
// shared models: "CPU compute buffer size" + "CPU output buffer size".
// TestEstimateMatchesLlamaCpp measures them live; this table keeps the check
// when llama.cpp's logs change.
func TestEstimateComputeFigures(t *testing.T) {
	tests := []struct {
		model    string
		p        EstimateParams
		measured float64 // MiB
	}{
		{"stories260K.gguf", EstimateParams{ContextLength: 256, BatchSize: 64}, 0.64},
		{"stories260K.gguf", EstimateParams{ContextLength: 2048, BatchSize: 512}, 36.63},
		{"stories260K.gguf", EstimateParams{ContextLength: 1024, Parallel: 4, BatchSize: 512}, 18.64},
		{"stories260K.gguf", EstimateParams{ContextLength: 2048, BatchSize: 512, FlashAttention: true}, 6.51},
		{"stories260K.gguf", EstimateParams{ContextLength: 4096, Parallel: 2, BatchSize: 128}, 18.16},
		{"llama-2-tiny-random.gguf", EstimateParams{ContextLength: 256, BatchSize: 64}, 7.94},
		{"llama-2-tiny-random.gguf", EstimateParams{ContextLength: 2048, BatchSize: 512}, 62.65},
		{"llama-2-tiny-random.gguf", EstimateParams{ContextLength: 1024, Parallel: 4, BatchSize: 512}, 63.02},
		{"llama-2-tiny-random.gguf", EstimateParams{ContextLength: 4096, Parallel: 2, BatchSize: 128}, 15.87},
	}
	for _, tt := range tests {
		f, err := Open(sharedtest.Model(t, tt.model))
		if err != nil {
			t.Fatal(err)
		}
		e, err := f.Estimate(tt.p)
		if err != nil {
			t.Fatal(err)
		}
		checkCompute(t, tt.model, tt.p, e.Compute, uint64(tt.measured*mib))
	}
}

// checkCompute wants the estimate at or above what llama.cpp allocates (it
// is used to refuse loads that would not fit) but not wastefully so.
func checkCompute(t *testing.T, model string, p EstimateParams, got, measured uint64) {
	t.Helper()
	lo, hi := measured, measured+measured/4+2*mib
	if got < lo || got > hi {
		t.Errorf("%s %+v: compute estimate %.2f MiB, llama.cpp %.2f MiB (want within [%.2f, %.2f])",
			model, p, float64(got)/mib, float64(measured)/mib, float64(lo)/mib, float64(hi)/mib)
	}
}

// TestEstimateLayers checks the split of weights into the layers llama.cpp
// places: each tensor counted once, in the layer its name puts it in, and a
// head tied to the token embeddings counted as a copy only for the output.
func TestEstimateLayers(t *testing.T) {
	f32 := func(name string, dims ...uint64) WriteTensor {
		n := uint64(4)
		for _, d := range dims {
			n *= d
		}
		return WriteTensor{Name: name, Dims: dims, Type: GGMLTypeF32, Fill: zeros(int(n))}
	}
	meta := []KV{
		{"general.architecture", TypeString, "llama"},
		{"llama.block_count", TypeUint32, uint32(2)},
		{"llama.embedding_length", TypeUint32, uint32(8)},
		{"llama.attention.head_count", TypeUint32, uint32(2)},
		{"llama.context_length", TypeUint32, uint32(64)},
	}
	tied := writeFile(t, meta, []WriteTensor{
		f32("token_embd.weight", 8, 16), // 512 bytes
		f32("blk.0.attn_q.weight", 8, 8),
		f32("blk.0.attn_norm.weight", 8),
		f32("blk.1.attn_q.weight", 8, 8),
		f32("blk.1.ffn_up.weight", 8, 4),
		f32("blk.9.attn_q.weight", 8, 8), // beyond block_count: not a layer llama.cpp builds
		f32("rope_freqs.weight", 4),
		f32("output_norm.weight", 8),
	})
	tests := []struct {
		name                  string
		path                  string
		layers                []uint64 // weights per layer
		input, output, tiedTo uint64
	}{
		{"tied head", tied, []uint64{256 + 32, 256 + 128}, 512 + 256 + 16, 32 + 512, 512},
		// The shared models have a head of their own (output.weight).
		{"stories260K", sharedtest.Model(t, "stories260K.gguf"), nil, 131072, 131072 + 256, 0},
		{"llama-2-tiny", sharedtest.Model(t, "llama-2-tiny-random.gguf"), nil, 512000, 512000 + 32, 0},
	}
	for _, tt := range tests {
		f, err := Open(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		e, err := f.Estimate(EstimateParams{ContextLength: 64, Parallel: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Layers) != f.BlockCount() {
			t.Fatalf("%s: %d layers, file has %d", tt.name, len(e.Layers), f.BlockCount())
		}
		var sumW, sumKV uint64
		for i, l := range e.Layers {
			if tt.layers != nil && l.Weights != tt.layers[i] {
				t.Errorf("%s: layer %d weights %d, want %d", tt.name, i, l.Weights, tt.layers[i])
			}
			if l.Weights == 0 || l.KVCache == 0 {
				t.Errorf("%s: layer %d is empty: %+v", tt.name, i, l)
			}
			if i > 0 && tt.layers == nil && l != e.Layers[0] {
				t.Errorf("%s: layer %d %+v differs from layer 0 %+v in a uniform model", tt.name, i, l, e.Layers[0])
			}
			sumW += l.Weights
			sumKV += l.KVCache
		}
		if e.InputWeights != tt.input || e.OutputWeights != tt.output || e.TiedOutput != tt.tiedTo {
			t.Errorf("%s: input %d output %d tied %d, want %d %d %d", tt.name,
				e.InputWeights, e.OutputWeights, e.TiedOutput, tt.input, tt.output, tt.tiedTo)
		}
		if got := e.InputWeights + sumW + e.OutputWeights - e.TiedOutput; got != e.Weights || e.Weights != f.TensorBytes() {
			t.Errorf("%s: layers add up to %d, weights %d, file %d", tt.name, got, e.Weights, f.TensorBytes())
		}
		if sumKV != e.KVCache || e.Compute != e.Graph+e.OutputBuffer || e.HostGraph == 0 || e.HostGraph >= e.Graph {
			t.Errorf("%s: KV %d vs %d, compute %d vs graph %d + output %d, host graph %d", tt.name,
				sumKV, e.KVCache, e.Compute, e.Graph, e.OutputBuffer, e.HostGraph)
		}
	}
}

// writeRaw writes hand-built GGUF bytes to a file in a temporary folder.
func writeRaw(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hostile.gguf")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEstimateHostileMetadata gives Estimate files that open but whose
// metadata claims sizes nothing real has: it must neither allocate for
// them nor let the figures wrap around to something small.
func TestEstimateHostileMetadata(t *testing.T) {
	llama := func(kvs uint64) *raw { return rawFile(0, kvs).kvStr("general.architecture", "llama") }
	// valid uint32 metadata, as llama.cpp reads it
	huge := func(kvs ...[2]any) []byte {
		r := llama(uint64(1 + len(kvs)))
		for _, kv := range kvs {
			r.kvU32(kv[0].(string), kv[1].(uint32))
		}
		return r.pad()
	}
	tests := []struct {
		name   string
		data   []byte
		p      EstimateParams
		layers int   // len(Layers) at most
		err    error // ErrTooLarge: a figure passes 2^63 bytes
	}{
		// One LayerEstimate per claimed layer was allocated and written:
		// block_count 2^20 cost 16 MiB, 0xFFFFFFFF 32 GiB, from 128 bytes
		// (only the small case here: the old code would really allocate).
		{"block_count 2^20, no tensors", llama(2).kvU32("llama.block_count", 1<<20).pad(), EstimateParams{ContextLength: 4096}, 0, nil},
		// The figures wrapped around: 4096 cells × 2^20 KV heads × 2^32
		// dims × 2 bytes = 2^65 bytes of KV cache was estimated at 0.
		{"KV cache 2^65 bytes", huge(
			[2]any{"llama.attention.head_count", uint32(1 << 20)},
			[2]any{"llama.attention.head_count_kv", uint32(1 << 20)},
			[2]any{"llama.attention.key_length", uint32(1 << 31)},
			[2]any{"llama.attention.value_length", uint32(1 << 31)},
		), EstimateParams{ContextLength: 4096}, 0, ErrTooLarge},
		// Attention scores: batch 2^16 × context 2^31 × 2^31 heads × 4 bytes.
		{"attention scores 2^80 bytes", huge(
			[2]any{"llama.attention.head_count", uint32(1 << 31)},
		), EstimateParams{ContextLength: 1 << 31, BatchSize: 1 << 16}, 0, ErrTooLarge},
		// Feed-forward: 3 × batch 2^16 × 2^31 × 4 bytes is 2^49.6: large,
		// but a number, not an overflow.
		{"feed-forward 2^49 bytes", huge(
			[2]any{"llama.feed_forward_length", uint32(1 << 31)},
		), EstimateParams{ContextLength: 1 << 16, BatchSize: 1 << 16}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Open(writeRaw(t, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			e, err := f.Estimate(tt.p)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Estimate(%+v) = %+v, %v; want error %v", tt.p, e, err, tt.err)
			}
			if err != nil {
				if e.Total != 0 {
					t.Errorf("an estimate with an error: %+v", e)
				}
				return
			}
			if e.Total < e.Weights+e.KVCache || e.Total < e.Compute {
				t.Errorf("Total %d is less than its parts: %+v", e.Total, e)
			}
			if len(e.Layers) > tt.layers {
				t.Errorf("%d layers for a file of %d bytes and %d tensors, want at most %d", len(e.Layers), f.Size, len(f.Tensors), tt.layers)
			}
		})
	}
}
