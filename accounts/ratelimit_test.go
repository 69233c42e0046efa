package accounts

import (
	"context"
	"errors"
	"testing"
	"time"
)

// limiter admits through a Service on a SQLite store: the path of every
// daemon, with the windows in the database.
type limiter struct{ f *fixture }

func newLimiter(t *testing.T) (*limiter, *fakeClock) {
	f := newFixture(t, ModeKey)
	for _, openid := range []string{"a", "b", "acme", "other"} {
		f.account(t, openid, "0")
	}
	return &limiter{f}, f.clock
}

func (l *limiter) Admit(r LimitRequest) (*Permit, error) {
	return l.f.svc.Admit(context.Background(), Identity{OpenID: r.OpenID, Limits: r.Limits}, r.Model, r.ModelRPM, r.TokenDemand)
}

func TestModelRateLimitRetryAfter(t *testing.T) {
	l, clock := newLimiter(t)
	r := LimitRequest{OpenID: "acme", Model: "qwen", ModelRPM: 3}
	for i := range 3 {
		p, err := l.Admit(r)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if p.Headers.RemainingRequests != 2-i || p.Headers.LimitRequests != 3 {
			t.Fatalf("headers after %d: %+v", i, p.Headers)
		}
		p.Done(-1)
		clock.Advance(10 * time.Second)
	}
	// Requests at t=0,10,20s; now t=30s: the first leaves the window at 60s.
	_, err := l.Admit(r)
	var rl *RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("4th request: %v", err)
	}
	if rl.Scope != ScopeModelRequests || rl.RetryAfter != 30*time.Second || rl.Limit != 3 {
		t.Fatalf("rate limit error = %+v", rl)
	}
	h := rl.Headers.Fields()
	if h["x-ratelimit-limit-requests"] != "3" || h["x-ratelimit-remaining-requests"] != "0" || h["x-ratelimit-reset-requests"] != "50s" {
		t.Fatalf("headers = %v", h)
	}
	// Another account and another model are counted apart.
	if _, err := l.Admit(LimitRequest{OpenID: "other", Model: "qwen", ModelRPM: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Admit(LimitRequest{OpenID: "acme", Model: "llama", ModelRPM: 3}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Second)
	if _, err := l.Admit(r); err != nil {
		t.Fatalf("after Retry-After: %v", err)
	}
}

func TestAccountLimits(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		tokens []int // per request, admitted in turn with 1s between
		refuse int   // index of the first refused request
		scope  string
		retry  time.Duration
	}{
		{"requests per minute", Limits{RequestsPerMinute: 2}, []int{1, 1, 1}, 2, ScopeAccountRequests, 58 * time.Second},
		{"tokens per minute", Limits{TokensPerMinute: 1000}, []int{400, 400, 400}, 2, ScopeAccountTokens, 58 * time.Second},
		{"tokens free up in order", Limits{TokensPerMinute: 1000}, []int{100, 800, 500}, 2, ScopeAccountTokens, 59 * time.Second},
		{"tokens need two to leave", Limits{TokensPerMinute: 1000}, []int{300, 300, 300, 700}, 3, ScopeAccountTokens, 58 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clock := newLimiter(t)
			for i, n := range tt.tokens {
				_, err := l.Admit(LimitRequest{OpenID: "a", Model: "m", Limits: tt.limits, TokenDemand: TokenDemand{Fixed: n}})
				if i < tt.refuse {
					if err != nil {
						t.Fatalf("request %d refused: %v", i, err)
					}
				} else {
					var rl *RateLimitError
					if !errors.As(err, &rl) || rl.Scope != tt.scope || rl.RetryAfter != tt.retry {
						t.Fatalf("request %d: %v (%+v)", i, err, rl)
					}
					return
				}
				clock.Advance(time.Second)
			}
			t.Fatal("nothing refused")
		})
	}
}

func TestTokenEstimateCorrectedOnDone(t *testing.T) {
	l, _ := newLimiter(t)
	lim := Limits{TokensPerMinute: 1000}
	p, err := l.Admit(LimitRequest{OpenID: "a", Limits: lim, TokenDemand: TokenDemand{Fixed: 900}}) // prompt + max_tokens
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Admit(LimitRequest{OpenID: "a", Limits: lim, TokenDemand: TokenDemand{Fixed: 200}}); err == nil {
		t.Fatal("estimate not counted")
	}
	p.Done(150) // really used 150
	p2, err := l.Admit(LimitRequest{OpenID: "a", Limits: lim, TokenDemand: TokenDemand{Fixed: 200}})
	if err != nil {
		t.Fatalf("after correction: %v", err)
	}
	if h := p2.Headers; h.LimitTokens != 1000 || h.RemainingTokens != 650 {
		t.Fatalf("token headers = %+v", h)
	}
	// A request larger than the whole limit only fits an empty window.
	if _, err := l.Admit(LimitRequest{OpenID: "b", Limits: lim, TokenDemand: TokenDemand{Fixed: 5000}}); err != nil {
		t.Fatalf("oversized into empty window: %v", err)
	}
}

