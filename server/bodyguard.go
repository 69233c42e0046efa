package server

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// unreadBodyGrace is how long net/http may spend reading the rest of a body
// the handler did not read (a request refused before its body, or one whose
// body failed) before the connection is closed. net/http reads up to 256 KiB
// of it so the connection can serve the next request; a client that sent its
// body at once has it all there, one that trickles or went silent must not
// hold the connection for the rest of BodyTimeout.
const unreadBodyGrace = time.Second

// guardBody bounds the time a client has to send its request body. Without
// it, a client that sends headers announcing a body and then trickles or
// goes silent would hold its connection (and a goroutine) forever: net/http
// has no body timeout of its own that spares long streaming responses.
//
// The read deadline is set when the request arrives, lifted once the body
// has been read to its end (a deadline left in place would cut net/http's
// background read, which notices clients that go away during a stream), and
// shortened to unreadBodyGrace when the response starts with the body still
// unread. A handler reading past the deadline gets an error that readBody
// answers with a 408; net/http then closes the connection.
func (s *Server) guardBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength == 0 || req.Body == nil || req.Body == http.NoBody {
			return next(c)
		}
		rc := http.NewResponseController(c.Response())
		deadline := time.Now().Add(s.currentLimits().BodyTimeout)
		if err := rc.SetReadDeadline(deadline); err != nil {
			return next(c) // not a network connection (in-memory tests): nothing to hold
		}
		body := &guardedBody{ReadCloser: req.Body, rc: rc}
		req.Body = body
		c.Response().Before(func() {
			if body.done.Load() {
				return
			}
			if grace := time.Now().Add(unreadBodyGrace); grace.Before(deadline) {
				_ = rc.SetReadDeadline(grace)
			}
		})
		return next(c)
	}
}

// guardedBody lifts the read deadline once the body has been read whole.
type guardedBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done atomic.Bool
}

func (b *guardedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done.Swap(true) {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
