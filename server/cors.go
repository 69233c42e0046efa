package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// cors lets browser-based clients (web UIs on another origin) call the API.
// Keys travel in the Authorization header, never in cookies, so any origin
// may call and credentials are not allowed.
func cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req, h := c.Request(), c.Response().Header()
		if req.Header.Get(echo.HeaderOrigin) == "" {
			return next(c)
		}
		h.Add(echo.HeaderVary, echo.HeaderOrigin)
		h.Set(echo.HeaderAccessControlAllowOrigin, "*")
		if req.Method != http.MethodOptions || req.Header.Get(echo.HeaderAccessControlRequestMethod) == "" {
			h.Set(echo.HeaderAccessControlExposeHeaders, "X-Request-Id, Retry-After")
			return next(c)
		}
		// Preflight: answer it here, for every path.
		h.Set(echo.HeaderAccessControlAllowMethods, "GET, POST, PUT, DELETE, OPTIONS")
		if hdrs := req.Header.Get(echo.HeaderAccessControlRequestHeaders); hdrs != "" {
			h.Set(echo.HeaderAccessControlAllowHeaders, hdrs)
		}
		h.Set(echo.HeaderAccessControlMaxAge, "86400")
		return c.NoContent(http.StatusNoContent)
	}
}
