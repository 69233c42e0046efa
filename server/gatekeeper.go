package server

import (
	"context"
	"net/http"

	"github.com/ggufd/ggufd/engine"
	"github.com/labstack/echo/v4"
)

// Gatekeeper is the hook for the accounts layer (authentication, balances,
// rate limits, suspension). The default admits everything.
//
// Admission has two steps. Authenticate runs first, on the request line and
// headers alone, before the body is read: a caller who cannot authenticate
// is refused (401) before it costs more than its headers, and before its
// body is validated or its model looked up, so no error about the body and
// no model name reaches it. The Pass it returns admits the request once the
// body is parsed and the model resolved, before the model is acquired.
//
// Returning an error rejects the request; a *apierror.Error is sent as is
// (401, 403, 429 with Retry-After). The context Admit returns replaces the
// request's: cancelling it (e.g. when the account is suspended) stops the
// generation, and Ticket.Suspended tells the handler to finish the response
// normally with finish_reason "stop".
type Gatekeeper interface {
	Authenticate(ctx context.Context, call Call) (Pass, error)
}

// Pass is an authenticated caller.
type Pass interface {
	Admit(ctx context.Context, call Call) (context.Context, Ticket, error)
}

// Call describes an API request to the gatekeeper. Authenticate gets the
// fields known before the body is read: RequestID, OpenID, UserID (from the
// path only) and Header.
type Call struct {
	RequestID    string
	Endpoint     string   // "chat.completions", "completions", "embeddings", "models", "tokenize"...
	Model        string   // canonical model name; "" for endpoints without one
	ModelAliases []string // Model's other names (a key allowed one of them may use it)
	OpenID       string   // from /llm_api/{openid}/{userid}/...; "" otherwise
	UserID       string   // from the path, else the body's "user" field
	MaxTokens    int      // one choice's completion budget after capping; 0: unbounded
	// Prompts is how many prompts the request holds and Choices how many
	// completions each gets (n); every one may use MaxTokens. 0 means 1.
	Prompts, Choices int
	BodyBytes        int64 // the request body's size, a bound on the prompt's tokens
	Header           http.Header
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

func (openGate) Authenticate(context.Context, Call) (Pass, error) { return openPass{}, nil }

type openPass struct{}

func (openPass) Admit(ctx context.Context, _ Call) (context.Context, Ticket, error) {
	return ctx, noTicket{}, nil
}

type noTicket struct{}

func (noTicket) Finish(engine.Usage) {}
func (noTicket) Suspended() bool     { return false }

// authenticate is the first middleware of every API route: it runs the
// gatekeeper's first step before the handler reads the body.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, err := s.passOf(c); err != nil {
			return err
		}
		return next(c)
	}
}

// passOf authenticates the request's caller, once.
func (s *Server) passOf(c echo.Context) (Pass, error) {
	rs := stateOf(c)
	if rs.pass != nil {
		return rs.pass, nil
	}
	req := c.Request()
	pass, err := s.gate.Authenticate(req.Context(), Call{
		RequestID: rs.id, OpenID: rs.openID, UserID: rs.userID, Header: req.Header,
	})
	if err != nil {
		return nil, err
	}
	rs.pass = pass
	return pass, nil
}

// admit asks the caller's pass to admit call, which names the endpoint,
// the model and the completion budget; the rest comes from the request. The
// returned context replaces the request's.
func (s *Server) admit(c echo.Context, call Call) (context.Context, Ticket, error) {
	pass, err := s.passOf(c)
	if err != nil {
		return nil, nil, err
	}
	rs := stateOf(c)
	req := c.Request()
	call.RequestID, call.OpenID, call.UserID = rs.id, rs.openID, rs.userID
	if call.UserID == "" {
		call.UserID = rs.bodyUser
	}
	if call.BodyBytes <= 0 {
		call.BodyBytes = req.ContentLength // the body bounds the prompt's tokens
	}
	call.Header = req.Header
	ctx, t, err := pass.Admit(req.Context(), call)
	if err != nil {
		return nil, nil, err
	}
	if rh, ok := t.(rateLimitHeaderer); ok {
		for k, v := range rh.RateLimitHeaders() {
			c.Response().Header().Set(k, v)
		}
	}
	return ctx, t, nil
}
