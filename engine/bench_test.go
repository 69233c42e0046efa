package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ggufd/ggufd/engine/gguf"
	"github.com/ggufd/ggufd/engine/internal/llamacpp"
	"github.com/ggufd/ggufd/internal/sharedtest"
)

// BenchmarkEngine compares, in one run and on synthetic models with real
// shapes (random Q8_0 weights, the Llama-2 tokenizer), the engine against a
// plain single-sequence llama.cpp decode loop, and measures batching:
//
//	make bench
//	GGUFD_BENCH_PRESETS=110m GGUFD_BENCH_ROUNDS=5 GGUFD_BENCH_THREADS=1 make bench
//	GGUFD_BENCH_GPU_LAYERS=-1 (layers on the GPU, both sides; default 0)
//
// Rounds interleave the plain loop and the engine so that machine noise
// hits both alike; the figures are medians over rounds.
func BenchmarkEngine(b *testing.B) {
	presets := strings.Split(envOr("GGUFD_BENCH_PRESETS", "110m,tinyllama-1.1b"), ",")
	rounds, _ := strconv.Atoi(envOr("GGUFD_BENCH_ROUNDS", "3"))
	for _, preset := range presets {
		path := synthModel(b, preset)
		b.Run(preset, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchPreset(b, path, max(rounds, 1))
			}
		})
	}
}

// median is the middle of v (the upper one of an even count), 0 for none;
// v is left as it was.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = append([]float64(nil), v...)
	sort.Float64s(v)
	return v[len(v)/2]
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// synthModel writes (once, cached in the temp dir) a synthetic model of a
// preset's shapes with the Llama-2 vocabulary of the shared tiny model.
func synthModel(b *testing.B, preset string) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "ggufd-bench")
	path := filepath.Join(dir, preset+"-llama2vocab-q8_0.gguf")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	spec, err := gguf.Preset(preset)
	if err != nil {
		b.Fatal(err)
	}
	spec.Vocab = gguf.VocabSource{DonorPath: sharedtest.Model(b, "llama-2-tiny-random.gguf")}
	spec.Seed = 1
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := gguf.Synthesize(path, spec); err != nil {
		b.Fatal(err)
	}
	b.Logf("synthesized %s in %v", path, time.Since(start).Round(time.Millisecond))
	return path
}

const (
	benchGenTokens  = 64
	benchPromptText = "Once upon a time, in a small village by the sea, there lived an old fisherman and his wife."
)

type benchRound struct {
	plainTPS, engineTPS float64
	aggTPS              map[int]float64
	ttft                map[int][]time.Duration
	prefillTPS          float64
}

