package server

import (
	"context"
	"net/http"

	"github.com/ggufd/ggufd/engine"
)

// Gatekeeper is the hook for the accounts layer (authentication, balances,
// rate limits, suspension). The default admits everything.
//
// Admit runs once per API request after the body is parsed and the model
// resolved, before the model is acquired. Returning an error rejects the
// request; a *apierror.Error is sent as is (401, 403, 429 with Retry-After).
// The returned context replaces the request's: cancelling it (e.g. when the
// account is suspended) stops the generation, and Ticket.Suspended tells the
// handler to finish the response normally with finish_reason "stop".
type Gatekeeper interface {
	Admit(ctx context.Context, call Call) (context.Context, Ticket, error)
}

// Call describes an API request to the gatekeeper.
type Call struct {
	RequestID string
	Endpoint  string // "chat.completions", "completions", "embeddings", "models", "tokenize"...
	Model     string // canonical model name; "" for endpoints without one
	OpenID    string // from /llm_api/{openid}/{userid}/...; "" otherwise
	UserID    string // from the path, else the body's "user" field
	MaxTokens int    // the request's completion budget after capping; 0: unbounded
	BodyBytes int64  // the request body's size, a bound on the prompt's tokens
	Header    http.Header
}

// Ticket follows one admitted request.
type Ticket interface {
	// Finish is called exactly once when the request ends, with what it used
	// (zero Usage for requests that never reached the engine).
	Finish(usage engine.Usage)
	// Suspended reports whether the gatekeeper cancelled the request's
	// context on purpose.
	Suspended() bool
}

// Optional Ticket methods the server uses when present.
type (
	// finisherWith settles with the response's finish reason and status.
	finisherWith interface {
		FinishWith(u engine.Usage, finishReason string, status int)
	}
	// rateLimitHeaderer gives x-ratelimit-* headers for the response.
	rateLimitHeaderer interface {
		RateLimitHeaders() map[string]string
	}
)

func finishTicket(t Ticket, u engine.Usage, finishReason string, status int) {
	if f, ok := t.(finisherWith); ok {
		f.FinishWith(u, finishReason, status)
		return
	}
	t.Finish(u)
}

type openGate struct{}

func (openGate) Admit(ctx context.Context, _ Call) (context.Context, Ticket, error) {
	return ctx, noTicket{}, nil
}

type noTicket struct{}

func (noTicket) Finish(engine.Usage) {}
func (noTicket) Suspended() bool     { return false }
