package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"math"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/labstack/echo/v4"
)

// observe is the outermost middleware: it creates the request value (see
// newRequest), renders errors itself (so it knows the final status), then
// counts the request in the metrics and writes one log line.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		r, err := newRequest(req)
		c.Response().Header().Set(echo.HeaderXRequestID, r.id)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), requestKey{}, r)))
		if err == nil {
			err = next(c)
		}
		if err != nil {
			s.writeError(c, r, err)
		}
		if r.status == 0 {
			r.status = c.Response().Status
		}
		s.metrics.record(r)
		s.logRequest(c, r)
		return nil
	}
}

// openIDFingerprint is the first 16 hex digits of the openid's SHA-256:
// an operator finds the account with
// printf %s "$OPENID" | sha256sum | cut -c1-16.
func openIDFingerprint(openid string) string {
	sum := sha256.Sum256([]byte(openid))
	return hex.EncodeToString(sum[:8])
}

func (s *Server) logRequest(c echo.Context, r *request) {
	attrs := []slog.Attr{
		slog.String("request_id", r.id),
		slog.String("method", c.Request().Method),
		slog.String("path", c.Request().URL.Path),
		slog.Int("status", r.status),
		millis("duration_ms", time.Since(r.start)),
	}
	if r.viaLLM {
		if s.accounts != nil && s.accounts.Mode() == accounts.ModeOpenID {
			// In openid mode the openid in the path is the credential, and
			// the log is read by more people than the database: it names
			// the account by a fingerprint, as a key is never logged.
			attrs = append(attrs, slog.String("openid_sha256", openIDFingerprint(r.openID)))
		} else {
			attrs = append(attrs, slog.String("openid", r.openID))
		}
		attrs = append(attrs, slog.String("userid", r.userID))
	}
	if r.model.Name != "" {
		attrs = append(attrs, slog.String("model", r.model.Name))
	}
	if u := r.usage; u.PromptTokens > 0 || u.CompletionTokens > 0 {
		attrs = append(attrs,
			slog.Int("prompt_tokens", u.PromptTokens),
			slog.Int("cached_tokens", u.CachedTokens),
			slog.Int("completion_tokens", u.CompletionTokens),
			millis("queue_ms", u.QueueDuration),
			millis("prompt_eval_ms", u.PromptDuration),
			millis("generation_ms", u.GenerationDuration))
	}
	if r.ttft > 0 {
		attrs = append(attrs, millis("ttft_ms", r.ttft))
	}
	if r.errCode != "" {
		attrs = append(attrs, slog.String("error", r.errCode))
	}
	level := slog.LevelInfo
	if r.status >= 500 {
		level = slog.LevelError
	}
	s.logger.LogAttrs(c.Request().Context(), level, "request", attrs...)
}

// millis is a duration as milliseconds to the microsecond, the unit in the
// key: log processors read JSON numbers, and slog would write nanoseconds.
func millis(key string, d time.Duration) slog.Attr {
	return slog.Float64(key, math.Round(float64(d)/1e3)/1e3)
}
