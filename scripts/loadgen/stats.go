package main

import (
	"math"
	"runtime"
	"sort"
	"time"
)

// result is what one request measured, from the client's side.
type result struct {
	start time.Time
	// ttft is the time from sending the request to the first chunk that
	// carried generated text; zero if none arrived.
	ttft time.Duration
	// total is the time from sending the request to the end of the stream.
	total time.Duration
	// tokens is the generated-token count the server reported (usage or
	// eval_count); chunks is the number of text-bearing chunks received, a
	// cross-check since both servers send about one chunk per token.
	tokens, promptTokens, chunks int
	// serverGen is the server's own generation time when it reports one
	// (Ollama's eval_duration); zero otherwise.
	serverGen time.Duration
	err       error
}

// streamRate is the decode rate one client saw: tokens after the first
// over the time after the first, so that prompt processing and queueing
// (both in TTFT) do not dilute it. Zero when it cannot be computed.
func (r result) streamRate() float64 {
	gen := r.total - r.ttft
	if r.err != nil || r.tokens < 2 || r.ttft <= 0 || gen <= 0 {
		return 0
	}
	return float64(r.tokens-1) / gen.Seconds()
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted values: the smallest value with at least p% of values at or below
// it. Nearest rank rather than interpolation, so p99 of a few dozen
// samples is an observed value (the worst one) rather than a blend.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Distribution summarises a sample.
type Distribution struct {
	N    int     `json:"n"`
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func distribution(values []float64) Distribution {
	if len(values) == 0 {
		return Distribution{}
	}
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return Distribution{
		N: len(s), Min: s[0], Max: s[len(s)-1], Mean: sum / float64(len(s)),
		P50: percentile(s, 50), P90: percentile(s, 90), P99: percentile(s, 99),
	}
}

// Report is the JSON the load generator prints.
type Report struct {
	// Label and Round name the run for -summarize (e.g. "ggufd", 2).
	Label       string `json:"label,omitempty"`
	Round       int    `json:"round,omitempty"`
	API         string `json:"api"`
	URL         string `json:"url"`
	Model       string `json:"model"`
	Concurrency int    `json:"concurrency"`
	Requests    int    `json:"requests"`
	MaxTokens   int    `json:"max_tokens"`
	Errors      int    `json:"errors"`
	FirstError  string `json:"first_error,omitempty"`
	// Short counts requests that generated fewer than max_tokens (an EOS
	// or stop), which would make the two servers' workloads differ.
	Short int `json:"short"`
	// WallSeconds runs from the first request sent to the last stream
	// ended; AggTokPerSec is all generated tokens over it.
	WallSeconds      float64 `json:"wall_s"`
	CompletionTokens int     `json:"completion_tokens"`
	PromptTokens     int     `json:"prompt_tokens"`
	Chunks           int     `json:"chunks"`
	AggTokPerSec     float64 `json:"agg_tok_s"`
	// TTFTms is time to first generated text, in milliseconds.
	TTFTms Distribution `json:"ttft_ms"`
	// StreamTokPerSec is each request's decode rate after its first token.
	StreamTokPerSec Distribution `json:"stream_tok_s"`
	// ServerGenTokPerSec is each request's rate by the server's own
	// generation clock, where the API reports one (Ollama's eval_duration).
	ServerGenTokPerSec *Distribution `json:"server_gen_tok_s,omitempty"`
	// With -cpu-pgid: the server's CPU seconds during the run, per
	// generated token, and the share of the machine's CPU capacity that
	// other processes (neither the server nor loadgen) used meanwhile,
	// the measure of how noisy the run was.
	ServerCPUSeconds float64  `json:"server_cpu_s,omitempty"`
	CPUmsPerToken    float64  `json:"server_cpu_ms_per_token,omitempty"`
	OtherCPUShare    *float64 `json:"other_cpu_share,omitempty"`
}

// addCPU fills the CPU figures from samples taken around the run.
func (rep *Report) addCPU(before, after cpuSample) {
	if before.server < 0 || after.server < 0 {
		return
	}
	rep.ServerCPUSeconds = after.server - before.server
	if rep.CompletionTokens > 0 {
		rep.CPUmsPerToken = 1000 * rep.ServerCPUSeconds / float64(rep.CompletionTokens)
	}
	if before.machine < 0 || before.self < 0 || rep.WallSeconds <= 0 {
		return
	}
	other := (after.machine - before.machine) - rep.ServerCPUSeconds - (after.self - before.self)
	share := max(other, 0) / (rep.WallSeconds * float64(runtime.NumCPU()))
	rep.OtherCPUShare = &share
}

// aggregate builds the report over the successful requests; wall time is
// taken over every request, failed ones included, since they held a client.
func aggregate(results []result, maxTokens int) Report {
	var rep Report
	var first, last time.Time
	var ttft, rate, server []float64
	for _, r := range results {
		if r.start.IsZero() {
			// Failed before it was sent: it took no server time.
			rep.Errors++
			if rep.FirstError == "" && r.err != nil {
				rep.FirstError = r.err.Error()
			}
			continue
		}
		if first.IsZero() || r.start.Before(first) {
			first = r.start
		}
		if end := r.start.Add(r.total); end.After(last) {
			last = end
		}
		if r.err != nil {
			if rep.Errors == 0 {
				rep.FirstError = r.err.Error()
			}
			rep.Errors++
			continue
		}
		rep.CompletionTokens += r.tokens
		rep.PromptTokens += r.promptTokens
		rep.Chunks += r.chunks
		if r.tokens < maxTokens {
			rep.Short++
		}
		if r.ttft > 0 {
			ttft = append(ttft, float64(r.ttft)/float64(time.Millisecond))
		}
		if v := r.streamRate(); v > 0 {
			rate = append(rate, v)
		}
		if r.serverGen > 0 && r.tokens > 1 {
			server = append(server, float64(r.tokens-1)/r.serverGen.Seconds())
		}
	}
	rep.Requests = len(results)
	rep.MaxTokens = maxTokens
	if wall := last.Sub(first); wall > 0 {
		rep.WallSeconds = wall.Seconds()
		rep.AggTokPerSec = float64(rep.CompletionTokens) / wall.Seconds()
	}
	rep.TTFTms = distribution(ttft)
	rep.StreamTokPerSec = distribution(rate)
	if len(server) > 0 {
		d := distribution(server)
		rep.ServerGenTokPerSec = &d
	}
	return rep
}
