package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runShares generates one request alone, then 8 at once, on m, and returns
// the alone usage and the batched ones.
func runShares(t *testing.T, m *Model) (Usage, []Usage) {
	t.Helper()
	req := func(i int) GenerateRequest {
		return GenerateRequest{PromptTokens: []int{1, 300 + i, 301, 302, 303}, MaxTokens: 48, IgnoreEOS: true}
	}
	alone := generate(t, m, req(0)).usage
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
	return alone, batched
}

// TestComputeShareAddsUp: per-second billing bills each request its share
// of the decode steps it took part in; with real timing, over all requests
// the shares add up to the model's busy time (the issue asks within 5%; by
// construction it is exact).
func TestComputeShareAddsUp(t *testing.T) {
	m := loadModel(t, "llama-2-tiny-random.gguf", LoadOptions{ContextLength: 256, Parallel: 8})
	if m.Info().WarmupDuration <= 0 {
		t.Error("no warm-up at load")
	}
	if st := m.Stats(); st.Busy != 0 {
		t.Errorf("warm-up counted as busy time: %v", st.Busy)
	}
	alone, batched := runShares(t, m)
	total := alone.ComputeDuration
	for _, u := range batched {
		total += u.ComputeDuration
		if u.ComputeDuration <= 0 || u.CompletionTokens != alone.CompletionTokens {
			t.Fatalf("batched usage %+v, alone %+v", u, alone)
		}
	}
	busy := m.Stats().Busy
	if diff := float64(busy-total) / float64(busy); diff > 0.05 || diff < -0.05 {
		t.Errorf("billed compute %v against busy time %v (%.1f%% apart)", total, busy, diff*100)
	}
	if st := m.Stats(); st.GenTokenCost <= 0 {
		t.Errorf("generation cost per token not measured: %+v", st)
	}
}

// TestComputeShareFair: a request batched with 7 others is billed no more
// than alone. Real step times on a shared 2-core machine swing with other
// processes, so the clock here is one that advances a fixed tick per
// reading: a step then costs the same whatever its size (the cheapest case
// for a single sequence, the dearest for a batch), and each choice's
// sampling costs a tick of its own.
func TestComputeShareFair(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 8})
	var ticks atomic.Int64
	base := time.Unix(0, 0)
	m.computeClock = func() time.Time { return base.Add(time.Duration(ticks.Add(1)) * time.Millisecond) }
	alone, batched := runShares(t, m)
	for _, u := range batched {
		if float64(u.ComputeDuration) > 1.1*float64(alone.ComputeDuration) {
			t.Errorf("batched with 7 others: billed %v, alone %v", u.ComputeDuration, alone.ComputeDuration)
		}
	}
}
