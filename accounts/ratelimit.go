package accounts

import (
	"fmt"
	"strconv"
	"sync"
	"time"
)

// RateWindow is the span of every per-minute limit.
const RateWindow = time.Minute

// RateHeaders are the values of OpenAI's x-ratelimit-* headers for the
// tightest request limit and the token limit that apply to a caller. A zero
// Limit means no such limit applies and the headers are left out.
type RateHeaders struct {
	LimitRequests     int
	RemainingRequests int
	ResetRequests     time.Duration
	LimitTokens       int
	RemainingTokens   int
	ResetTokens       time.Duration
}

// Fields returns the header names and values to send.
func (h RateHeaders) Fields() map[string]string {
	out := map[string]string{}
	if h.LimitRequests > 0 {
		out["x-ratelimit-limit-requests"] = strconv.Itoa(h.LimitRequests)
		out["x-ratelimit-remaining-requests"] = strconv.Itoa(max(h.RemainingRequests, 0))
		out["x-ratelimit-reset-requests"] = formatReset(h.ResetRequests)
	}
	if h.LimitTokens > 0 {
		out["x-ratelimit-limit-tokens"] = strconv.Itoa(h.LimitTokens)
		out["x-ratelimit-remaining-tokens"] = strconv.Itoa(max(h.RemainingTokens, 0))
		out["x-ratelimit-reset-tokens"] = formatReset(h.ResetTokens)
	}
	return out
}

// formatReset writes durations the way OpenAI does ("1s", "6m0s", "20ms").
func formatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return d.Round(time.Millisecond).String()
}

// window is one scope of an account's sliding log of the last RateWindow of
// events. A log, unlike a token bucket, gives exact Retry-After values: the
// moment enough old events leave the window. The log lives in the database
// (rate_events), so every daemon counts the same requests; admission reads
// its summary, and the events themselves only to time a refusal.
type window struct {
	RateSummary
	events func() ([]RateEvent, error) // oldest first
}

// check reports whether n more fits under limit and, if not, how long until
// it would. A request heavier than the whole limit fits only into an empty
// window, so it is slow rather than impossible.
func (w window) check(now time.Time, n, limit int64) (ok bool, retry time.Duration, err error) {
	if w.Sum+n <= limit || w.Count == 0 {
		return true, 0, nil
	}
	events, err := w.events()
	if err != nil {
		return false, 0, err
	}
	freed := int64(0)
	for _, e := range events {
		freed += e.N
		if w.Sum-freed+n <= limit {
			return false, e.At.Add(RateWindow).Sub(now), nil
		}
	}
	return false, w.reset(now), nil
}

// reset is how long until the window is empty again.
func (w window) reset(now time.Time) time.Duration {
	if w.Count == 0 {
		return 0
	}
	return w.Last.Add(RateWindow).Sub(now)
}

// Rate-window scopes as stored in RateEvent.Scope.
const (
	scopeRequests = "r"
	scopeTokens   = "t"
)

func modelScope(model string) string { return "m:" + model }

// LimitRequest describes a request to admit.
type LimitRequest struct {
	OpenID string
	Model  string
	// ModelRPM is the model's rate_limit in requests per minute, applied per
	// account (as OpenAI's per-model limits are); 0 means none.
	ModelRPM int
	Limits   Limits
	// TokenDemand is the request's demand on a tokens-per-minute limit.
	TokenDemand
}

// TokenDemand is a request's demand on a tokens-per-minute limit.
type TokenDemand struct {
	// Fixed is counted as is: the prompt's estimate, plus the completion
	// when the client bounded it (max_tokens).
	Fixed int
	// Open, when > 0, is the most each of Choices completions may use when
	// the client bounded none (what the context leaves). The limit then
	// grants each what the minute has left, up to Open (see grant).
	Open, Choices int
}

// grant is the completion each of r's choices may use when the client set
// no bound: what the window leaves after r.Fixed, shared by the choices, up
// to r.Open; 0 when that is not a token each. Counting the whole context
// instead would make a request without max_tokens wait for an empty window
// under any limit smaller than the context; counting none (as before) let
// concurrent requests each generate past the limit, corrected only when
// they ended. An empty window admits any request, so it grants at least one
// token a choice.
func (r LimitRequest) grant(w window) int {
	choices := int64(max(r.Choices, 1))
	left := int64(r.Limits.TokensPerMinute) - w.Sum - int64(max(r.Fixed, 0))
	if w.Count == 0 {
		left = max(left, choices)
	}
	return int(min(int64(r.Open), max(left, 0)/choices))
}

type limitCheck struct {
	scope string // the RateLimitError scope
	key   string // the RateEvent scope
	limit int
	n     int64
}

