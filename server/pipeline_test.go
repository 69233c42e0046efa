package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/models"
)

// TestLedgerHoldsTheStatusTheClientGot: every billed endpoint settles
// through the pipeline with the HTTP status the client got, errors
// included (embeddings rows once had 0).
func TestLedgerHoldsTheStatusTheClientGot(t *testing.T) {
	svc := newAccounts(t)
	key := fundedKey(t, svc, "o1", 100)
	cat := newFakeCatalog()
	_, url := newTestServer(t, cat, WithAccounts(svc))
	chat := `{"model":"tiny","messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name, path, body string
		engineErr        error // the generation fails after its tokens
		status           int   // what the client gets and the ledger holds
		finish           string
	}{
		{"chat", "/v1/chat/completions", chat + `}`, nil, 200, "length"},
		{"chat stream", "/v1/chat/completions", chat + `,"stream":true}`, nil, 200, "length"},
		{"completions", "/v1/completions", `{"model":"tiny","prompt":"x","n":2}`, nil, 200, "length"},
		{"embeddings", "/v1/embeddings", `{"model":"embed","input":["a","b"]}`, nil, 200, ""},
		{"embeddings, wrong dimensions", "/v1/embeddings", `{"model":"embed","input":"a","dimensions":3}`, nil, 400, ""},
		{"chat, engine failure", "/v1/chat/completions", chat + `}`, errors.New("decode failed"), 500, "length"},
		// The stream had started: the client got a 200 and an error event.
		{"chat stream, engine failure", "/v1/chat/completions", chat + `,"stream":true}`, errors.New("decode failed"), 200, "length"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat.models["tiny"].doneErr = tt.engineErr
			id := fmt.Sprintf("req-%d", i)
			req, _ := http.NewRequest("POST", url+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("X-Request-Id", id)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body) // a client that stays to the end
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			e := ledgerRow(t, svc, id)
			if e.HTTPStatus != tt.status || e.FinishReason != tt.finish || e.PromptTokens == 0 {
				t.Fatalf("ledger row %+v; want status %d, finish %q and the prompt's tokens", e, tt.status, tt.finish)
			}
		})
	}
	t.Run("client gone", func(t *testing.T) {
		cat.models["tiny"].block = true
		req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(chat+`,"stream":true}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Request-Id", "req-gone")
		hangUpWhileStreaming(t, req)
		if e := ledgerRow(t, svc, "req-gone"); e.HTTPStatus != 499 {
			t.Fatalf("ledger row %+v; want status 499", e)
		}
	})
}

