package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server/apierror"
	"github.com/labstack/echo/v4"
)

// Retry-After values: slots free up within seconds at typical generation
// lengths; a model that cannot load now (memory, a broken file) needs an
// operator or other models' keep-alive to end.
const (
	queueFullRetryAfter   = 2 * time.Second
	unavailableRetryAfter = 30 * time.Second
)

// toAPIError maps any error a handler meets to the OpenAI error object. The
// second result is false for errors that are faults of ours (500s), which the
// caller logs.
func toAPIError(err error) (*apierror.Error, bool) {
	var (
		ae        *apierror.Error
		invalid   *engine.InvalidRequestError
		tooLong   *engine.PromptTooLongError
		notFound  *models.NotFoundError
		noMemory  *models.InsufficientMemoryError
		failed    *models.LoadFailedError
		maxBytes  *http.MaxBytesError
		httpError *echo.HTTPError
	)
	switch {
	case errors.As(err, &ae):
		return ae, ae.Status < 500 || ae.Status == http.StatusServiceUnavailable
	case errors.As(err, &invalid):
		return apierror.InvalidParam(invalid.Param, "%s", invalid.Message), true
	case errors.As(err, &tooLong):
		return contextLengthError(tooLong, "messages"), true
	case errors.Is(err, engine.ErrQueueFull):
		return apierror.RateLimited("queue_full", queueFullRetryAfter,
			"The model is busy: too many requests are waiting. Please retry shortly."), true
	case errors.Is(err, engine.ErrClosed):
		return apierror.Unavailable("model_unloaded", time.Second,
			"The model was unloaded while the request was waiting. Please retry."), true
	case errors.Is(err, engine.ErrNoChatTemplate):
		return apierror.BadRequest("no_chat_template",
			"This model has no chat template; use /v1/completions with a raw prompt instead."), true
	case errors.Is(err, engine.ErrNoVision):
		return apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "unsupported_content", "messages",
			"This model does not take images: it has no vision projector."), true
	case errors.Is(err, engine.ErrNoFillInMiddle):
		return apierror.InvalidParam("suffix",
			"This model does not support 'suffix': its vocabulary has no fill-in-the-middle tokens."), true
	case errors.Is(err, engine.ErrEmbeddingModel):
		return apierror.InvalidParam("model", "This model serves embeddings only; use /v1/embeddings."), true
	case errors.Is(err, engine.ErrNotEmbedding):
		return apierror.InvalidParam("model", "This model was not loaded for embeddings; configure it with embeddings: true."), true
	case errors.As(err, &notFound):
		msg := fmt.Sprintf("The model `%s` does not exist.", notFound.Name)
		if len(notFound.Suggestions) > 0 {
			msg += " Did you mean: " + strings.Join(notFound.Suggestions, ", ") + "?"
		}
		return apierror.ModelNotFound("%s", msg), true
	case errors.As(err, &noMemory):
		return apierror.Unavailable("model_unavailable", unavailableRetryAfter,
			"The model `%s` cannot be loaded now: %s", noMemory.Model, noMemory.Error()), true
	case errors.As(err, &failed):
		return apierror.Unavailable("model_unavailable", unavailableRetryAfter,
			"The model `%s` cannot be loaded now: loading failed: %v", failed.Model, failed.Err), true
	case errors.Is(err, models.ErrClosed):
		return apierror.Unavailable("model_unavailable", 0, "The server is shutting down."), true
	case errors.As(err, &maxBytes):
		return apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeInvalidRequest, "request_too_large", "",
			"The request body is larger than the limit of %d bytes.", maxBytes.Limit), true
	case errors.Is(err, errClientGone), errors.Is(err, context.Canceled):
		// The client went away (or the server is shutting down); the
		// answer is logged, rarely read.
		return apierror.ClientClosed(), true
	case errors.Is(err, context.DeadlineExceeded):
		return apierror.New(http.StatusGatewayTimeout, apierror.TypeServer, "timeout", "",
			"The request timed out."), true
	case errors.As(err, &httpError):
		return fromEchoError(httpError), httpError.Code < 500
	}
	return apierror.Internal("The server had an error while processing your request."), false
}

// fromEchoError maps Echo's own errors (routing, method, body limit) to the
// OpenAI shape.
func fromEchoError(he *echo.HTTPError) *apierror.Error {
	switch he.Code {
	case http.StatusNotFound:
		return apierror.New(http.StatusNotFound, apierror.TypeInvalidRequest, "unknown_url", "",
			"Unknown request URL. Please check the URL for typos.")
	case http.StatusMethodNotAllowed:
		return apierror.New(http.StatusMethodNotAllowed, apierror.TypeInvalidRequest, "method_not_allowed", "",
			"This method is not allowed for this URL.")
	case http.StatusRequestEntityTooLarge:
		return apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeInvalidRequest, "request_too_large", "",
			"The request body is too large.")
	case http.StatusBadRequest:
		return apierror.BadRequest("invalid_request", "%v", he.Message)
	}
	if he.Code >= 500 {
		return apierror.Internal("The server had an error while processing your request.")
	}
	return apierror.New(he.Code, apierror.TypeInvalidRequest, "", "", "%v", he.Message)
}

// handleError is Echo's HTTPErrorHandler, for errors that reach Echo
// itself; observe renders every other error.
func (s *Server) handleError(err error, c echo.Context) { s.writeError(c, requestOf(c), err) }

// writeError answers with err as an OpenAI error object, or as an SSE error
// event when r's stream already started, and records the status the client
// got. Faults of ours (500s) are logged with their cause.
func (s *Server) writeError(c echo.Context, r *request, err error) {
	ae, ok := toAPIError(err)
	if !ok {
		s.logger.Error("request failed", "request_id", r.id, "method", c.Request().Method,
			"path", c.Request().URL.Path, "err", err)
	}
	switch {
	case errors.Is(err, errClientGone):
		r.status = ae.Status // nobody to answer
	case r.sse != nil && r.sse.started():
		r.status = http.StatusOK
		_ = r.sse.sendError(ae)
	case c.Response().Committed:
		return // the answer is out; its write failed
	default:
		r.status = ae.Status
		ae.WriteHeaders(c.Response().Header())
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(ae.Status)
		} else {
			_ = c.JSON(ae.Status, apierror.Body{Error: ae})
		}
	}
	r.errCode = codeOf(ae)
}

func codeOf(ae *apierror.Error) string {
	if ae.Code != nil {
		return *ae.Code
	}
	return ae.Type
}

// recoverPanics turns a handler panic into a logged 500.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.logger.Error("handler panic", "request_id", requestOf(c).id, "panic", fmt.Sprint(r),
					slog.String("stack", string(debug.Stack())))
				err = apierror.Internal("The server had an error while processing your request.")
			}
		}()
		return next(c)
	}
}

// contextLengthError is OpenAI's 400 for a prompt longer than the context,
// with both lengths; param is the request field holding the prompt.
func contextLengthError(e *engine.PromptTooLongError, param string) *apierror.Error {
	return apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "context_length_exceeded", param,
		"This model's maximum context length is %d tokens. However, your %s resulted in %d tokens. Please reduce the length of the %s.",
		e.ContextLength, param, e.PromptTokens, param)
}
