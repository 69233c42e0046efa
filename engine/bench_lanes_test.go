package engine

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ggufd/ggufd/engine/internal/llamacpp"
)

// BenchmarkContentionLanes measures a design the thread tuner does not use,
// so that the reason stays rerunnable on other machines: instead of one
// llama context whose threads wait for each other at every graph node, one
// context ("lane") of one thread per physical core, sharing the model's
// weights, each decoding its share of the sequences. Beside a busy process
// the lanes' threads do not wait for each other, so the kernel's fair share
// can give them more than the one core a single context can use; but each
// lane decodes a smaller batch, and on a CPU a token in a smaller batch
// costs more (the weights are read once per batch). The benchmark reports
// both effects, plain llama.cpp calls without the scheduler:
//
//	GGUFD_BENCH_HOG=1 GGUFD_BENCH_ROUNDS=3 go test -v -run '^$' -bench ContentionLanes -benchtime 1x ./engine/
//
// GGUFD_BENCH_STREAMS sets the sequences (default 8). GGUFD_BENCH_THREADS=n
// adds one context of n threads, for thread counts above the cores and for
// builds with other barriers (docs/benchmarks.md: OpenMP).
func BenchmarkContentionLanes(b *testing.B) {
	_, path, rounds, hogs := contentionSettings(b)
	streams, _ := strconv.Atoi(envOr("GGUFD_BENCH_STREAMS", "8"))
	cores := physicalCores()
	lanes := min(cores, streams)
	lm, err := llamacpp.LoadModel(path, llamacpp.ModelParams{UseMmap: true})
	if err != nil {
		b.Fatal(err)
	}
	defer lm.Free()
	newContext := func(seqs, threads int) *llamacpp.Context {
		lc, err := llamacpp.NewContext(lm, llamacpp.ContextParams{NCtx: 1024 * seqs, NBatch: 512, NUBatch: 512, NSeqMax: seqs, Threads: threads, FlashAttn: -1, Pooling: -1, KVUnified: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(lc.Free)
		return lc
	}
	// The batch curve: tokens per second of one thread by batch size.
	curve := newContext(streams, 1)
	var lines []string
	for _, n := range []int{1, max(streams/lanes, 1), streams} {
		lanesDecode(b, []*llamacpp.Context{curve}, n, false)
		lines = append(lines, fmt.Sprintf("  one thread, batch %2d: %6.1f tok/s (quiet)", n, lanesDecode(b, []*llamacpp.Context{curve}, n, false)))
	}
	var laneCtx []*llamacpp.Context
	for range lanes {
		laneCtx = append(laneCtx, newContext(streams/lanes, 1))
	}
	all := newContext(streams, cores)
	type config struct {
		name string
		run  func() float64
	}
	configs := []config{
		{fmt.Sprintf("one context, %d threads", cores), func() float64 {
			return lanesDecode(b, []*llamacpp.Context{all}, streams, false)
		}},
		{"one context, 1 thread", func() float64 { return lanesDecode(b, []*llamacpp.Context{curve}, streams, false) }},
		{fmt.Sprintf("%d lanes in lockstep", lanes), func() float64 { return lanesDecode(b, laneCtx, streams/lanes, true) }},
		{fmt.Sprintf("%d lanes free-running", lanes), func() float64 { return lanesDecode(b, laneCtx, streams/lanes, false) }},
	}
	if n := benchThreads(); n > 1 && n != cores { // 1 and cores are measured above
		extra := newContext(streams, n)
		configs = append(configs, config{fmt.Sprintf("one context, %d threads", n), func() float64 {
			return lanesDecode(b, []*llamacpp.Context{extra}, streams, false)
		}})
	}
	results := map[string][]float64{}
	for r := 0; r < rounds; r++ {
		for _, busy := range []bool{false, true} {
			var stop func()
			if busy {
				stop = startHogs(b, hogs)
			}
			for j := range configs {
				c := configs[(j+r)%len(configs)]
				c.run() // settle
				k := fmt.Sprintf("%s/%v", c.name, busy)
				results[k] = append(results[k], c.run())
			}
			if stop != nil {
				stop()
			}
		}
	}
	lines = append(lines, fmt.Sprintf("%d sequences, %d busy process(es), medians of %d rounds (tok/s):", streams, hogs, rounds))
	for _, c := range configs {
		q, h := results[c.name+"/false"], results[c.name+"/true"]
		lines = append(lines, fmt.Sprintf("  %-26s quiet %6.1f  busy %6.1f   rounds quiet %.0f busy %.0f", c.name, median(q), median(h), q, h))
	}
	b.Log(strings.Join(lines, "\n"))
}

// lanesDecode decodes benchGenTokens steps of seqs sequences in every
// context at once, each context on its own locked OS thread (as a decode
// loop runs). With lockstep every step waits for all contexts, as one
// scheduler goroutine sampling every lane's tokens would; without, each
// context runs its steps on its own. It returns the tokens per second of all.
func lanesDecode(b *testing.B, contexts []*llamacpp.Context, seqs int, lockstep bool) float64 {
	var stepped sync.WaitGroup // lockstep: the current step's decodes
	next := make([]chan int, len(contexts))
	var done sync.WaitGroup
	for i, lc := range contexts {
		lc.Clear()
		next[i] = make(chan int, benchGenTokens)
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			batch := llamacpp.NewBatch(max(seqs, 1), seqs)
			defer batch.Free()
			for pos := range next[i] {
				batch.Clear()
				for seq := 0; seq < seqs; seq++ {
					batch.Add(int32(100+seq), pos, seq, true)
				}
				if rc := lc.Decode(batch); rc != 0 {
					b.Errorf("llama_decode: %d", rc)
				}
				if lockstep {
					stepped.Done()
				}
			}
		}()
	}
	start := time.Now()
	for pos := 0; pos < benchGenTokens; pos++ {
		if lockstep {
			stepped.Add(len(contexts))
		}
		for _, ch := range next {
			ch <- pos
		}
		if lockstep {
			stepped.Wait()
		}
	}
	for _, ch := range next {
		close(ch)
	}
	done.Wait()
	return float64(benchGenTokens*seqs*len(contexts)) / time.Since(start).Seconds()
}
