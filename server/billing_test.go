package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/models"
)

const perSecondConfig = `listen: 127.0.0.1:0
models_dir: models
auth: {mode: key}
models:
  timed:
    file: timed.gguf
    context: 256
    parallel: 1
    threads: 1
    pricing: {per_second: 1, max_seconds: 30}
`

// TestPerSecondBillingExcludesLoadTime loads the model slowly on the first
// request: the ledger's processing time, and so the cost, must cover prompt
// processing and generation only.
func TestPerSecondBillingExcludesLoadTime(t *testing.T) {
	const loadDelay = 1500 * time.Millisecond
	slowLoader := func(ctx context.Context, path string, opts engine.LoadOptions) (models.LoadedModel, error) {
		time.Sleep(loadDelay)
		return models.EngineLoader(ctx, path, opts)
	}
	cfg, _, mgr := startManager(t, perSecondConfig, map[string]string{"timed.gguf": "stories260K-chatml.gguf"}, models.WithLoader(slowLoader))
	svc := newAccounts(t)
	ctx := context.Background()
	secret := fundedKey(t, svc, "o1", 100)
	url := serveWithAccounts(t, cfg, mgr, svc)

	req, _ := http.NewRequest("POST", url+"/v1/chat/completions",
		strings.NewReader(`{"model":"timed","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":8}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	wall := time.Since(start)
	if resp.StatusCode != 200 || wall < loadDelay {
		t.Fatalf("status %d after %v (the load alone takes %v)", resp.StatusCode, wall, loadDelay)
	}
	rows, err := svc.Ledger(ctx, accounts.LedgerFilter{OpenID: "o1"})
	if err != nil || len(rows) != 1 {
		t.Fatalf("ledger: %v %v", rows, err)
	}
	e := rows[0]
	// Eight tokens of a 260K-parameter model take milliseconds; anything
	// near the load delay means loading was billed.
	if time.Duration(e.ProcessingMS)*time.Millisecond >= loadDelay/3 {
		t.Fatalf("billed %d ms of processing for a request whose load took %v", e.ProcessingMS, loadDelay)
	}
	if e.Cost <= 0 || e.Cost > accounts.MoneyFromFloat(float64(e.ProcessingMS+1)/1000) {
		t.Fatalf("cost %v for %d ms at 1/s", e.Cost, e.ProcessingMS)
	}
	t.Logf("request took %v (load %v); billed %d ms = %v", wall.Round(time.Millisecond), loadDelay, e.ProcessingMS, e.Cost)
}

const tokenPricedConfig = `listen: 127.0.0.1:0
models_dir: models
auth: {mode: key}
models:
  priced:
    file: priced.gguf
    context: 256
    parallel: 4
    threads: 1
    pricing: {input_per_1k: 0.001, output_per_1k: 10}
`

// TestEveryChoiceIsReservedAndBilled: a request's reservation covers
// max_tokens for every choice of every prompt, and settlement bills exactly
// the tokens generated. Each case generates max_tokens per choice
// (ignore_eos), so the reservation is used to the last token.
func TestEveryChoiceIsReservedAndBilled(t *testing.T) {
	cfg, _, mgr := startManager(t, tokenPricedConfig, map[string]string{"priced.gguf": "stories260K-chatml.gguf"})
	svc := newAccounts(t)
	ctx := context.Background()
	url := serveWithAccounts(t, cfg, mgr, svc)
	price := accounts.NewPricing(0.001, 10, nil, 0, 0)

	tests := []struct {
		name, path, body string
		completion       int
	}{
		{"chat n=4", "/v1/chat/completions",
			`{"model":"priced","messages":[{"role":"user","content":"Tell me a story"}],"n":4,"max_tokens":10,"ignore_eos":true}`, 40},
		{"4 prompts × n=4", "/v1/completions",
			`{"model":"priced","prompt":["Once","Once upon","Once upon a","Once upon a time"],"n":4,"max_tokens":10,"ignore_eos":true}`, 160},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			openid := fmt.Sprintf("o%d", i)
			secret := fundedKey(t, svc, openid, 100)
			req, _ := http.NewRequest("POST", url+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			rows, err := svc.Ledger(ctx, accounts.LedgerFilter{OpenID: openid})
			if err != nil || len(rows) != 1 {
				t.Fatalf("ledger: %v %v", rows, err)
			}
			e := rows[0]
			want := price.Cost(accounts.Usage{PromptTokens: e.PromptTokens, CachedTokens: e.CachedTokens, CompletionTokens: e.CompletionTokens})
			if e.CompletionTokens != tt.completion || e.Cost != want {
				t.Fatalf("billed %s for %d completion tokens; want %s for %d", e.Cost, e.CompletionTokens, want, tt.completion)
			}
			acc, err := svc.GetAccount(ctx, openid)
			reserved, rerr := svc.Reserved(ctx, openid)
			if err != nil || rerr != nil || acc.Balance != accounts.MoneyFromFloat(100)-want || reserved != 0 {
				t.Fatalf("balance %s, reserved %s, %v %v; want %s and 0", acc.Balance, reserved, err, rerr, accounts.MoneyFromFloat(100)-want)
			}
		})
	}
}

// TestBatchedPromptFailureBillsStartedPrompts: when a later prompt of a
// batched completion cannot start (too long, queue full), the prompts
// already started are cancelled, and what they decoded is still billed.
// It was settled as nothing: no ledger row, although the engine had run.
func TestBatchedPromptFailureBillsStartedPrompts(t *testing.T) {
	cat := newFakeCatalog()
	fm := cat.models["tiny"]
	fm.genErr, fm.genErrAt = &engine.PromptTooLongError{PromptTokens: 300, ContextLength: 256}, 3
	svc := newAccounts(t)
	key := fundedKey(t, svc, "o1", 100)
	_, url := newTestServer(t, cat, WithAccounts(svc))
	status, body := send(t, "POST", url+"/v1/completions", key, `{"model":"tiny","prompt":["a","b","c"],"max_tokens":4}`)
	if status != http.StatusBadRequest || !strings.Contains(body, "context_length_exceeded") {
		t.Fatalf("%d %s; want 400 context_length_exceeded", status, body)
	}
	rows, err := svc.Ledger(context.Background(), accounts.LedgerFilter{OpenID: "o1"})
	if err != nil || len(rows) != 1 {
		t.Fatalf("ledger %+v (%v); want one row", rows, err)
	}
	// Two prompts started; the fake reports 7 prompt (2 cached) and 2
	// completion tokens for each.
	if e := rows[0]; e.PromptTokens != 14 || e.CachedTokens != 4 || e.CompletionTokens != 4 || e.HTTPStatus != 400 {
		t.Fatalf("billed %d prompt (%d cached) + %d completion tokens with status %d; want 14 (4) + 4 with 400",
			e.PromptTokens, e.CachedTokens, e.CompletionTokens, e.HTTPStatus)
	}
}

const tpmConfig = tokenPricedConfig + `  capped:
    file: capped.gguf
    context: 256
    parallel: 4
    threads: 1
    max_tokens: 200
    pricing: {input_per_1k: 0.001, output_per_1k: 10}
`

// TestTokensPerMinuteBoundsOpenCompletions: a request without max_tokens
// under a tokens-per-minute limit generates what the minute has left after
// its prompt's estimate, and no more (finish_reason "length"), so requests
// running at once cannot together pass the limit; the next one is refused
// until tokens leave the window. Before, such a request was counted for its
// prompt alone and generated to the end of the context. A model's own
// max_tokens cap does not make the request bounded: it was counted for the
// whole cap, and refused when the minute had less left.
func TestTokensPerMinuteBoundsOpenCompletions(t *testing.T) {
	cfg, _, mgr := startManager(t, tpmConfig, map[string]string{"priced.gguf": "stories260K-chatml.gguf", "capped.gguf": "stories260K-chatml.gguf"})
	svc := newAccounts(t)
	ctx := context.Background()
	url := serveWithAccounts(t, cfg, mgr, svc)
	const tpm = 200
	for _, model := range []string{"priced", "capped"} {
		t.Run(model, func(t *testing.T) {
			secret := fundedKey(t, svc, model, 100)
			if err := svc.SetLimits(ctx, model, accounts.Limits{TokensPerMinute: tpm}); err != nil {
				t.Fatal(err)
			}
			body := `{"model":"` + model + `","messages":[{"role":"user","content":"Tell me a story"}],"ignore_eos":true}`
			post := func() (*http.Response, chatCompletion) {
				t.Helper()
				req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+secret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				out := chatCompletion{Usage: &usageJSON{}, Choices: []chatChoice{{}}}
				if resp.StatusCode == 200 {
					if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
						t.Fatal(err)
					}
				}
				return resp, out
			}

			resp, out := post()
			granted := tpm - len(body)/4 // the prompt is estimated at four bytes a token
			if resp.StatusCode != 200 || out.Usage.CompletionTokens != granted || out.Choices[0].FinishReason != "length" {
				t.Fatalf("status %d, %d completion tokens (%q); want %d, what the minute left after the prompt's estimate",
					resp.StatusCode, out.Usage.CompletionTokens, out.Choices[0].FinishReason, granted)
			}
			if got := resp.Header.Get("x-ratelimit-remaining-tokens"); got != "0" {
				t.Errorf("x-ratelimit-remaining-tokens %q, want 0", got)
			}
			rows, err := svc.Ledger(ctx, accounts.LedgerFilter{OpenID: model})
			if err != nil || len(rows) != 1 || rows[0].CompletionTokens != granted {
				t.Fatalf("ledger %+v, %v", rows, err)
			}
			resp, _ = post()
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("second request: status %d, Retry-After %q; want 429 with a retry time", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		})
	}
}
