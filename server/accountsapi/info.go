package accountsapi

import (
	"bytes"
	"html/template"
	"net/http"

	"github.com/ggufd/ggufd/accounts"
	"github.com/labstack/echo/v4"
)

// info answers GET /api_user/info?openid=…[&type=json]. The caller proves it
// owns the account with one of its keys (or the admin key); in auth mode none
// the local account needs no proof. Without type=json it renders a small HTML
// page for people.
func (h *handlers) info(c echo.Context) error {
	openid := c.QueryParam("openid")
	ctx := c.Request().Context()
	key := bearer(c.Request().Header)
	switch {
	case key != "" && h.svc.CheckAdminKey(key) == nil:
		if openid == "" {
			return badRequest(c, "openid", "The admin key needs an openid.")
		}
	case h.svc.Mode() == accounts.ModeNone:
		id, err := h.svc.Authenticate(ctx, accounts.AuthInput{})
		if err != nil {
			return h.fail(c, err)
		}
		openid = id.OpenID
	default:
		// Knowing an openid is not proof of owning it: a key is required
		// even in openid mode.
		id, err := h.svc.Authenticate(ctx, accounts.AuthInput{Mode: accounts.ModeKey, BearerKey: key, PathOpenID: openid})
		if err != nil {
			return h.fail(c, err)
		}
		openid = id.OpenID
	}
	info, err := h.svc.Info(ctx, openid)
	if err != nil {
		return h.fail(c, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if c.QueryParam("type") == "json" {
		return c.JSON(http.StatusOK, info)
	}
	var buf bytes.Buffer
	if err := infoPage.Execute(&buf, info); err != nil {
		return h.fail(c, err)
	}
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}

// infoPage is escaped by html/template: names and model ids are tenant-chosen.
var infoPage = template.Must(template.New("info").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Account {{.OpenID}}</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:right}td:first-child,th:first-child{text-align:left}</style>
</head><body>
<h1>Account {{.OpenID}}{{if .Name}} ({{.Name}}){{end}}</h1>
<table>
<tr><td>Balance</td><td>{{.Balance}} {{.Currency}}</td></tr>
<tr><td>Available now</td><td>{{.Available}} {{.Currency}}</td></tr>
<tr><td>Total spent</td><td>{{.TotalSpent}} {{.Currency}}</td></tr>
<tr><td>Total topped up</td><td>{{.TotalTopUp}} {{.Currency}}</td></tr>
<tr><td>Running requests</td><td>{{.Running}}</td></tr>
<tr><td>Requests per minute</td><td>{{with .Limits.RequestsPerMinute}}{{.}}{{else}}unlimited{{end}}</td></tr>
<tr><td>Tokens per minute</td><td>{{with .Limits.TokensPerMinute}}{{.}}{{else}}unlimited{{end}}</td></tr>
<tr><td>Concurrent requests</td><td>{{with .Limits.MaxConcurrent}}{{.}}{{else}}unlimited{{end}}</td></tr>
</table>
<h2>Usage by model</h2>
{{if .Usage}}<table>
<tr><th>Model</th><th>Requests</th><th>Prompt tokens</th><th>Cached</th><th>Completion tokens</th><th>Seconds</th><th>Cost ({{.Currency}})</th></tr>
{{range .Usage}}<tr><td>{{.Model}}</td><td>{{.Requests}}</td><td>{{.PromptTokens}}</td><td>{{.CachedTokens}}</td><td>{{.CompletionTokens}}</td><td>{{printf "%.1f" .Seconds}}</td><td>{{.Cost}}</td></tr>
{{end}}</table>{{else}}<p>No usage yet.</p>{{end}}
</body></html>
`))
