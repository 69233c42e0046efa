package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// side is one server's figures at one concurrency: medians over rounds.
type side struct {
	runs                       int
	aggTokS, streamTokS        float64
	ttftP50, ttftP99           float64
	errors, short, requests    int
	promptTokensPerRequest     float64
	completionTokensPerRequest float64
	// cpuMsPerToken and otherShare are medians over the runs that
	// measured them (-cpu-pgid); cpuRuns counts those.
	cpuMsPerToken, otherShare float64
	cpuRuns                   int
}

// row compares the subject with the base at one concurrency.
type row struct {
	concurrency int
	subject     side
	base        side
	// ratio is the median over rounds of the subject's aggregate tok/s
	// over the base's in the same round: rounds interleave the two, so a
	// noisy stretch of the machine hits both sides of a pair.
	ratio      float64
	pairedRuns int
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func summarizeSide(reps []Report) side {
	var s side
	var agg, stream, p50, p99, prompt, completion, cpu, other []float64
	for _, r := range reps {
		if r.CPUmsPerToken > 0 && r.OtherCPUShare != nil {
			cpu = append(cpu, r.CPUmsPerToken)
			other = append(other, *r.OtherCPUShare)
		}
		s.runs++
		s.errors += r.Errors
		s.short += r.Short
		s.requests += r.Requests
		agg = append(agg, r.AggTokPerSec)
		stream = append(stream, r.StreamTokPerSec.P50)
		p50 = append(p50, r.TTFTms.P50)
		p99 = append(p99, r.TTFTms.P99)
		if ok := r.Requests - r.Errors; ok > 0 {
			prompt = append(prompt, float64(r.PromptTokens)/float64(ok))
			completion = append(completion, float64(r.CompletionTokens)/float64(ok))
		}
	}
	s.aggTokS, s.streamTokS = median(agg), median(stream)
	s.ttftP50, s.ttftP99 = median(p50), median(p99)
	s.promptTokensPerRequest, s.completionTokensPerRequest = median(prompt), median(completion)
	s.cpuMsPerToken, s.otherShare, s.cpuRuns = median(cpu), median(other), len(cpu)
	return s
}

// summarize groups reports by concurrency and compares subject with base.
func summarize(reports []Report, subject, base string) []row {
	type key struct {
		label string
		conc  int
	}
	by := map[key][]Report{}
	round := map[key]map[int]Report{}
	concs := map[int]bool{}
	for _, r := range reports {
		k := key{r.Label, r.Concurrency}
		by[k] = append(by[k], r)
		if round[k] == nil {
			round[k] = map[int]Report{}
		}
		round[k][r.Round] = r
		concs[r.Concurrency] = true
	}
	var rows []row
	for c := range concs {
		rw := row{concurrency: c,
			subject: summarizeSide(by[key{subject, c}]),
			base:    summarizeSide(by[key{base, c}])}
		var ratios []float64
		for n, s := range round[key{subject, c}] {
			if b, ok := round[key{base, c}][n]; ok && b.AggTokPerSec > 0 {
				ratios = append(ratios, s.AggTokPerSec/b.AggTokPerSec)
			}
		}
		rw.ratio, rw.pairedRuns = median(ratios), len(ratios)
		rows = append(rows, rw)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].concurrency < rows[j].concurrency })
	return rows
}

func readReports(dir string) ([]Report, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var reps []Report
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var r Report
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		reps = append(reps, r)
	}
	if len(reps) == 0 {
		return nil, fmt.Errorf("no *.json reports in %s", dir)
	}
	return reps, nil
}

// printSummary prints the comparison as a Markdown table, then the
// single-stream HTTP overhead when the engine's own figure is given.
func printSummary(w io.Writer, dir, subject, base string, engineRate float64) error {
	reports, err := readReports(dir)
	if err != nil {
		return err
	}
	rows := summarize(reports, subject, base)
	num := func(v float64, runs int) string {
		if runs == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f", v)
	}
	ms := func(s side) string {
		if s.runs == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f / %.0f", s.ttftP50, s.ttftP99)
	}
	cpu := func(s side) string {
		if s.cpuRuns == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f", s.cpuMsPerToken)
	}
	other := func(s side) string {
		if s.cpuRuns == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f%%", 100*s.otherShare)
	}
	fmt.Fprintf(w, "| streams | %[1]s tok/s | %[2]s tok/s | %[1]s/%[2]s | %[1]s TTFT p50 / p99 ms | %[2]s TTFT p50 / p99 ms | per-stream tok/s %[1]s / %[2]s | server CPU ms/token %[1]s / %[2]s | other load %[1]s / %[2]s |\n", subject, base)
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var notes []string
	for _, r := range rows {
		ratio := "–"
		if r.pairedRuns > 0 {
			ratio = fmt.Sprintf("%.2f×", r.ratio)
		}
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s |\n", r.concurrency,
			num(r.subject.aggTokS, r.subject.runs), num(r.base.aggTokS, r.base.runs), ratio,
			ms(r.subject), ms(r.base), num(r.subject.streamTokS, r.subject.runs), num(r.base.streamTokS, r.base.runs),
			cpu(r.subject), cpu(r.base), other(r.subject), other(r.base))
		for _, s := range []struct {
			name string
			side
		}{{subject, r.subject}, {base, r.base}} {
			if s.errors > 0 || s.short > 0 {
				notes = append(notes, fmt.Sprintf("%s at %d streams: %d failed and %d short of %d requests", s.name, r.concurrency, s.errors, s.short, s.requests))
			}
		}
	}
	runs := 0
	for _, r := range rows {
		runs = max(runs, r.pairedRuns)
	}
	fmt.Fprintf(w, "\nMedians over %d interleaved rounds; ratio is the median of per-round ratios of aggregate tok/s. "+
		"Server CPU ms/token: CPU time of the server's processes per generated token. "+
		"Other load: share of the machine's CPU used by other processes during the runs.\n", runs)
	for _, r := range rows {
		if r.subject.runs > 0 && r.base.runs > 0 {
			fmt.Fprintf(w, "Tokens per request at %d streams: %s %.0f prompt + %.0f generated, %s %.0f + %.0f.\n", r.concurrency,
				subject, r.subject.promptTokensPerRequest, r.subject.completionTokensPerRequest,
				base, r.base.promptTokensPerRequest, r.base.completionTokensPerRequest)
			break
		}
	}
	for _, n := range notes {
		fmt.Fprintf(w, "Warning: %s.\n", n)
	}
	if engineRate > 0 {
		for _, r := range rows {
			if r.concurrency == 1 && r.subject.runs > 0 {
				fmt.Fprintf(w, "Single stream: %s over HTTP %.1f tok/s per stream vs the engine in process %.1f tok/s: HTTP costs %.1f%%.\n",
					subject, r.subject.streamTokS, engineRate, 100*(1-r.subject.streamTokS/engineRate))
			}
		}
	}
	return nil
}
