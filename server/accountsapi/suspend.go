package accountsapi

import (
	"net/http"

	"github.com/ggufd/ggufd/accounts"
	"github.com/labstack/echo/v4"
)

// SuspendResult answers a suspend request.
type SuspendResult struct {
	OpenID  string `json:"openid"`
	UserID  string `json:"userid,omitempty"` // "": the whole account
	Stopped int    `json:"stopped"`
}

// suspend stops the caller's running and queued generations: one end user's,
// or the whole account's when userid is empty. It authenticates like a
// generation request, so whoever may generate for an account may stop it.
func (h *handlers) suspend(c echo.Context) error {
	openid, userid := c.Param("openid"), c.Param("userid")
	if openid == "" {
		openid, userid = c.QueryParam("openid"), c.QueryParam("userid")
	}
	if openid == "" && h.opts.Caller != nil {
		if o, u, ok := h.opts.Caller(c.Request().Context()); ok {
			openid, userid = o, u
		}
	}
	id, err := h.svc.Authenticate(c.Request().Context(), accounts.AuthInput{
		BearerKey: bearer(c.Request().Header), PathOpenID: openid,
	})
	if err != nil {
		return h.fail(c, err)
	}
	n, err := h.svc.Suspend(c.Request().Context(), id.OpenID, userid)
	if err != nil {
		return writeError(c, APIError(err, h.svc.Currency()))
	}
	return c.JSON(http.StatusOK, SuspendResult{OpenID: id.OpenID, UserID: userid, Stopped: n})
}
