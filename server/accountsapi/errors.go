package accountsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/server/apierror"
	"github.com/labstack/echo/v4"
)

// APIError maps an accounts error to the OpenAI error the client gets.
// Unknown errors become a 500 whose message reveals nothing internal; the
// error is its Cause, for the log (see logFailure).
func APIError(err error, currency string) *apierror.Error {
	var ae *apierror.Error
	var quota *accounts.QuotaError
	var rl *accounts.RateLimitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, context.Canceled):
		// The client went away while its request was being admitted
		// (e.g. during the key lookup): not a fault of the service.
		return apierror.ClientClosed()
	case errors.Is(err, accounts.ErrAdminKey):
		return apierror.New(http.StatusUnauthorized, apierror.TypeAuthentication, "invalid_admin_key", "",
			"This endpoint needs the admin key (Authorization: Bearer or X-Admin-Key).")
	case errors.Is(err, accounts.ErrUnauthenticated):
		return apierror.InvalidAPIKey("%s.", capitalize(reason(err, accounts.ErrUnauthenticated)))
	case errors.Is(err, accounts.ErrAccountMismatch):
		return apierror.Forbidden("account_mismatch", "The API key does not belong to this account.")
	case errors.Is(err, accounts.ErrModelNotAllowed):
		return apierror.Forbidden("model_not_allowed", "The API key may not use this model.")
	case errors.As(err, &quota):
		return apierror.InsufficientQuota("You exceeded your current quota: this request may cost up to %s %s and %s %s is available. Top up the account to continue.",
			quota.Needed, currency, quota.Available, currency)
	case errors.Is(err, accounts.ErrInsufficientBalance):
		return apierror.InsufficientQuota("You exceeded your current quota. Top up the account to continue.")
	case errors.As(err, &rl):
		e := apierror.RateLimited("rate_limit_exceeded", rl.RetryAfter, "%s.", capitalize(rl.Error()))
		e.Header = http.Header{}
		for k, v := range rl.Headers.Fields() {
			e.Header.Set(k, v)
		}
		return e
	case errors.Is(err, accounts.ErrAccountNotFound):
		return apierror.New(http.StatusNotFound, apierror.TypeNotFound, "account_not_found", "openid", "No such account.")
	case errors.Is(err, accounts.ErrKeyNotFound):
		return apierror.New(http.StatusNotFound, apierror.TypeNotFound, "key_not_found", "id", "No such API key.")
	case errors.Is(err, accounts.ErrAccountExists):
		return apierror.New(http.StatusConflict, apierror.TypeInvalidRequest, "account_exists", "openid", "The account already exists.")
	case errors.Is(err, accounts.ErrInvalidArgument):
		return apierror.BadRequest("invalid_value", "%s", capitalize(reason(err, accounts.ErrInvalidArgument)))
	default:
		ae := apierror.Internal("The accounts service failed; try again later.")
		ae.Cause = err
		return ae
	}
}

// logFailure logs the cause of a 500 with the request id, so an operator
// can match the client's report (X-Request-Id) to what went wrong.
func logFailure(logger *slog.Logger, requestID string, ae *apierror.Error) {
	if ae != nil && ae.Status >= http.StatusInternalServerError {
		logger.Error("accounts service failed", "request_id", requestID, "err", ae.Cause)
	}
}

// reason is err's message without the class prefix ("invalid argument: x" → "x").
func reason(err, class error) string {
	msg := err.Error()
	prefix := class.Error() + ": "
	for i := 0; i+len(prefix) <= len(msg); i++ {
		if msg[i:i+len(prefix)] == prefix {
			return msg[i+len(prefix):]
		}
	}
	return msg
}

func capitalize(s string) string {
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// writeError sends ae with its headers. Handlers write errors themselves so
// the routes behave the same on any Echo, with or without ggufd's error
// handler.
func writeError(c echo.Context, ae *apierror.Error) error {
	ae.WriteHeaders(c.Response().Header())
	return c.JSON(ae.Status, apierror.Body{Error: ae})
}

// fail answers with err's API error, logging the cause of a 500.
func (h *handlers) fail(c echo.Context, err error) error {
	ae := APIError(err, h.svc.Currency())
	logFailure(h.opts.logger(), c.Response().Header().Get(echo.HeaderXRequestID), ae)
	return writeError(c, ae)
}

func badRequest(c echo.Context, param, format string, args ...any) error {
	return writeError(c, apierror.InvalidParam(param, "%s", fmt.Sprintf(format, args...)))
}
