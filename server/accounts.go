package server

import (
	"context"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/models"
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
		// /v1/suspend_current_generate behind the /llm_api/ rewrite.
		Caller: func(ctx context.Context) (string, string, bool) {
			r := requestFrom(ctx)
			if r == nil || !r.viaLLM {
				return "", "", false
			}
			return r.openID, r.userID, true
		},
		Logger: s.logger,
	}
	s.gate = accountsapi.NewGate(s.accounts, opts)
	s.settings.Currency = s.accounts.Currency()
	svc := s.accounts
	s.extraRoutes = append(s.extraRoutes, func(e *echo.Echo) { accountsapi.Register(e, svc, opts) })
}

// modelPolicy tells the accounts layer a model's price, rate limit and
// context (which bounds what a request may cost).
func (s *Server) modelPolicy(model string) (accountsapi.ModelPolicy, bool) {
	e, err := s.catalog.Lookup(model)
	if err != nil {
		return accountsapi.ModelPolicy{}, false
	}
	return accountsapi.ModelPolicy{Pricing: pricingOf(e), RateLimit: e.Model.RateLimit, Context: e.ContextLength}, true
}

func pricingOf(e models.Entry) accounts.Pricing {
	p := e.Model.Pricing
	return accounts.NewPricing(p.InputPer1K, p.OutputPer1K, p.CachedInputPer1K, p.PerSecond, p.MaxSeconds)
}
