package accountsapi

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/server/apierror"
)

func TestGateErrorsKeyMode(t *testing.T) {
	en := newEnv(t, accounts.ModeKey)
	key := en.setup("acme", "100")
	limited := en.setup("lim", "100", "free")
	poor := en.setup("poor", "0.01")
	other := en.setup("other", "100")
	revoked := func() string {
		rec := en.admin("POST", "/admin/accounts/acme/keys", `{}`)
		k := decodeJSON[createdKey](t, rec)
		if rec := en.admin("DELETE", "/admin/keys/"+k.ID, ""); rec.Code != http.StatusOK {
			t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
		}
		return k.Key
	}()
	tests := []struct {
		name   string
		path   string
		key    string
		body   string
		status int
		code   string
	}{
		{"no key", "/v1/chat/completions", "", `{"model":"paid","max_tokens":10}`, 401, "invalid_api_key"},
		{"wrong key", "/v1/chat/completions", "sk-wrong", `{"model":"paid","max_tokens":10}`, 401, "invalid_api_key"},
		{"revoked key", "/v1/chat/completions", revoked, `{"model":"paid","max_tokens":10}`, 401, "invalid_api_key"},
		{"other account's key on its path", "/llm_api/acme/u1/x/v1/chat/completions", other, `{"model":"paid","max_tokens":10}`, 403, "account_mismatch"},
		{"model outside allow-list", "/v1/chat/completions", limited, `{"model":"paid","max_tokens":10}`, 403, "model_not_allowed"},
		{"allow-listed model", "/v1/chat/completions", limited, `{"model":"free"}`, 200, ""},
		{"insufficient balance", "/v1/chat/completions", poor, `{"model":"paid","max_tokens":100}`, 429, "insufficient_quota"},
		{"ok", "/v1/chat/completions", key, `{"model":"paid","max_tokens":100}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := en.do("POST", tt.path, tt.key, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.code != "" {
				if got := errCode(t, rec); got != tt.code {
					t.Fatalf("code %q, want %q", got, tt.code)
				}
			}
		})
	}
}

func TestGateRateLimitHeaders(t *testing.T) {
	en := newEnv(t, accounts.ModeKey)
	key := en.setup("acme", "100")
	body := `{"model":"paid","max_tokens":10}`
	rec := en.do("POST", "/v1/chat/completions", key, body)
	if rec.Code != 200 || rec.Header().Get("x-ratelimit-limit-requests") != "2" || rec.Header().Get("x-ratelimit-remaining-requests") != "1" {
		t.Fatalf("first: %d %v", rec.Code, rec.Header())
	}
	en.clock.Advance(15 * time.Second)
	if rec := en.do("POST", "/v1/chat/completions", key, body); rec.Code != 200 {
		t.Fatalf("second: %d %s", rec.Code, rec.Body)
	}
	en.clock.Advance(5 * time.Second)
	rec = en.do("POST", "/v1/chat/completions", key, body)
	if rec.Code != http.StatusTooManyRequests || errCode(t, rec) != "rate_limit_exceeded" {
		t.Fatalf("third: %d %s", rec.Code, rec.Body)
	}
	// The first request leaves the window 40s from now.
	h := rec.Header()
	if h.Get("Retry-After") != "40" || h.Get("x-ratelimit-remaining-requests") != "0" || h.Get("x-ratelimit-reset-requests") != "55s" {
		t.Fatalf("headers: %v", h)
	}
	en.clock.Advance(40 * time.Second)
	if rec := en.do("POST", "/v1/chat/completions", key, body); rec.Code != 200 {
		t.Fatalf("after Retry-After: %d %s", rec.Code, rec.Body)
	}
}

func TestGateBillsAndLedger(t *testing.T) {
	en := newEnv(t, accounts.ModeOpenID)
	key := en.setup("acme", "10")
	// openid mode: the path names the account; no key needed.
	rec := en.do("POST", "/llm_api/acme/alice/chat/v1/chat/completions", "", `{"model":"paid","max_tokens":100}`, "X-Request-Id", "req-1")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"cost":0.15`) {
		t.Fatalf("generation: %d %s", rec.Code, rec.Body)
	}
	// With a key of the same account too.
	if rec := en.do("POST", "/llm_api/acme/bob/chat/v1/chat/completions", key, `{"model":"paid","max_tokens":100}`); rec.Code != 200 {
		t.Fatalf("with key: %d %s", rec.Code, rec.Body)
	}
	// Unknown account in openid mode.
	if rec := en.do("POST", "/llm_api/ghost/bob/chat/v1/chat/completions", "", `{"model":"paid"}`); rec.Code != 401 {
		t.Fatalf("unknown account: %d %s", rec.Code, rec.Body)
	}
	rec = en.admin("GET", "/admin/ledger?openid=acme&userid=alice", "")
	ledger := decodeJSON[struct{ Data []accounts.LedgerEntry }](t, rec)
	if len(ledger.Data) != 1 || ledger.Data[0].RequestID != "req-1" || ledger.Data[0].Cost != 150_000 || ledger.Data[0].FinishReason != "length" {
		t.Fatalf("ledger: %s", rec.Body)
	}
	info := decodeJSON[accounts.AccountInfo](t, en.admin("GET", "/admin/accounts/acme", ""))
	if info.Balance != 9_700_000 || info.TotalSpent != 300_000 || info.Reserved != 0 || len(info.Usage) != 1 || info.Usage[0].Requests != 2 {
		t.Fatalf("info: %+v", info)
	}
}

func TestTicketWithoutWorkReleases(t *testing.T) {
	en := newEnv(t, accounts.ModeKey)
	key := en.setup("acme", "10")
	req := Request{Endpoint: "chat.completions", Model: "paid", MaxTokens: 500, Header: http.Header{"Authorization": {"Bearer " + key}}}
	_, ticket, err := en.gate.Admit(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := en.svc.Reserved(t.Context(), "acme"); err != nil || r == 0 {
		t.Fatal("nothing reserved")
	}
	ticket.Finish(accounts.Usage{}) // e.g. the model failed to load
	ticket.Finish(accounts.Usage{PromptTokens: 5})
	if r, err := en.svc.Reserved(t.Context(), "acme"); err != nil || r != 0 {
		t.Fatalf("reserved after finish: %s", r)
	}
	rows, _ := en.svc.Ledger(t.Context(), accounts.LedgerFilter{})
	if len(rows) != 0 {
		t.Fatalf("ledger rows: %+v", rows)
	}
	// Unbilled endpoints only authenticate.
	if _, tk, err := en.gate.Admit(t.Context(), Request{Endpoint: "models", Header: req.Header}); err != nil || tk.Identity.OpenID != "acme" {
		t.Fatalf("models: %v", err)
	}
	if _, _, err := en.gate.Admit(t.Context(), Request{Endpoint: "models"}); err == nil {
		t.Fatal("models without key admitted in key mode")
	}
}

func TestRequestBounds(t *testing.T) {
	type demand = accounts.TokenDemand
	tests := []struct {
		name               string
		r                  Request
		prompt, completion int
		tokens             demand
	}{
		{"known sizes", Request{PromptTokens: 100, MaxTokens: 50}, 100, 50, demand{Fixed: 150, Choices: 1}},
		{"body bounds prompt", Request{BodyBytes: 1000, MaxTokens: 50}, 1256, 50, demand{Fixed: 300, Choices: 1}},
		{"nothing known: the completion is open", Request{}, 4096, 4096, demand{Open: 4096, Choices: 1}},
		{"max tokens beyond context", Request{PromptTokens: 10, MaxTokens: 10000}, 10, 4096, demand{Fixed: 4106, Choices: 1}},
		{"huge body", Request{BodyBytes: 1 << 20}, 4096, 4096, demand{Fixed: 1 << 18, Open: 4096, Choices: 1}},
		{"n choices each get max_tokens", Request{PromptTokens: 100, MaxTokens: 10, Choices: 4}, 100, 40, demand{Fixed: 140, Choices: 4}},
		{"every prompt × n", Request{BodyBytes: 1000, MaxTokens: 10, Prompts: 4, Choices: 4}, 1256, 160, demand{Fixed: 250 + 160, Choices: 16}},
		{"prompts × n up to the context", Request{BodyBytes: 1 << 20, Prompts: 2, Choices: 3}, 2 * 4096, 6 * 4096, demand{Fixed: 1 << 18, Open: 4096, Choices: 6}},
		{"embeddings generate nothing", Request{Endpoint: "embeddings", BodyBytes: 4000}, 4096, 4096, demand{Fixed: 1000, Choices: 1}},
		{"the model's cap alone leaves it open", Request{PromptTokens: 10, MaxTokens: 200, CapOnly: true, Choices: 2}, 10, 400, demand{Fixed: 10, Open: 200, Choices: 2}},
	}
	for _, tt := range tests {
		p, c, d := tt.r.bounds(4096)
		if p != tt.prompt || c != tt.completion || d != tt.tokens {
			t.Errorf("%s: bounds = %d, %d, %+v; want %d, %d, %+v", tt.name, p, c, d, tt.prompt, tt.completion, tt.tokens)
		}
	}
}

// TestClientGoneIsNotAServiceFailure: a request whose client went away
// while it was being admitted maps to 499, not to a 500.
func TestClientGoneIsNotAServiceFailure(t *testing.T) {
	en := newEnv(t, accounts.ModeKey)
	key := en.setup("acme", "10")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := en.gate.Admit(ctx, Request{Endpoint: "chat.completions", Model: "paid", MaxTokens: 5,
		Header: http.Header{"Authorization": {"Bearer " + key}}})
	if ae := APIError(err, "元"); err == nil || ae.Status != apierror.StatusClientClosed {
		t.Fatalf("admit with the client gone: %v → %v", err, ae)
	}
}

// suspendDuringReserve lets a suspend of the account arrive while a request
// is being admitted: its run hold is committed (every daemon counts it as
// running) and its reservation is being made, as when a user presses Stop
// right after sending.
type suspendDuringReserve struct {
	accounts.Store
	svc     *accounts.Service
	stopped int
	err     error
	done    bool
}

func (s *suspendDuringReserve) Reserve(ctx context.Context, h accounts.Hold, now time.Time) error {
	if !s.done {
		s.done = true
		s.stopped, s.err = s.svc.Suspend(ctx, h.OpenID, "")
	}
	return s.Store.Reserve(ctx, h, now)
}

// TestSuspendStopsARequestBeingAdmitted: the request was tracked only after
// its reservation, so such a suspend answered stopped 0 and the generation
// ran to its end (and another daemon's suspend counted it as stopped).
func TestSuspendStopsARequestBeingAdmitted(t *testing.T) {
	base, err := accounts.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	store := &suspendDuringReserve{Store: base}
	svc := accounts.NewService(store, accounts.Config{Mode: accounts.ModeKey})
	store.svc = svc
	if _, err := svc.CreateAccount(t.Context(), accounts.Account{OpenID: "acme", Balance: 10 * accounts.MicrosPerUnit}); err != nil {
		t.Fatal(err)
	}
	key, _, err := svc.CreateKey(t.Context(), accounts.KeyOptions{OpenID: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	gate := NewGate(svc, Options{Policy: testPolicy})
	ctx, ticket, err := gate.Admit(t.Context(), Request{Endpoint: "chat.completions", Model: "paid", MaxTokens: 10,
		Header: http.Header{"Authorization": {"Bearer " + key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ticket.Finish(accounts.Usage{})
	if store.err != nil || store.stopped != 1 {
		t.Fatalf("suspend during admission: stopped %d, %v; want 1", store.stopped, store.err)
	}
	if !errors.Is(context.Cause(ctx), accounts.ErrSuspended) || !ticket.Suspended() {
		t.Fatalf("the admitted request runs on (cause %v): it would generate to its end", context.Cause(ctx))
	}
}

// TestMoneyRefusalCountsNoCompletion: a request refused for money still
// counts as an attempt, with its prompt estimate, but not with a completion
// it never started: its max_tokens, or what the tokens-per-minute limit had
// granted it. Once topped up, the account gets the rest of its minute.
func TestMoneyRefusalCountsNoCompletion(t *testing.T) {
	for _, refused := range []struct {
		name      string
		maxTokens int
	}{{"without max_tokens", 0}, {"with max_tokens", 800}} {
		t.Run(refused.name, func(t *testing.T) {
			en := newEnv(t, accounts.ModeKey)
			key := en.setup("acme", "0.001")
			ctx := t.Context()
			if err := en.svc.SetLimits(ctx, "acme", accounts.Limits{TokensPerMinute: 1000}); err != nil {
				t.Fatal(err)
			}
			req := Request{Endpoint: "chat.completions", Model: "paid", BodyBytes: 400, // a prompt estimate of 100
				Header: http.Header{"Authorization": {"Bearer " + key}}}
			first := req
			first.MaxTokens = refused.maxTokens
			if _, _, err := en.gate.Admit(ctx, first); !errors.Is(err, accounts.ErrInsufficientBalance) {
				t.Fatalf("admitted without the money: %v", err)
			}
			if _, err := en.svc.TopUp(ctx, "acme", accounts.MoneyFromFloat(100), "test"); err != nil {
				t.Fatal(err)
			}
			_, ticket, err := en.gate.Admit(ctx, req)
			if err != nil {
				t.Fatalf("after the top-up: %v", err)
			}
			defer ticket.Finish(accounts.Usage{})
			if ticket.MaxTokens != 800 {
				t.Fatalf("granted %d tokens, want 800: the minute less both prompts' estimates", ticket.MaxTokens)
			}
		})
	}
}
