package server

import (
	"context"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/server/accountsapi"
	"github.com/labstack/echo/v4"
)

// WithAccounts puts every API request through the accounts service
// (authentication, rate limits, balances, suspension) and mounts its
// endpoints (/api_user/info, suspend_current_generate, /admin/...).
func WithAccounts(svc *accounts.Service) Option {
	return func(s *Server) { s.accounts = svc }
}

func (s *Server) installAccounts() {
	opts := accountsapi.Options{
		Policy: s.modelPolicy,
		Caller: func(ctx context.Context) (string, string, bool) {
			c, ok := CallerFrom(ctx)
			return c.OpenID, c.UserID, ok
		},
		Logger: s.logger,
	}
	s.gate = &accountsGate{gate: accountsapi.NewGate(s.accounts, opts), svc: s.accounts}
	svc := s.accounts
	s.extraRoutes = append(s.extraRoutes, func(e *echo.Echo) { accountsapi.Register(e, svc, opts) })
}

// modelPolicy tells the accounts layer a model's price, rate limit, context
// (which bounds what a request may cost) and, for per-second prices, its
// speed (from which the reservation is reckoned).
func (s *Server) modelPolicy(model string) (accountsapi.ModelPolicy, bool) {
	info, err := s.catalog.Lookup(model)
	if err != nil {
		return accountsapi.ModelPolicy{}, false
	}
	pol := accountsapi.ModelPolicy{
		Pricing:   pricingOf(info),
		RateLimit: info.RateLimit,
		Context:   info.ContextLength,
	}
	if pol.Pricing.PerSecond != 0 && s.modelSpeed != nil {
		if sp, err := s.modelSpeed(info.ID); err == nil {
			pol.Speed = accounts.Speed{PromptToken: sp.PromptToken, GenToken: sp.GenToken}
		}
	}
	return pol, true
}

// currency is the unit prices are shown in: the accounts service's, which
// follows reloads, else the one configured at start.
func (s *Server) currency() string {
	if s.accounts != nil {
		return s.accounts.Currency()
	}
	return s.settings.Currency
}

// modelFilter is a Pass that knows which models its caller may use.
type modelFilter interface {
	MayUse(names ...string) bool
}

func pricingOf(info ModelInfo) accounts.Pricing {
	p := info.Pricing
	return accounts.NewPricing(p.InputPer1K, p.OutputPer1K, p.CachedInputPer1K, p.PerSecond, p.MaxSeconds)
}

// accountsGate adapts accountsapi.Gate to Gatekeeper.
type accountsGate struct {
	gate *accountsapi.Gate
	svc  *accounts.Service // its currency follows reloads
}

func (g *accountsGate) Authenticate(ctx context.Context, call Call) (Pass, error) {
	id, err := g.gate.Authenticate(ctx, accountsapi.Request{
		RequestID: call.RequestID, OpenID: call.OpenID, UserID: call.UserID, Header: call.Header,
	})
	if err != nil {
		return nil, accountsapi.APIError(err, g.svc.Currency())
	}
	return accountsPass{g: g, id: id}, nil
}

// accountsPass admits the requests of an authenticated identity.
type accountsPass struct {
	g  *accountsGate
	id accounts.Identity
}

func (p accountsPass) Admit(ctx context.Context, call Call) (context.Context, Ticket, error) {
	gctx, t, err := p.g.gate.Admit(ctx, accountsapi.Request{
		RequestID: call.RequestID, Endpoint: call.Endpoint, Model: call.Model, ModelAliases: call.ModelAliases,
		Identity: &p.id, OpenID: call.OpenID, UserID: call.UserID, Header: call.Header,
		MaxTokens: call.MaxTokens, Prompts: call.Prompts, Choices: call.Choices, BodyBytes: call.BodyBytes,
	})
	if err != nil {
		return nil, nil, accountsapi.APIError(err, p.g.svc.Currency())
	}
	return gctx, accountsTicket{t}, nil
}

// MayUse reports whether the caller's key allows the model known by names.
func (p accountsPass) MayUse(names ...string) bool { return p.id.CheckModel(names...) == nil }

type accountsTicket struct{ t *accountsapi.Ticket }

func (t accountsTicket) Finish(u engine.Usage) { t.FinishWith(u, "", 0) }
func (t accountsTicket) Suspended() bool       { return t.t.Suspended() }

func (t accountsTicket) FinishWith(u engine.Usage, finishReason string, status int) {
	t.t.Finish(accounts.Usage{
		PromptTokens: u.PromptTokens, CachedTokens: u.CachedTokens, CompletionTokens: u.CompletionTokens,
		Processing: u.ProcessingDuration(), FinishReason: finishReason, HTTPStatus: status,
	})
}

func (t accountsTicket) RateLimitHeaders() map[string]string { return t.t.RateHeaders.Fields() }
