package server

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// maxRequestIDLen bounds client-supplied X-Request-Id values we echo back.
const maxRequestIDLen = 128

// observe is the outermost middleware: it assigns the request id, renders
// errors itself (so it knows the final status) and writes one log line.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		rs := &requestState{id: req.Header.Get(echo.HeaderXRequestID), start: time.Now()}
		if rs.id == "" || len(rs.id) > maxRequestIDLen || !printable(rs.id) {
			rs.id = newID()
		}
		c.Set(stateKey, rs)
		c.Response().Header().Set(echo.HeaderXRequestID, rs.id)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), requestIDKey, rs.id)))

		if err := next(c); err != nil {
			s.handleError(err, c)
		}
		if rs.status == 0 {
			rs.status = c.Response().Status
		}
		s.logRequest(c, rs)
		return nil
	}
}

func (s *Server) logRequest(c echo.Context, rs *requestState) {
	attrs := []slog.Attr{
		slog.String("request_id", rs.id),
		slog.String("method", c.Request().Method),
		slog.String("path", c.Request().URL.Path),
		slog.Int("status", rs.status),
		slog.Duration("duration", time.Since(rs.start)),
	}
	if rs.viaLLM {
		attrs = append(attrs, slog.String("openid", rs.openID), slog.String("userid", rs.userID))
	}
	if rs.model != "" {
		attrs = append(attrs, slog.String("model", rs.model))
	}
	if u := rs.usage; u.PromptTokens > 0 || u.CompletionTokens > 0 {
		attrs = append(attrs,
			slog.Int("prompt_tokens", u.PromptTokens),
			slog.Int("cached_tokens", u.CachedTokens),
			slog.Int("completion_tokens", u.CompletionTokens),
			slog.Duration("queue", u.QueueDuration),
			slog.Duration("prompt_eval", u.PromptDuration),
			slog.Duration("generation", u.GenerationDuration))
	}
	if rs.ttft > 0 {
		attrs = append(attrs, slog.Duration("ttft", rs.ttft))
	}
	if rs.errCode != "" {
		attrs = append(attrs, slog.String("error", rs.errCode))
	}
	level := slog.LevelInfo
	if rs.status >= 500 {
		level = slog.LevelError
	}
	s.logger.LogAttrs(c.Request().Context(), level, "request", attrs...)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// llmAPIPrefix is our users' existing URL form:
// /llm_api/{openid}/{userid}/{ai_system}/v1/... where ai_system names the
// model (empty: use the body's model).
const llmAPIPrefix = "/llm_api/"

// rewriteLLMAPI strips the /llm_api/{openid}/{userid}/{ai_system} prefix
// before routing, so both URL forms share one route table. It is done by hand
// rather than with route parameters because the ai_system segment may be
// empty ("//v1/...") and must not be cleaned away.
func (s *Server) rewriteLLMAPI(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		// Split the escaped path so an encoded "/" inside an id stays in
		// its segment.
		path := req.URL.EscapedPath()
		if !strings.HasPrefix(path, llmAPIPrefix) {
			return next(c)
		}
		parts := strings.SplitN(path[len(llmAPIPrefix):], "/", 4)
		if len(parts) < 4 || parts[0] == "" {
			// Not the per-user form (e.g. /llm_api/suspend_current_generate):
			// leave it to the routes. An empty userid
			// (/llm_api/{openid}//{ai_system}/v1/...) is the account's
			// default user: the account itself.
			return next(c)
		}
		var ids [3]string
		for i := range ids {
			v, err := url.PathUnescape(parts[i])
			if err != nil {
				return echo.ErrNotFound
			}
			ids[i] = v
		}
		rest, err := url.PathUnescape(parts[3])
		if err != nil {
			return echo.ErrNotFound
		}
		rs := stateOf(c)
		rs.viaLLM = true
		rs.openID, rs.userID, rs.aiSystem = ids[0], ids[1], ids[2]
		// Echo routes on the *http.Request it was handed, so the URL is
		// rewritten in place (as Echo's own rewrite middleware does).
		req.URL.Path = "/" + rest
		req.URL.RawPath = ""
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), callerKey,
			Caller{OpenID: rs.openID, UserID: rs.userID})))
		return next(c)
	}
}
