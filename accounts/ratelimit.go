package accounts

import (
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

// event is one admitted request's weight in a sliding window; n of a token
// event is corrected to the real count when the request ends.
type event struct {
	at time.Time
	n  int64
}

// window is a sliding log of the last RateWindow of events. A log, unlike a
// token bucket, gives exact Retry-After values: the moment enough old events
// leave the window.
type window struct {
	events []*event
}

func (w *window) prune(now time.Time) {
	i := 0
	for i < len(w.events) && !w.events[i].at.After(now.Add(-RateWindow)) {
		i++
	}
	w.events = w.events[i:]
}

func (w *window) sum() int64 {
	var s int64
	for _, e := range w.events {
		s += e.n
	}
	return s
}

// check reports whether n more fits under limit and, if not, how long until
// it would. A request heavier than the whole limit fits only into an empty
// window, so it is slow rather than impossible.
func (w *window) check(now time.Time, n, limit int64) (ok bool, retry time.Duration) {
	used := w.sum()
	if used+n <= limit || len(w.events) == 0 {
		return true, 0
	}
	freed := int64(0)
	for _, e := range w.events {
		freed += e.n
		if used-freed+n <= limit {
			return false, e.at.Add(RateWindow).Sub(now)
		}
	}
	return false, w.events[len(w.events)-1].at.Add(RateWindow).Sub(now)
}

// reset is how long until the window is empty again.
func (w *window) reset(now time.Time) time.Duration {
	if len(w.events) == 0 {
		return 0
	}
	return w.events[len(w.events)-1].at.Add(RateWindow).Sub(now)
}

// Limiter enforces per-minute request and token limits and concurrent request
// caps in memory. That suffices for one node; limits restart empty with the
// daemon, which errs on the caller's side.
type Limiter struct {
	now       func() time.Time
	mu        sync.Mutex
	windows   map[string]*window
	running   map[string]int
	lastSweep time.Time
}

// sweepEvery is how often Admit drops idle windows, so memory follows the
// accounts and models in use rather than all ever seen.
const sweepEvery = 5 * RateWindow

// NewLimiter builds a limiter reading time from now (time.Now if nil).
func NewLimiter(now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{now: now, windows: map[string]*window{}, running: map[string]int{}}
}

// LimitRequest describes a request to admit.
type LimitRequest struct {
	OpenID string
	Model  string
	// ModelRPM is the model's rate_limit in requests per minute, applied per
	// account (as OpenAI's per-model limits are); 0 means none.
	ModelRPM int
	Limits   Limits
	// Tokens is the request's token estimate: prompt plus max_tokens.
	Tokens int
}

// Permit is an admitted request's hold on the limits. Done must be called
// once the request ends.
type Permit struct {
	l      *Limiter
	openid string
	tokens *event
	once   sync.Once
	// Headers are the x-ratelimit-* values after admitting this request.
	Headers RateHeaders
}

// Done releases the concurrency slot and corrects the token estimate to the
// tokens really used (negative: keep the estimate).
func (p *Permit) Done(actualTokens int) {
	if p == nil {
		return
	}
	p.once.Do(func() {
		p.l.mu.Lock()
		defer p.l.mu.Unlock()
		if p.l.running[p.openid] > 0 {
			p.l.running[p.openid]--
		}
		if p.l.running[p.openid] == 0 {
			delete(p.l.running, p.openid)
		}
		if p.tokens != nil && actualTokens >= 0 {
			p.tokens.n = int64(actualTokens)
		}
	})
}

type limitCheck struct {
	scope string
	key   string
	limit int
	n     int64
}

// Admit checks every applicable limit and, only if all pass, counts the
// request against all of them, so a refused request costs nothing.
func (l *Limiter) Admit(r LimitRequest) (*Permit, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > sweepEvery {
		l.sweep(now)
	}

	if c := r.Limits.MaxConcurrent; c > 0 && l.running[r.OpenID] >= c {
		return nil, &RateLimitError{Scope: ScopeConcurrency, Limit: c, RetryAfter: time.Second, Headers: l.headers(now, r)}
	}
	var checks []limitCheck
	if r.ModelRPM > 0 {
		checks = append(checks, limitCheck{ScopeModelRequests, modelKey(r.OpenID, r.Model), r.ModelRPM, 1})
	}
	if r.Limits.RequestsPerMinute > 0 {
		checks = append(checks, limitCheck{ScopeAccountRequests, "r\x00" + r.OpenID, r.Limits.RequestsPerMinute, 1})
	}
	if r.Limits.TokensPerMinute > 0 {
		checks = append(checks, limitCheck{ScopeAccountTokens, "t\x00" + r.OpenID, r.Limits.TokensPerMinute, int64(max(r.Tokens, 0))})
	}
	for _, c := range checks {
		w := l.window(c.key, now)
		if ok, retry := w.check(now, c.n, int64(c.limit)); !ok {
			return nil, &RateLimitError{Scope: c.scope, Limit: c.limit, RetryAfter: retry, Headers: l.headers(now, r)}
		}
	}
	p := &Permit{l: l, openid: r.OpenID}
	for _, c := range checks {
		e := &event{at: now, n: c.n}
		w := l.windows[c.key]
		w.events = append(w.events, e)
		if c.scope == ScopeAccountTokens {
			p.tokens = e
		}
	}
	l.running[r.OpenID]++
	p.Headers = l.headers(now, r)
	return p, nil
}

func modelKey(openid, model string) string { return "m\x00" + openid + "\x00" + model }

func (l *Limiter) window(key string, now time.Time) *window {
	w, ok := l.windows[key]
	if !ok {
		w = &window{}
		l.windows[key] = w
	}
	w.prune(now)
	return w
}

// headers reports the request limit with the least room left, and the token
// limit. Caller holds l.mu.
func (l *Limiter) headers(now time.Time, r LimitRequest) RateHeaders {
	var h RateHeaders
	consider := func(key string, limit int) {
		if limit <= 0 {
			return
		}
		w := l.window(key, now)
		remaining := limit - int(w.sum())
		if h.LimitRequests == 0 || remaining < h.RemainingRequests {
			h.LimitRequests, h.RemainingRequests, h.ResetRequests = limit, remaining, w.reset(now)
		}
	}
	consider(modelKey(r.OpenID, r.Model), r.ModelRPM)
	consider("r\x00"+r.OpenID, r.Limits.RequestsPerMinute)
	if t := r.Limits.TokensPerMinute; t > 0 {
		w := l.window("t\x00"+r.OpenID, now)
		h.LimitTokens, h.RemainingTokens, h.ResetTokens = t, t-int(w.sum()), w.reset(now)
	}
	return h
}

// Sweep forgets windows that have emptied, bounding memory for accounts and
// models no longer in use. Admit already does it every few minutes.
func (l *Limiter) Sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(l.now())
}

func (l *Limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, w := range l.windows {
		if w.prune(now); len(w.events) == 0 {
			delete(l.windows, k)
		}
	}
}