// TestOpenCompletionGrantedWhatTheMinuteLeaves: a request without
// max_tokens is counted for the completion the tokens-per-minute window has
// left (up to what the context allows), and told it in Permit.Completion,
// so concurrent requests cannot generate past the limit; a window with no
// token left for it refuses it until one leaves.
func TestOpenCompletionGrantedWhatTheMinuteLeaves(t *testing.T) {
	lim := Limits{TokensPerMinute: 1000}
	open := func(prompt, choices int) LimitRequest {
		return LimitRequest{OpenID: "a", Limits: lim, TokenDemand: TokenDemand{Fixed: prompt, Open: 4096, Choices: choices}}
	}
	tests := []struct {
		name  string
		first *LimitRequest // admitted before, and corrected to used
		used  int
		r     LimitRequest
		want  int // the completion granted each choice; -1: refused
	}{
		{"empty window: what the limit leaves after the prompt", nil, 0, open(100, 1), 900},
		{"shared by the choices", nil, 0, open(100, 3), 300},
		{"no more than the context allows", nil, 0, LimitRequest{OpenID: "a", Limits: lim, TokenDemand: TokenDemand{Fixed: 100, Open: 50, Choices: 2}}, 50},
		{"a prompt past the limit still gets a token in an empty window", nil, 0, open(5000, 2), 1},
		{"no tokens-per-minute limit: no cap", nil, 0, LimitRequest{OpenID: "a", Limits: Limits{RequestsPerMinute: 10}, TokenDemand: TokenDemand{Open: 4096}}, 0},
		{"what a running open request was granted is taken", &LimitRequest{OpenID: "a", Limits: lim, TokenDemand: TokenDemand{Fixed: 100, Open: 4096}}, -1, open(10, 1), -1},
		{"what an ended request used is taken", &LimitRequest{OpenID: "a", Limits: lim, TokenDemand: TokenDemand{Fixed: 100, Open: 4096}}, 300, open(100, 1), 600},
		{"a bounded request counts its max_tokens", &LimitRequest{OpenID: "a", Limits: lim, TokenDemand: TokenDemand{Fixed: 700}}, -1, open(100, 1), 200},
		{"less than a token a choice left: refused", &LimitRequest{OpenID: "a", Limits: lim, TokenDemand: TokenDemand{Fixed: 998}}, -1, open(0, 3), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLimiter(t)
			if tt.first != nil {
				p, err := l.Admit(*tt.first)
				if err != nil {
					t.Fatal(err)
				}
				if tt.used >= 0 {
					p.Done(tt.used)
				}
			}
			p, err := l.Admit(tt.r)
			if tt.want < 0 {
				var rl *RateLimitError
				if !errors.As(err, &rl) || rl.Scope != ScopeAccountTokens || rl.RetryAfter <= 0 {
					t.Fatalf("admitted (%+v, %v), want a tokens-per-minute refusal with a retry time", p, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Completion != tt.want {
				t.Fatalf("granted %d a choice, want %d", p.Completion, tt.want)
			}
			if tt.r.Limits.TokensPerMinute > 0 && tt.first == nil && tt.r.Fixed < 1000 {
				if h := p.Headers; h.RemainingTokens != 1000-tt.r.Fixed-tt.want*max(tt.r.Choices, 1) {
					t.Fatalf("remaining tokens %d after granting %d", h.RemainingTokens, tt.want)
				}
			}
		})
	}
}

func TestConcurrencyLimit(t *testing.T) {
	l, _ := newLimiter(t)
	r := LimitRequest{OpenID: "a", Limits: Limits{MaxConcurrent: 2}}
	p1, _ := l.Admit(r)
	p2, _ := l.Admit(r)
	_, err := l.Admit(r)
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.Scope != ScopeConcurrency || rl.RetryAfter != time.Second {
		t.Fatalf("third concurrent: %v", err)
	}
	p1.Done(0)
	p1.Done(0) // idempotent: must not free a second slot
	if _, err := l.Admit(r); err != nil {
		t.Fatalf("after Done: %v", err)
	}
	if _, err := l.Admit(r); err == nil {
		t.Fatal("double Done freed two slots")
	}
	p2.Done(0)
}
