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
