package server

import (
	"net/http"
	"time"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/server/apierror"
)

// Limits bound what one request, and all clients together, may cost the
// daemon. A config reload changes them while serving (SetLimits).
type Limits struct {
	BodyLimit int64 // bytes of a request body; 0: config.DefaultBodyLimit
	// BodyTimeout is the time a client has to send its whole request body
	// once the headers are in; 0: 60s.
	BodyTimeout time.Duration
	// PromptLimit is the bytes of text one request may ask to tokenize
	// (prompts, messages, embedding inputs, /tokenize content); 0:
	// config.DefaultPromptLimit.
	PromptLimit int64
	// MaxConnections caps open client connections; 0: no limit.
	MaxConnections int
}

func (l Limits) withDefaults() Limits {
	if l.BodyLimit <= 0 {
		l.BodyLimit = int64(config.DefaultBodyLimit)
	}
	if l.BodyTimeout <= 0 {
		l.BodyTimeout = config.DefaultBodyTimeout.Std()
	}
	if l.PromptLimit <= 0 {
		l.PromptLimit = int64(config.DefaultPromptLimit)
	}
	return l
}

// limitsOf reads the limits from the config file's settings.
func limitsOf(cfg *config.Config) Limits {
	return Limits{
		BodyLimit:      int64(cfg.BodyLimit),
		BodyTimeout:    cfg.BodyTimeout.Std(),
		PromptLimit:    int64(cfg.PromptLimit),
		MaxConnections: cfg.MaxConnections,
	}
}

// SetLimits replaces the limits; requests that start afterwards get them.
func (s *Server) SetLimits(l Limits) {
	l = l.withDefaults()
	s.limits.Store(&l)
}

func (s *Server) currentLimits() Limits { return *s.limits.Load() }

// checkPromptSize refuses a request whose text to tokenize (size bytes, in
// the request field param) exceeds PromptLimit: tokenizing costs tens of
// bytes of memory per byte of text, far more than reading the body did.
func (s *Server) checkPromptSize(param string, size int) error {
	limit := s.currentLimits().PromptLimit
	if int64(size) <= limit {
		return nil
	}
	return apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeInvalidRequest, "prompt_too_large", param,
		"'%s' holds %d bytes of text; this server tokenizes at most %d bytes per request (prompt_limit).", param, size, limit)
}
