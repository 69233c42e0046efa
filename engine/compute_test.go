package engine

import (
	"context"
	"sync"
	"testing"
)

// TestComputeShare: per-second billing bills each request its share of the
// decode steps it took part in. Over all requests the shares add up to the
// model's busy time (within 5%), and a request batched with 7 others is
// billed no more than alone (within 10%).
func TestComputeShare(t *testing.T) {
	m := loadModel(t, "llama-2-tiny-random.gguf", LoadOptions{ContextLength: 256, Parallel: 8})
	if m.Info().WarmupDuration <= 0 {
		t.Error("no warm-up at load")
	}
	if st := m.Stats(); st.Busy != 0 {
		t.Errorf("warm-up counted as busy time: %v", st.Busy)
	}
	req := func(i int) GenerateRequest {
		return GenerateRequest{PromptTokens: []int{1, 300 + i, 301, 302, 303}, MaxTokens: 48, IgnoreEOS: true}
	}
	alone := generate(t, m, req(0)).usage
	if alone.ComputeDuration <= 0 {
		t.Fatalf("no compute billed: %+v", alone)
	}

	var mu sync.Mutex
	var batched []Usage
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := m.Generate(context.Background(), req(10+i))
			if err != nil {
				t.Error(err)
				return
			}
			u := collect(t, st, 1).usage
			mu.Lock()
			batched = append(batched, u)
			mu.Unlock()
		}()
	}
	wg.Wait()
	total := alone.ComputeDuration
	for _, u := range batched {
		total += u.ComputeDuration
		if u.CompletionTokens != alone.CompletionTokens {
			t.Fatalf("batched request generated %d tokens, alone %d", u.CompletionTokens, alone.CompletionTokens)
		}
		if float64(u.ComputeDuration) > 1.1*float64(alone.ComputeDuration) {
			t.Errorf("batched with 7 others: billed %v, alone %v", u.ComputeDuration, alone.ComputeDuration)
		}
	}
	busy := m.Stats().Busy
	if diff := float64(busy-total) / float64(busy); diff > 0.05 || diff < -0.05 {
		t.Errorf("billed compute %v against busy time %v (%.1f%% apart)", total, busy, diff*100)
	}
	st := m.Stats()
	if st.GenTokenCost <= 0 {
		t.Errorf("generation cost per token not measured: %+v", st)
	}
}
