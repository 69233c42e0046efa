package gguf

import "testing"

const mib = 1 << 20

func TestEstimateKVCache(t *testing.T) {
	f, err := Open(sharedModel(t, "stories260K.gguf"))
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
		e := f.Estimate(tt.p)
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
		f, err := Open(sharedModel(t, tt.model))
		if err != nil {
			t.Fatal(err)
		}
		checkCompute(t, tt.model, tt.p, f.Estimate(tt.p).Compute, uint64(tt.measured*mib))
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
