package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"runtime/debug"
	"time"

	"github.com/ggufd/ggufd/engine"
	"github.com/labstack/echo/v4"
)

// requestState is what one request accumulates for its log line and for the
// accounts layer. Handlers fill it in; the logging middleware reads it.
type requestState struct {
	id       string
	start    time.Time
	openID   string
	userID   string
	aiSystem string // model from the /llm_api/ path; "" means the body's
	viaLLM   bool   // the request came in through /llm_api/
	bodyUser string // OpenAI's "user" field, the user id when the path has none
	model    string
	status   int
	errCode  string
	usage    engine.Usage
	ttft     time.Duration // time to the first generated text
	sse      *sseWriter
	pass     Pass // the authenticated caller (see Gatekeeper)
}

const stateKey = "ggufd.request"

type ctxKey int

const (
	requestIDKey ctxKey = iota
	callerKey
)

// Caller identifies the user of an /llm_api/{openid}/{userid}/... request.
type Caller struct {
	OpenID string
	UserID string
}

// RequestIDFrom returns the request id (X-Request-Id) stored in ctx.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// CallerFrom returns the openid/userid of an /llm_api/ request, if any.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey).(Caller)
	return c, ok
}

func stateOf(c echo.Context) *requestState {
	if rs, ok := c.Get(stateKey).(*requestState); ok {
		return rs
	}
	// Only reached when a handler runs without the middleware (tests).
	rs := &requestState{id: newID(), start: time.Now()}
	c.Set(stateKey, rs)
	return rs
}

// newID returns 24 random hex characters, used for request and response ids.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func stack() string { return string(debug.Stack()) }