// benchThreads is the thread count GGUFD_BENCH_THREADS forces, 0 when unset.
func benchThreads() int {
	n, err := strconv.Atoi(os.Getenv("GGUFD_BENCH_THREADS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func benchPreset(b *testing.B, path string, rounds int) {
	ctx := context.Background()
	// The engine runs its default (adaptive threads) unless a count is
	// forced; the plain loop runs the physical cores or the forced count.
	threads, engineThreads := physicalCores(), 0
	if n := benchThreads(); n > 0 {
		threads, engineThreads = n, n
	}
	gpuLayers, _ := strconv.Atoi(envOr("GGUFD_BENCH_GPU_LAYERS", "0"))
	plain, err := newPlainLoop(path, threads, gpuLayers)
	if err != nil {
		b.Fatal(err)
	}
	defer plain.close()
	m, err := Load(ctx, path, LoadOptions{ContextLength: 1024, Parallel: 8, Threads: engineThreads, GPULayers: gpuLayers})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	prompt, _ := m.Tokenize(benchPromptText, true, true)
	longPrompt, _ := m.Tokenize(strings.Repeat(benchPromptText+" ", 12), true, true)
	longPrompt = longPrompt[:256]

	var all []benchRound
	for r := 0; r < rounds; r++ {
		br := benchRound{aggTPS: map[int]float64{}, ttft: map[int][]time.Duration{}}
		br.plainTPS = plain.decode(b, prompt, benchGenTokens)
		br.engineTPS = engineSingle(b, m, prompt)
		for _, streams := range []int{1, 4, 8} {
			// Distinct prompts so the prompt cache does not flatter batching.
			br.aggTPS[streams], br.ttft[streams] = engineConcurrent(b, m, prompt, streams, r)
		}
		br.prefillTPS = enginePrefill(b, m, longPrompt, r)
		all = append(all, br)
	}
	med := func(f func(benchRound) float64) float64 {
		v := make([]float64, len(all))
		for i, br := range all {
			v[i] = f(br)
		}
		return median(v)
	}
	plainTPS := med(func(r benchRound) float64 { return r.plainTPS })
	engineTPS := med(func(r benchRound) float64 { return r.engineTPS })
	ratio := med(func(r benchRound) float64 { return r.engineTPS / r.plainTPS })
	b.ReportMetric(plainTPS, "plain_tok/s")
	b.ReportMetric(engineTPS, "engine_tok/s")
	b.ReportMetric(ratio, "engine/plain")
	var lines []string
	lines = append(lines, fmt.Sprintf("single stream decode: plain %.1f tok/s, engine %.1f tok/s, ratio %.3f (median of %d rounds)", plainTPS, engineTPS, ratio, rounds))
	var per []string
	for _, br := range all {
		per = append(per, fmt.Sprintf("%.1f/%.1f", br.engineTPS, br.plainTPS))
	}
	lines = append(lines, "  per round engine/plain tok/s: "+strings.Join(per, ", "))
	for _, s := range []int{1, 4, 8} {
		agg := med(func(r benchRound) float64 { return r.aggTPS[s] })
		var tt []time.Duration
		for _, br := range all {
			tt = append(tt, br.ttft[s]...)
		}
		sort.Slice(tt, func(i, j int) bool { return tt[i] < tt[j] })
		p50, p99 := tt[len(tt)/2], tt[min(len(tt)-1, len(tt)*99/100)]
		b.ReportMetric(agg, fmt.Sprintf("agg%d_tok/s", s))
		b.ReportMetric(float64(p50.Milliseconds()), fmt.Sprintf("ttft%d_p50_ms", s))
		lines = append(lines, fmt.Sprintf("%d streams: aggregate %.1f tok/s, TTFT p50 %v p99 %v", s, agg, p50.Round(time.Millisecond), p99.Round(time.Millisecond)))
	}
	pp := med(func(r benchRound) float64 { return r.prefillTPS })
	b.ReportMetric(pp, "prefill_tok/s")
	lines = append(lines, fmt.Sprintf("prompt processing (256 tokens): %.1f tok/s", pp))
	b.Logf("%s (threads %d, gpu layers %d)\n%s", filepath.Base(path), threads, gpuLayers, strings.Join(lines, "\n"))
}

// engineSingle is single-stream decode speed: tokens after the first over
// the generation time (the first token comes from prompt processing).
func engineSingle(b *testing.B, m *Model, prompt []int) float64 {
	st, err := m.Generate(context.Background(), GenerateRequest{PromptTokens: prompt, MaxTokens: benchGenTokens, IgnoreEOS: true})
	if err != nil {
		b.Fatal(err)
	}
	u := drain(b, st)
	return float64(u.CompletionTokens-1) / u.GenerationDuration.Seconds()
}

func engineConcurrent(b *testing.B, m *Model, prompt []int, streams, round int) (float64, []time.Duration) {
	var wg sync.WaitGroup
	ttft := make([]time.Duration, streams)
	tokens := make([]int, streams)
	start := time.Now()
	for i := 0; i < streams; i++ {
		p := append([]int{prompt[0], 100 + round*8 + i}, prompt[1:]...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			st, err := m.Generate(context.Background(), GenerateRequest{PromptTokens: p, MaxTokens: benchGenTokens, IgnoreEOS: true})
			if err != nil {
				b.Error(err)
				return
			}
			first := true
			for {
				ev, ok := st.Next()
				if !ok {
					return
				}
				if first && (ev.Text != "" || ev.FinishReason != "") {
					ttft[i] = time.Since(t0)
					first = false
				}
				if ev.Done {
					tokens[i] = ev.Usage.CompletionTokens
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range tokens {
		total += n
	}
	return float64(total) / time.Since(start).Seconds(), ttft
}

func enginePrefill(b *testing.B, m *Model, prompt []int, round int) float64 {
	p := append([]int{prompt[0], 200 + round}, prompt[1:]...)
	st, err := m.Generate(context.Background(), GenerateRequest{PromptTokens: p, MaxTokens: 1})
	if err != nil {
		b.Fatal(err)
	}
	u := drain(b, st)
	return float64(u.PromptTokens-u.CachedTokens) / u.PromptDuration.Seconds()
}

func drain(b *testing.B, st *Stream) Usage {
	for {
		ev, ok := st.Next()
		if !ok {
			b.Fatal("stream ended without usage")
		}
		if ev.Done {
			if ev.Err != nil {
				b.Fatal(ev.Err)
			}
			return ev.Usage
		}
	}
}

// plainLoop is the baseline: what a minimal llama.cpp program does, one
// sequence, llama_decode then a greedy llama_sampler per token.
type plainLoop struct {
	lm *llamacpp.Model
	lc *llamacpp.Context
}

func newPlainLoop(path string, threads, gpuLayers int) (*plainLoop, error) {
	lm, err := llamacpp.LoadModel(path, llamacpp.ModelParams{UseMmap: true, GPULayers: gpuLayers})
	if err != nil {
		return nil, err
	}
	lc, err := llamacpp.NewContext(lm, llamacpp.ContextParams{NCtx: 1024, NBatch: 512, NUBatch: 512, NSeqMax: 1, Threads: threads, FlashAttn: -1, Pooling: -1})
	if err != nil {
		lm.Free()
		return nil, err
	}
	return &plainLoop{lm: lm, lc: lc}, nil
}

func (p *plainLoop) close() { p.lc.Free(); p.lm.Free() }

func (p *plainLoop) decode(b *testing.B, prompt []int, n int) float64 {
	p.lc.Clear()
	smpl, err := llamacpp.NewSampler(p.lm, llamacpp.SamplerParams{})
	if err != nil {
		b.Fatal(err)
	}
	defer smpl.Free()
	batch := llamacpp.NewBatch(512, 1)
	defer batch.Free()
	for i, t := range prompt {
		batch.Add(int32(t), i, 0, i == len(prompt)-1)
	}
	if rc := p.lc.Decode(batch); rc != 0 {
		b.Fatalf("decode: %d", rc)
	}
	tok, _ := smpl.Sample(p.lc, batch.Len()-1)
	start := time.Now()
	for i := 1; i < n; i++ {
		batch.Clear()
		batch.Add(tok, len(prompt)+i-1, 0, true)
		if rc := p.lc.Decode(batch); rc != 0 {
			b.Fatalf("decode: %d", rc)
		}
		tok, _ = smpl.Sample(p.lc, 0)
	}
	return float64(n-1) / time.Since(start).Seconds()
}
