// Package gatekeeper adapts accountsapi.Gate to the server's Gatekeeper hook.
// It is separate from accountsapi because the server package links
// llama.cpp, which the accounts endpoints and their tests do not need.
package gatekeeper

import (
	"context"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/server"
	"github.com/ggufd/ggufd/server/accountsapi"
)

// Gatekeeper implements server.Gatekeeper over an accountsapi.Gate.
type Gatekeeper struct {
	gate     *accountsapi.Gate
	currency string
}

var _ server.Gatekeeper = (*Gatekeeper)(nil)

// New wraps gate; currency labels insufficient-quota messages.
func New(gate *accountsapi.Gate, currency string) *Gatekeeper {
	return &Gatekeeper{gate: gate, currency: currency}
}

// Caller reads the openid/userid the server took from an /llm_api/ URL; pass
// it as accountsapi.Options.Caller.
func Caller(ctx context.Context) (openid, userid string, ok bool) {
	c, ok := server.CallerFrom(ctx)
	return c.OpenID, c.UserID, ok
}

// Admit implements server.Gatekeeper. Errors are *apierror.Error.
func (g *Gatekeeper) Admit(ctx context.Context, call server.Call) (context.Context, server.Ticket, error) {
	gctx, t, err := g.gate.Admit(ctx, accountsapi.Request{
		RequestID: call.RequestID,
		Endpoint:  call.Endpoint,
		Model:     call.Model,
		OpenID:    call.OpenID,
		UserID:    call.UserID,
		MaxTokens: call.MaxTokens,
		Header:    call.Header,
	})
	if err != nil {
		return nil, nil, accountsapi.APIError(err, g.currency)
	}
	return gctx, Ticket{t}, nil
}

// Ticket implements server.Ticket. Beyond the interface it offers FinishWith
// (finish reason and HTTP status for the ledger) and RateLimitHeaders (the
// x-ratelimit-* values to send); the server may type-assert for them.
type Ticket struct{ t *accountsapi.Ticket }

// Finish implements server.Ticket; the ledger gets no finish reason (or
// "stop" if suspended) and status 200 for work done.
func (t Ticket) Finish(u engine.Usage) { t.FinishWith(u, "", 0) }

// FinishWith settles with the request's finish reason and HTTP status.
func (t Ticket) FinishWith(u engine.Usage, finishReason string, status int) {
	if status == 0 && (u.PromptTokens > 0 || u.CompletionTokens > 0) {
		status = 200
	}
	t.t.Finish(accounts.Usage{
		PromptTokens:     u.PromptTokens,
		CachedTokens:     u.CachedTokens,
		CompletionTokens: u.CompletionTokens,
		Processing:       u.ProcessingDuration(),
		FinishReason:     finishReason,
		HTTPStatus:       status,
	})
}

// Suspended implements server.Ticket.
func (t Ticket) Suspended() bool { return t.t.Suspended() }

// MaxProcessing is when a per-second priced request stops being billed (0:
// no cap); the server should end the generation there.
func (t Ticket) MaxProcessing() time.Duration { return t.t.MaxProcessing() }

// RateLimitHeaders are the x-ratelimit-* headers for the response.
func (t Ticket) RateLimitHeaders() map[string]string { return t.t.RateHeaders.Fields() }
