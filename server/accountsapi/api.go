// Package accountsapi is the HTTP face of package accounts: the user info and
// suspend endpoints of the provider ggufd replaces, an admin API, and the Gate
// the generation handlers pass every request through.
//
// The server wires it with server.WithAccounts(svc): the Gate is the
// server's Gatekeeper (Authenticate from the headers, then Admit once the
// body is parsed; the work runs under the returned context, and
// Ticket.Finish settles it with the usage and the HTTP status), and
// Register's routes are mounted beside the API.
package accountsapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/ggufd/ggufd/accounts"
	"github.com/labstack/echo/v4"
)

// ModelPolicy is what the Gate needs to know about a model (from its config).
type ModelPolicy struct {
	Pricing accounts.Pricing
	// RateLimit is the model's requests per minute, per account; 0: none.
	RateLimit int
	// Context is tokens per sequence; it bounds the reservation of requests
	// whose prompt size or max_tokens is unknown. 0: Options.DefaultContext.
	Context int
	// Speed is the model's compute per token, from which a per-second
	// price reserves; zero: unknown.
	Speed accounts.Speed
}

// DefaultContext bounds reservations for models of unknown context size.
const DefaultContext = 32768

// Options configures Register and NewGate.
type Options struct {
	// Policy returns a model's policy; nil or !ok means free and unlimited.
	Policy func(model string) (ModelPolicy, bool)
	// Caller returns the openid/userid the server took from an
	// /llm_api/{openid}/{userid}/... URL it rewrote; it lets
	// /v1/suspend_current_generate work behind that rewrite.
	Caller func(ctx context.Context) (openid, userid string, ok bool)
	// DefaultContext replaces the package DefaultContext when positive.
	DefaultContext int
	// Logger receives settlement failures (never request content).
	Logger *slog.Logger
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func (o Options) policy(model string) ModelPolicy {
	var p ModelPolicy
	if o.Policy != nil {
		if got, ok := o.Policy(model); ok {
			p = got
		}
	}
	if p.Context <= 0 {
		p.Context = o.DefaultContext
		if p.Context <= 0 {
			p.Context = DefaultContext
		}
	}
	return p
}

// Register mounts the account endpoints:
//
//	GET  /api_user/info?openid=…[&type=json] (POST: its key form)
//	GET|POST /llm_api/suspend_current_generate?openid=…&userid=…
//	GET|POST /llm_api/:openid/:userid/:ai_system/v1/suspend_current_generate
//	GET|POST /v1/suspend_current_generate (behind the server's /llm_api rewrite)
//	/admin/… (see registerAdmin)
func Register(e *echo.Echo, svc *accounts.Service, opts Options) {
	h := &handlers{svc: svc, opts: opts}
	e.GET("/api_user/info", h.info)
	e.POST("/api_user/info", h.info) // the account page's key form
	for _, p := range []string{
		"/llm_api/suspend_current_generate",
		"/llm_api/:openid/:userid/:ai_system/v1/suspend_current_generate",
		"/v1/suspend_current_generate",
	} {
		e.GET(p, h.suspend)
		e.POST(p, h.suspend)
	}
	h.registerAdmin(e.Group("/admin"))
}

type handlers struct {
	svc  *accounts.Service
	opts Options
}

// bearer returns the token of an "Authorization: Bearer …" header.
func bearer(h http.Header) string {
	v := h.Get("Authorization")
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}
