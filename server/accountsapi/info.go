package accountsapi

import (
	"net/http"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/server/webui"
	"github.com/labstack/echo/v4"
)

// info answers GET /api_user/info?openid=…[&type=json]. The caller proves it
// owns the account with one of its keys (or the admin key); in auth mode none
// the local account needs no proof. Without type=json it renders the account
// page (package webui) in the browser's language.
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
	page, err := webui.AccountPage(c.Request(), info)
	if err != nil {
		return writeError(c, APIError(err, h.svc.Currency()))
	}
	return c.HTMLBlob(http.StatusOK, page)
}
