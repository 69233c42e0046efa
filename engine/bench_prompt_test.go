package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkPromptProcessing measures prompt processing alone: a 512-token
// prompt (one full batch) through the engine, nothing cached, one token
// generated. It is the figure that CPU matrix kernels move most (AMX on
// Sapphire Rapids, AVX-512 VNNI), so it is how to compare two builds:
//
//	GGUFD_BENCH_PRESETS=tinyllama-1.1b GGUFD_BENCH_ROUNDS=5 \
//	  go test -run '^$' -bench PromptProcessing -benchtime 1x ./engine/
//
// ggml's AMX kernels take a weight only when its input dimension is a
// multiple of 2048 (amx.cpp, supports_op): in the 110m preset (768 wide)
// only ffn_down qualifies; in tinyllama-1.1b (2048 wide) every attention
// and gate/up matrix does, as in Llama-2/3 7B–70B.
func BenchmarkPromptProcessing(b *testing.B) {
	presets := strings.Split(envOr("GGUFD_BENCH_PRESETS", "110m,tinyllama-1.1b"), ",")
	rounds, _ := strconv.Atoi(envOr("GGUFD_BENCH_ROUNDS", "5"))
	const promptLen = 512
	for _, preset := range presets {
		path := synthModel(b, preset)
		b.Run(preset, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				// 0 is the engine's default
				m, err := Load(context.Background(), path, LoadOptions{ContextLength: promptLen + 64, Parallel: 1, Threads: benchThreads(), BatchSize: promptLen})
				if err != nil {
					b.Fatal(err)
				}
				text := strings.Repeat(benchPromptText+" ", promptLen/16)
				prompt, _ := m.Tokenize(text, true, true)
				if len(prompt) < promptLen {
					b.Fatalf("prompt has %d tokens, want %d", len(prompt), promptLen)
				}
				prompt = prompt[:promptLen]
				var tps []float64
				for r := 0; r < max(rounds, 1); r++ {
					// A different second token each round: no cache reuse.
					p := append([]int{prompt[0], 300 + r}, prompt[2:]...)
					st, err := m.Generate(context.Background(), GenerateRequest{PromptTokens: p, MaxTokens: 1})
					if err != nil {
						b.Fatal(err)
					}
					u := drain(b, st)
					if u.CachedTokens > 1 {
						b.Fatalf("round %d reused %d cached tokens", r, u.CachedTokens)
					}
					tps = append(tps, float64(u.PromptTokens-u.CachedTokens)/u.PromptDuration.Seconds())
				}
				m.Close()
				per := make([]string, len(tps))
				for j, v := range tps {
					per[j] = fmt.Sprintf("%.1f", v)
				}
				med := median(tps)
				b.ReportMetric(med, "prompt_tok/s")
				b.Logf("%s: prompt processing (%d tokens): median %.1f tok/s over %d rounds (%s); %s",
					filepath.Base(path), promptLen, med, len(tps), strings.Join(per, ", "), time.Now().Format(time.TimeOnly))
			}
		})
	}
}
