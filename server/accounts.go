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

// modelPolicy tells the accounts layer a model's price, rate limit, context
// (which bounds what a request may cost) and, for per-second prices, its
// speed (from which the reservation is reckoned).
func (s *Server) modelPolicy(model string) (accountsapi.ModelPolicy, bool) {
	e, err := s.catalog.Lookup(model)
	if err != nil {
		return accountsapi.ModelPolicy{}, false
	}
	pol := accountsapi.ModelPolicy{Pricing: pricingOf(e), RateLimit: e.Model.RateLimit, Context: e.ContextLength}
	if pol.Pricing.PerSecond != 0 && s.modelSpeed != nil {
		if sp, err := s.modelSpeed(e.Name); err == nil {
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

func pricingOf(e models.Entry) accounts.Pricing {
	p := e.Model.Pricing
	return accounts.NewPricing(p.InputPer1K, p.OutputPer1K, p.CachedInputPer1K, p.PerSecond, p.MaxSeconds)
}