// ledgerRow waits for the ledger row of a request (a request is settled
// when its answer is written, or soon after its client left).
func ledgerRow(t *testing.T, svc *accounts.Service, requestID string) accounts.LedgerEntry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := svc.Ledger(context.Background(), accounts.LedgerFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range rows {
			if e.RequestID == requestID {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ledger row for %s in %+v", requestID, rows)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMetricsCountEveryEndpoint scrapes /metrics around requests to every
// endpoint: the request counters move by model, endpoint and status, and
// so do the token counters and the latency histograms; the model gauges,
// the Go and the process collectors are there.
func TestMetricsCountEveryEndpoint(t *testing.T) {
	_, url := newTestServer(t, newFakeCatalog())
	chat := `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`
	requests := []struct{ method, path, body string }{
		{"POST", "/v1/chat/completions", chat},
		{"POST", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":true}`},
		{"POST", "/v1/chat/completions", `{"model":"tiny","messages":[],"temperature":9}`},
		{"POST", "/v1/chat/completions", `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`},
		{"POST", "/v1/completions", `{"model":"tiny","prompt":"x"}`},
		{"POST", "/v1/embeddings", `{"model":"embed","input":"x"}`},
		{"POST", "/tokenize", `{"model":"tiny","content":"hi"}`},
		{"POST", "/detokenize", `{"model":"tiny","tokens":[104]}`},
		{"POST", "/apply-template", chat},
		{"GET", "/v1/models", ``},
		{"GET", "/v1/models/tiny", ``},
	}
	before := scrape(t, url)
	for _, r := range requests {
		send(t, r.method, url+r.path, "", r.body)
	}
	after := scrape(t, url)
	moved := []struct {
		series string
		by     float64
	}{
		{`ggufd_requests_total{endpoint="chat.completions",model="tiny",status="200"}`, 2},
		{`ggufd_requests_total{endpoint="chat.completions",model="tiny",status="400"}`, 1},
		{`ggufd_requests_total{endpoint="chat.completions",model="",status="404"}`, 1},
		{`ggufd_requests_total{endpoint="completions",model="tiny",status="200"}`, 1},
		{`ggufd_requests_total{endpoint="embeddings",model="embed",status="200"}`, 1},
		{`ggufd_requests_total{endpoint="tokenize",model="tiny",status="200"}`, 1},
		{`ggufd_requests_total{endpoint="detokenize",model="tiny",status="200"}`, 1},
		{`ggufd_requests_total{endpoint="apply-template",model="tiny",status="200"}`, 1},
		{`ggufd_requests_total{endpoint="models",model="",status="200"}`, 1},
		{`ggufd_requests_total{endpoint="models",model="tiny",status="200"}`, 1},
		// The fake's generations: 7 prompt tokens and 2 pieces each.
		{`ggufd_prompt_tokens_total{model="tiny"}`, 3 * 7},
		{`ggufd_completion_tokens_total{model="tiny"}`, 3 * 2},
		{`ggufd_prompt_tokens_total{model="embed"}`, 3},
		{`ggufd_request_duration_seconds_count{endpoint="chat.completions",model="tiny"}`, 3},
		{`ggufd_time_to_first_token_seconds_count{model="tiny"}`, 3},
		{`ggufd_queue_wait_seconds_count{model="tiny"}`, 3},
	}
	for _, m := range moved {
		if got := after[m.series] - before[m.series]; got != m.by {
			t.Errorf("%s moved by %g, want %g", m.series, got, m.by)
		}
	}
	for series, want := range map[string]float64{
		`ggufd_model_loaded{model="tiny"}`:                                 1,
		`ggufd_model_loaded{model="embed"}`:                                0,
		`ggufd_model_busy_slots{model="tiny"}`:                             1,
		`ggufd_model_queue_depth{model="tiny"}`:                            2,
		`ggufd_model_engine_requests_total{model="tiny"}`:                  5,
		`ggufd_model_prompt_tokens_decoded_total{model="tiny"}`:            30,
		`ggufd_model_tokens_generated_total{model="tiny"}`:                 12,
		`ggufd_model_images_encoded_total{model="tiny"}`:                   1,
		`ggufd_model_decode_steps_total{model="tiny"}`:                     9,
		`ggufd_model_fewer_thread_steps_total{model="tiny"}`:               4,
		`ggufd_model_memory_bytes{model="tiny"}`:                           1 << 20,
		`ggufd_model_device_layers{device="CPU",model="tiny"}`:             6,
		`ggufd_model_device_memory_bytes{device="CPU",model="tiny"}`:       1 << 20,
		`ggufd_time_to_first_token_seconds_bucket{model="tiny",le="+Inf"}`: after[`ggufd_time_to_first_token_seconds_count{model="tiny"}`],
	} {
		if got, ok := after[series]; !ok || got != want {
			t.Errorf("%s = %g (present %v), want %g", series, got, ok, want)
		}
	}
	for _, series := range []string{"go_goroutines", "process_resident_memory_bytes", "ggufd_memory_available_bytes"} {
		if after[series] <= 0 {
			t.Errorf("%s = %g", series, after[series])
		}
	}
}

// scrape reads /metrics into series → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	status, body := send(t, "GET", url+"/metrics", "", "")
	if status != 200 {
		t.Fatalf("/metrics: %d %s", status, body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		var v float64
		if _, err := fmt.Sscan(line[i+1:], &v); err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsAccess: /metrics needs the admin key unless
// auth.metrics_public is set.
func TestMetricsAccess(t *testing.T) {
	for _, public := range []bool{false, true} {
		t.Run(fmt.Sprintf("public=%v", public), func(t *testing.T) {
			admin, _ := accounts.NewAdminKey("admin-key")
			svc := accounts.NewService(newAccountsStore(t), accounts.Config{Mode: accounts.ModeKey, AdminKey: admin})
			_, url := newTestServerWith(t, Settings{MetricsPublic: public}, newFakeCatalog(), WithAccounts(svc))
			want := http.StatusUnauthorized
			if public {
				want = http.StatusOK
			}
			if status, body := send(t, "GET", url+"/metrics", "", ""); status != want {
				t.Errorf("without a key: %d %.200s; want %d", status, body, want)
			}
			if status, _ := send(t, "GET", url+"/metrics", "admin-key", ""); status != http.StatusOK {
				t.Errorf("with the admin key: %d", status)
			}
		})
	}
}

// TestSystemFingerprint: system_fingerprint changes with the build and
// with the model's file or load settings, and only with them.
func TestSystemFingerprint(t *testing.T) {
	fingerprint := func(version, loadHash string) string {
		cat := newFakeCatalog()
		cat.edit("tiny", func(e *models.Entry) { e.LoadHash = loadHash })
		_, url := newTestServerWith(t, Settings{Version: version}, cat)
		resp := post(t, url+"/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`)
		fp := decodeResp[chatCompletion](t, resp).SystemFingerprint
		if !strings.HasPrefix(fp, "fp_") {
			t.Fatalf("system_fingerprint %q", fp)
		}
		return fp
	}
	base := fingerprint("v1.0.0", "aaaa")
	if again := fingerprint("v1.0.0", "aaaa"); again != base {
		t.Errorf("same build and model: %s then %s", base, again)
	}
	if other := fingerprint("v1.0.1", "aaaa"); other == base {
		t.Errorf("another build, same fingerprint %s", base)
	}
	if other := fingerprint("v1.0.0", "bbbb"); other == base {
		t.Errorf("another model file or load settings, same fingerprint %s", base)
	}
}

// TestFillInMiddle: a completion with a suffix reaches the engine as the
// model's fill-in-the-middle prompt; a model without FIM tokens, or a
// token prompt, is refused naming 'suffix'.
func TestFillInMiddle(t *testing.T) {
	cat := newFakeCatalog()
	cat.models["tiny"].fim = true
	_, url := newTestServer(t, cat)
	resp := post(t, url+"/v1/completions", `{"model":"tiny","prompt":"ab","suffix":"c"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	req := cat.models["tiny"].lastRequest(t)
	if want := []int{1000, 'a', 'b', 1001, 'c', 1002}; req.Prompt != "" || fmt.Sprint(req.PromptTokens) != fmt.Sprint(want) {
		t.Errorf("engine prompt %q %v, want tokens %v", req.Prompt, req.PromptTokens, want)
	}
	cat.models["tiny"].fim = false
	for _, body := range []string{
		`{"model":"tiny","prompt":"ab","suffix":"c"}`,
		`{"model":"tiny","prompt":[1,2],"suffix":"c"}`,
	} {
		status, got := send(t, "POST", url+"/v1/completions", "", body)
		if status != 400 || !strings.Contains(got, `"param":"suffix"`) {
			t.Errorf("%s: %d %s", body, status, got)
		}
	}
}
