package main

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct{ p, want float64 }{
		{50, 5}, {90, 9}, {99, 10}, {100, 10}, {1, 1}, {0, 1}, {10, 1}, {11, 2},
	} {
		if got := percentile(s, c.p); got != c.want {
			t.Errorf("p%g = %g, want %g", c.p, got, c.want)
		}
	}
	if got := percentile([]float64{7}, 99); got != 7 {
		t.Errorf("p99 of one value = %g", got)
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("percentile of nothing should be NaN")
	}
}

func TestDistributionUnsorted(t *testing.T) {
	in := []float64{30, 10, 20}
	d := distribution(in)
	if d.N != 3 || d.Min != 10 || d.Max != 30 || d.P50 != 20 || d.Mean != 20 || d.P99 != 30 {
		t.Errorf("%+v", d)
	}
	if in[0] != 30 {
		t.Error("distribution sorted its input in place")
	}
}

func TestAggregate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := time.Millisecond
	results := []result{
		// 11 tokens, first at 100 ms, last at 1100 ms: 10 tokens/s after the first.
		{start: t0, ttft: 100 * ms, total: 1100 * ms, tokens: 11, chunks: 11, promptTokens: 5},
		{start: t0.Add(500 * ms), ttft: 300 * ms, total: 1500 * ms, tokens: 7, chunks: 7, promptTokens: 5,
			serverGen: 600 * ms},
		{start: t0.Add(200 * ms), total: 50 * ms, err: errors.New("HTTP 503")},
		{err: errors.New("never sent")},
	}
	rep := aggregate(results, 11)
	if rep.Errors != 2 || rep.FirstError != "HTTP 503" {
		t.Errorf("errors %d %q", rep.Errors, rep.FirstError)
	}
	// Wall time runs from t0 to the second request's end at 2 s.
	if rep.WallSeconds != 2 || rep.CompletionTokens != 18 || rep.AggTokPerSec != 9 {
		t.Errorf("wall %g tokens %d agg %g", rep.WallSeconds, rep.CompletionTokens, rep.AggTokPerSec)
	}
	if rep.Short != 1 || rep.PromptTokens != 10 || rep.Chunks != 18 {
		t.Errorf("short %d prompt %d chunks %d", rep.Short, rep.PromptTokens, rep.Chunks)
	}
	if rep.TTFTms.N != 2 || rep.TTFTms.P50 != 100 || rep.TTFTms.P99 != 300 {
		t.Errorf("ttft %+v", rep.TTFTms)
	}
	if rep.StreamTokPerSec.Min != 5 || rep.StreamTokPerSec.Max != 10 {
		t.Errorf("stream rate %+v", rep.StreamTokPerSec)
	}
	if rep.ServerGenTokPerSec == nil || rep.ServerGenTokPerSec.N != 1 || rep.ServerGenTokPerSec.P50 != 10 {
		t.Errorf("server rate %+v", rep.ServerGenTokPerSec)
	}
}

func TestStreamRateGuards(t *testing.T) {
	for _, r := range []result{
		{tokens: 1, ttft: time.Second, total: 2 * time.Second},
		{tokens: 5, total: 2 * time.Second},
		{tokens: 5, ttft: time.Second, total: time.Second},
		{tokens: 5, ttft: time.Second, total: 2 * time.Second, err: errors.New("x")},
	} {
		if v := r.streamRate(); v != 0 {
			t.Errorf("%+v: rate %g, want 0", r, v)
		}
	}
}

func TestDoRequestParsesStreams(t *testing.T) {
	bodies := map[string]string{
		"/v1/completions": "data: {\"choices\":[{\"text\":\"\"}],\"usage\":{}}\n\n" +
			"data: {\"choices\":[{\"text\":\"Hi\"}]}\n\n" +
			"data: {\"choices\":[{\"text\":\" there\"}]}\n\n" +
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}\n\n" +
			"data: [DONE]\n\n",
		"/v1/chat/completions": "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n" +
			"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n" +
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1}}\n\n" +
			"data: [DONE]\n\n",
		"/api/generate": "{\"response\":\"Hi\",\"done\":false}\n" +
			"{\"response\":\"\",\"done\":true,\"eval_count\":3,\"eval_duration\":200000000,\"prompt_eval_count\":4}\n",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, bodies[r.URL.Path])
	}))
	defer srv.Close()
	for name, want := range map[string]struct{ tokens, chunks int }{
		"openai-completions": {2, 2}, "openai-chat": {1, 1}, "ollama-generate": {3, 1},
	} {
		cfg := config{url: srv.URL, api: name, model: "m", prompt: "p", maxTokens: 2}
		res := doRequest(context.Background(), srv.Client(), cfg, 0)
		if res.err != nil || res.tokens != want.tokens || res.chunks != want.chunks || res.promptTokens != 4 || res.ttft <= 0 {
			t.Errorf("%s: %+v", name, res)
		}
	}
	cfg := config{url: srv.URL + "/missing", api: "openai-chat", model: "m", prompt: "p", maxTokens: 2}
	if res := doRequest(context.Background(), srv.Client(), cfg, 0); res.err == nil {
		t.Error("a stream without usage should fail")
	}
}

func TestSummarizePairsRounds(t *testing.T) {
	rep := func(label string, round, conc int, agg float64) Report {
		return Report{Label: label, Round: round, Concurrency: conc, Requests: 4, AggTokPerSec: agg,
			TTFTms: Distribution{P50: agg, P99: 2 * agg}}
	}
	rows := summarize([]Report{
		rep("a", 1, 4, 110), rep("b", 1, 4, 100),
		rep("a", 2, 4, 60), rep("b", 2, 4, 50), // a noisy round slows both
		rep("a", 3, 4, 100), rep("b", 3, 4, 100),
		rep("a", 1, 1, 10), // no partner: counted for a, not for the ratio
	}, "a", "b")
	if len(rows) != 2 || rows[0].concurrency != 1 || rows[1].concurrency != 4 {
		t.Fatalf("rows %+v", rows)
	}
	if rows[0].pairedRuns != 0 || rows[0].subject.runs != 1 || rows[0].base.runs != 0 {
		t.Errorf("unpaired row %+v", rows[0])
	}
	r := rows[1]
	// Per-round ratios 1.1, 1.2, 1.0: median 1.1, whereas the ratio of
	// medians would be 100/100 = 1.
	if r.pairedRuns != 3 || math.Abs(r.ratio-1.1) > 1e-9 {
		t.Errorf("ratio %g over %d rounds", r.ratio, r.pairedRuns)
	}
	if r.subject.aggTokS != 100 || r.base.ttftP99 != 200 {
		t.Errorf("medians %+v %+v", r.subject, r.base)
	}
	if median([]float64{4, 1, 3, 2}) != 2.5 || median(nil) != 0 {
		t.Error("median")
	}
}

func TestParseStat(t *testing.T) {
	line := []byte("4242 (ollama (runner)) S 1 4200 4200 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 9 0 100 0 0\n")
	g, ticks, ok := parseStat(line)
	if !ok || g != 4200 || ticks != 280 {
		t.Errorf("pgid %d ticks %d ok %v", g, ticks, ok)
	}
	if _, _, ok := parseStat([]byte("garbage")); ok {
		t.Error("parsed garbage")
	}
	if v := selfCPUSeconds(); v < 0 {
		t.Skip("no /proc")
	}
}
