package engine

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// BenchmarkContention measures how decode speed holds up when other
// processes want the cores: the engine's default (adaptive threads) against
// fixed counts, each quiet and beside GGUFD_BENCH_HOG busy-loop processes,
// in interleaved rounds:
//
//	GGUFD_BENCH_HOG=1 GGUFD_BENCH_ROUNDS=5 go test -v -run '^$' -bench Contention -benchtime 1x ./engine/
//
// Each configuration keeps one loaded model for the whole run, so the
// adaptive one lives through every quiet→busy→quiet change as a server
// would; each phase starts with a short settling run, so the figures are
// steady state. The serving comparison with Ollama is scripts/bench-serve
// HOG=N.
func BenchmarkContention(b *testing.B) {
	preset := envOr("GGUFD_BENCH_PRESETS", "110m")
	rounds, _ := strconv.Atoi(envOr("GGUFD_BENCH_ROUNDS", "3"))
	hogs, _ := strconv.Atoi(envOr("GGUFD_BENCH_HOG", "1"))
	path := synthModel(b, strings.Split(preset, ",")[0])
	cores := physicalCores()
	configs := []struct {
		name    string
		threads int
	}{{"adaptive", 0}, {fmt.Sprintf("fixed-%d", cores), cores}, {"fixed-1", 1}}
	models := make([]*Model, len(configs))
	for i, c := range configs {
		m, err := Load(context.Background(), path, LoadOptions{ContextLength: 1024, Parallel: 8, Threads: c.threads})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		models[i] = m
	}
	prompt, _ := models[0].Tokenize(benchPromptText, true, true)
	type key struct {
		config, streams int
		busy            bool
	}
	results := map[key][]float64{}
	fewer := map[key][]float64{} // share of the measured steps on fewer threads than the maximum
	for i := 0; i < b.N; i++ {
		for r := 0; r < max(rounds, 1); r++ {
			for _, busy := range []bool{false, true} {
				var stop func()
				if busy {
					stop = startHogs(b, hogs)
				}
				for j := range models {
					// Each round starts the phase with another
					// configuration: on the shared VM whichever ran first
					// after the busy process left measured up to 10%
					// slower or faster than the next, an order effect
					// that a fixed order charges to one configuration.
					ci := (j + r) % len(models)
					m := models[ci]
					// Settle first: the figures are the steady state beside
					// (or without) the busy process, as a server sees it;
					// how fast the tuner reacts is TestThreadTuner's.
					engineConcurrent(b, m, prompt, 8, 1000+r*10+ci)
					for _, streams := range []int{1, 8} {
						var tps float64
						before := m.Stats()
						if streams == 1 {
							tps = engineSingle(b, m, prompt)
						} else {
							tps, _ = engineConcurrent(b, m, prompt, streams, r*10+ci)
						}
						k := key{ci, streams, busy}
						results[k] = append(results[k], tps)
						after := m.Stats()
						if steps := after.DecodeSteps - before.DecodeSteps; steps > 0 {
							fewer[k] = append(fewer[k], float64(after.FewerThreadSteps-before.FewerThreadSteps)/float64(steps))
						}
					}
				}
				if stop != nil {
					stop()
				}
			}
		}
	}
	med := func(v []float64) float64 {
		v = append([]float64(nil), v...)
		sort.Float64s(v)
		return v[len(v)/2]
	}
	lines := []string{fmt.Sprintf("%s, %d busy process(es), medians of %d rounds (tok/s; busy/quiet):", preset, hogs, rounds)}
	for ci, c := range configs {
		for _, streams := range []int{1, 8} {
			q, h := med(results[key{ci, streams, false}]), med(results[key{ci, streams, true}])
			lines = append(lines, fmt.Sprintf("  %-9s %d stream(s): quiet %6.1f  busy %6.1f  (%.2f)   rounds quiet %.0f busy %.0f", c.name, streams, q, h, h/q,
				results[key{ci, streams, false}], results[key{ci, streams, true}]))
			if ci == 0 {
				b.ReportMetric(h/q, fmt.Sprintf("adaptive_busy/quiet_%d", streams))
				// Quiet loss, paired by round: adaptive against the
				// physical-core count measured minutes apart in the same
				// phase, which cancels most of the host's drift.
				var paired []float64
				for r, a := range results[key{0, streams, false}] {
					paired = append(paired, a/results[key{1, streams, false}][r])
				}
				lines = append(lines, fmt.Sprintf("  %-9s %d stream(s): quiet against %s: %.2f (median of the rounds' ratios %.2f)", "", streams,
					configs[1].name, med(paired), paired))
				lines = append(lines, fmt.Sprintf("  %-9s %d stream(s): steps on fewer threads: quiet %.2f busy %.2f (medians; rounds %.2f %.2f)", "", streams,
					med(fewer[key{ci, streams, false}]), med(fewer[key{ci, streams, true}]), fewer[key{ci, streams, false}], fewer[key{ci, streams, true}]))
			}
		}
		st := models[ci].Stats()
		lines = append(lines, fmt.Sprintf("  %-9s last step on %d of %d threads: %s", c.name, st.Threads, st.MaxThreads, st.ThreadsReason))
	}
	b.Log(strings.Join(lines, "\n"))
}

// startHogs starts n busy-loop processes (another user of the machine) and
// returns a function that stops them.
func startHogs(b *testing.B, n int) func() {
	var cmds []*exec.Cmd
	for range n {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	return func() {
		for _, c := range cmds {
			_ = c.Process.Signal(syscall.SIGKILL)
			_ = c.Wait()
		}
	}
}
