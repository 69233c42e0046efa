package accountsapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/server/webui"
	"github.com/labstack/echo/v4"
)

// info answers GET /api_user/info?openid=…[&type=json], and the POST of the
// key form below. Who may see an account follows the auth mode, as for the
// API itself:
//   - none: the local account, without proof;
//   - key: one of the account's keys;
//   - openid: the openid (the credential of that mode; a Bearer value that
//     is no key is ignored, a key of another account refused), or a key
//     alone;
//
// and the admin key sees any account. Without type=json it renders the
// account page (package webui) in the browser's language; a browser that
// sent no usable credential gets a small form to enter a key, which posts it
// back to this URL and is kept nowhere else.
func (h *handlers) info(c echo.Context) error {
	req := c.Request()
	openid := c.QueryParam("openid")
	asJSON := c.QueryParam("type") == "json"
	key := bearer(req.Header)
	if key == "" && req.Method == http.MethodPost {
		key = strings.TrimSpace(c.FormValue("key"))
	}
	ctx := req.Context()
	if key != "" && h.svc.CheckAdminKey(key) == nil {
		if openid == "" {
			return badRequest(c, "openid", "The admin key needs an openid.")
		}
	} else {
		id, err := h.svc.Authenticate(ctx, accounts.AuthInput{BearerKey: key, PathOpenID: openid})
		if err != nil {
			if !asJSON && (errors.Is(err, accounts.ErrUnauthenticated) || errors.Is(err, accounts.ErrForbidden)) {
				return h.keyForm(c, openid, key, err)
			}
			return h.fail(c, err)
		}
		openid = id.OpenID
	}
	info, err := h.svc.Info(ctx, openid)
	if err != nil {
		return h.fail(c, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if asJSON {
		return c.JSON(http.StatusOK, info)
	}
	page, err := webui.AccountPage(req, info)
	if err != nil {
		return writeError(c, APIError(err, h.svc.Currency()))
	}
	return c.HTMLBlob(http.StatusOK, page)
}

// keyForm asks a browser for a key: 200 when it sent none (the page is how
// a person signs in), else the refusal's status with its reason.
func (h *handlers) keyForm(c echo.Context, openid, presented string, refusal error) error {
	status, failure := http.StatusOK, ""
	if presented != "" {
		ae := APIError(refusal, h.svc.Currency())
		status, failure = ae.Status, ae.Message
	}
	page, err := webui.AccountKeyPage(c.Request(), openid, failure)
	if err != nil {
		return writeError(c, APIError(err, h.svc.Currency()))
	}
	hd := c.Response().Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", webui.KeyPagePolicy)
	hd.Set("X-Frame-Options", "DENY")
	return c.HTMLBlob(status, page)
}
