// Package apierror is the OpenAI error object every ggufd endpoint answers
// with: {"error":{"message","type","param","code"}} and an HTTP status.
package apierror

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error types, as OpenAI names them.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeInsufficient   = "insufficient_quota"
	TypeServer         = "server_error"
	TypeUnavailable    = "service_unavailable_error"
)

// Error is an API error. It implements error so handlers can return it.
type Error struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
	// RetryAfter, when positive, is sent as the Retry-After header (seconds, rounded up).
	RetryAfter time.Duration `json:"-"`
	// Header holds extra response headers (e.g. x-ratelimit-*).
	Header http.Header `json:"-"`
	// Cause is the internal error behind a 500, for the log only: the
	// client sees Message, which must not reveal it.
	Cause error `json:"-"`
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Type, e.Message, e.Cause)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

// Unwrap returns the cause, so errors.Is and errors.As see through to it.
func (e *Error) Unwrap() error { return e.Cause }

// Body is the JSON document sent to the client.
type Body struct {
	Error *Error `json:"error"`
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// New builds an error; empty param or code become JSON null.
func New(status int, typ, code, param, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Code: str(code), Param: str(param), Message: fmt.Sprintf(format, args...)}
}

// InvalidParam is a 400 naming the offending parameter.
func InvalidParam(param, format string, args ...any) *Error {
	return New(http.StatusBadRequest, TypeInvalidRequest, "invalid_value", param, format, args...)
}

// BadRequest is a 400 without a specific parameter.
func BadRequest(code, format string, args ...any) *Error {
	return New(http.StatusBadRequest, TypeInvalidRequest, code, "", format, args...)
}

// InvalidAPIKey is OpenAI's 401 for a wrong, missing, revoked or expired key.
func InvalidAPIKey(format string, args ...any) *Error {
	return New(http.StatusUnauthorized, TypeInvalidRequest, "invalid_api_key", "", format, args...)
}

// Forbidden is a 403 (e.g. a key used outside its model allow-list).
func Forbidden(code, format string, args ...any) *Error {
	return New(http.StatusForbidden, TypePermission, code, "", format, args...)
}

// ModelNotFound is a 404 for an unknown model.
func ModelNotFound(format string, args ...any) *Error {
	return New(http.StatusNotFound, TypeInvalidRequest, "model_not_found", "model", format, args...)
}

// RateLimited is a 429 with Retry-After.
func RateLimited(code string, retryAfter time.Duration, format string, args ...any) *Error {
	e := New(http.StatusTooManyRequests, TypeRateLimit, code, "", format, args...)
	e.RetryAfter = retryAfter
	return e
}

// InsufficientQuota is OpenAI's 429 for a balance that does not cover a request.
func InsufficientQuota(format string, args ...any) *Error {
	return New(http.StatusTooManyRequests, TypeInsufficient, "insufficient_quota", "", format, args...)
}

// Unavailable is a 503 (model cannot be loaded now, server shutting down).
func Unavailable(code string, retryAfter time.Duration, format string, args ...any) *Error {
	e := New(http.StatusServiceUnavailable, TypeUnavailable, code, "", format, args...)
	e.RetryAfter = retryAfter
	return e
}

// Internal is a 500 for real internal faults. The message must not leak
// request content.
func Internal(format string, args ...any) *Error {
	return New(http.StatusInternalServerError, TypeServer, "internal_error", "", format, args...)
}

// StatusClientClosed is nginx's 499: the client closed the connection
// before the answer. Nobody reads the response; the status is for logs and
// the ledger.
const StatusClientClosed = 499

// ClientClosed is the error of a request whose client went away.
func ClientClosed() *Error {
	return New(StatusClientClosed, TypeInvalidRequest, "request_cancelled", "", "The request was cancelled.")
}

// WriteHeaders sets Retry-After and the extra headers of e on h.
func (e *Error) WriteHeaders(h http.Header) {
	for k, vs := range e.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if e.RetryAfter > 0 {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.Itoa(secs))
	}
}