func (r LimitRequest) checks() []limitCheck {
	var checks []limitCheck
	if r.ModelRPM > 0 {
		checks = append(checks, limitCheck{ScopeModelRequests, modelScope(r.Model), r.ModelRPM, 1})
	}
	if r.Limits.RequestsPerMinute > 0 {
		checks = append(checks, limitCheck{ScopeAccountRequests, scopeRequests, r.Limits.RequestsPerMinute, 1})
	}
	if r.Limits.TokensPerMinute > 0 {
		checks = append(checks, limitCheck{ScopeAccountTokens, scopeTokens, r.Limits.TokensPerMinute, int64(max(r.Fixed, 0))})
	}
	return checks
}

// windows are an account's rate windows by scope.
type windows struct {
	RateWindows
}

func (ws windows) get(scope string) window {
	return window{RateSummary: ws.Summaries[scope], events: func() ([]RateEvent, error) { return ws.Events(scope) }}
}

// add counts an admitted event, for the headers that follow it.
func (ws windows) add(ev RateEvent) {
	sum := ws.Summaries[ev.Scope]
	sum.Sum += ev.N
	sum.Count++
	sum.Last = ev.At
	ws.Summaries[ev.Scope] = sum
}

// decideRate is the admission rule. It runs inside the store's transaction
// with the account's rate windows and its running requests, on every daemon
// alike: it checks every applicable limit and, only if all pass, returns the
// events that count the request against them, so a refused request costs
// nothing.
//
// It also returns the completion each choice was granted by the
// tokens-per-minute limit when the client set no bound (r.Open), or 0 for
// no such cap.
func decideRate(r LimitRequest, now time.Time, rw RateWindows, running int) ([]RateEvent, RateHeaders, int, error) {
	if rw.Summaries == nil {
		rw.Summaries = map[string]RateSummary{}
	}
	ws := windows{rw}
	if c := r.Limits.MaxConcurrent; c > 0 && running >= c {
		return nil, RateHeaders{}, 0, &RateLimitError{Scope: ScopeConcurrency, Limit: c, RetryAfter: time.Second, Headers: ws.headers(now, r)}
	}
	granted := 0
	if r.Open > 0 && r.Limits.TokensPerMinute > 0 {
		granted = r.grant(ws.get(scopeTokens))
		// With nothing granted, the check below refuses the request and
		// times its retry for a token a choice.
		r.Fixed = max(r.Fixed, 0) + max(granted, 1)*max(r.Choices, 1)
	}
	checks := r.checks()
	for _, c := range checks {
		ok, retry, err := ws.get(c.key).check(now, c.n, int64(c.limit))
		if err != nil {
			return nil, RateHeaders{}, 0, fmt.Errorf("rate window %s: %w", c.key, err)
		}
		if !ok {
			return nil, RateHeaders{}, 0, &RateLimitError{Scope: c.scope, Limit: c.limit, RetryAfter: retry, Headers: ws.headers(now, r)}
		}
	}
	var add []RateEvent
	for _, c := range checks {
		ev := RateEvent{Scope: c.key, At: now, N: c.n}
		add = append(add, ev)
		ws.add(ev)
	}
	return add, ws.headers(now, r), granted, nil
}

// headers reports the request limit with the least room left, and the token
// limit.
func (ws windows) headers(now time.Time, r LimitRequest) RateHeaders {
	var h RateHeaders
	consider := func(key string, limit int) {
		if limit <= 0 {
			return
		}
		w := ws.get(key)
		remaining := limit - int(w.Sum)
		if h.LimitRequests == 0 || remaining < h.RemainingRequests {
			h.LimitRequests, h.RemainingRequests, h.ResetRequests = limit, remaining, w.reset(now)
		}
	}
	consider(modelScope(r.Model), r.ModelRPM)
	consider(scopeRequests, r.Limits.RequestsPerMinute)
	if t := r.Limits.TokensPerMinute; t > 0 {
		w := ws.get(scopeTokens)
		h.LimitTokens, h.RemainingTokens, h.ResetTokens = t, t-int(w.Sum), w.reset(now)
	}
	return h
}

// Permit is an admitted request's hold on the limits: a HoldRun in the
// database, which takes a concurrency slot until Done and owns the
// request's rate events. Done must be called once the request ends.
type Permit struct {
	svc    *Service
	holdID string
	once   sync.Once
	// Headers are the x-ratelimit-* values after admitting this request.
	Headers RateHeaders
	// Completion is what each choice may generate under the account's
	// tokens-per-minute limit when the client set no bound (TokenDemand.Open
	// > 0); 0: the limits set no cap.
	Completion int
}

// Done releases the concurrency slot and corrects the token estimate to the
// tokens really used (negative: keep the estimate).
func (p *Permit) Done(actualTokens int) {
	if p == nil {
		return
	}
	p.once.Do(func() { p.svc.endHold(p.holdID, int64(actualTokens)) })
}
