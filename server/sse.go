package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/ggufd/ggufd/server/apierror"
)

// sseWriter writes a text/event-stream response. Heartbeats come from another
// goroutine than the chunks, so every write holds mu; headers go out with the
// first write.
type sseWriter struct {
	mu        sync.Mutex
	w         http.ResponseWriter
	rc        *http.ResponseController
	began     bool
	done      bool
	lastErr   error
	lastWrite time.Time
	// timeout bounds each write (see Settings.StreamWriteTimeout); 0: none.
	timeout time.Duration
}

func newSSEWriter(w http.ResponseWriter, timeout time.Duration) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w), lastWrite: time.Now(), timeout: timeout}
}

// idle is how long the stream has been silent.
func (s *sseWriter) idle() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Since(s.lastWrite)
}

func (s *sseWriter) started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.began
}

// beginLocked sends the headers; callers hold mu.
func (s *sseWriter) beginLocked() {
	if s.began {
		return
	}
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	s.w.WriteHeader(http.StatusOK)
	s.began = true
}

func (s *sseWriter) writeLocked(p []byte) error {
	if s.lastErr != nil {
		return s.lastErr
	}
	s.beginLocked()
	s.lastWrite = time.Now()
	if s.timeout > 0 {
		// A failed write ends the stream (the generation is cancelled and
		// what it did is billed). The deadline is cleared after each
		// write: net/http keeps it on a kept-alive connection otherwise.
		_ = s.rc.SetWriteDeadline(s.lastWrite.Add(s.timeout))
		defer func() { _ = s.rc.SetWriteDeadline(time.Time{}) }()
	}
	if _, err := s.w.Write(p); err != nil {
		s.lastErr = fmt.Errorf("write event: %w", err)
		return s.lastErr
	}
	if err := s.rc.Flush(); err != nil {
		s.lastErr = fmt.Errorf("flush event: %w", err)
	}
	return s.lastErr
}

// comment sends an SSE comment line (ignored by clients): a heartbeat that
// keeps proxies and clients from timing out while a model loads.
func (s *sseWriter) comment(text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil
	}
	return s.writeLocked([]byte(": " + text + "\n\n"))
}

// send writes one data event with v as JSON.
func (s *sseWriter) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode chunk: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil
	}
	buf := make([]byte, 0, len(b)+8)
	buf = append(buf, "data: "...)
	buf = append(buf, b...)
	buf = append(buf, "\n\n"...)
	return s.writeLocked(buf)
}

// finish writes the terminating [DONE] event; later writes are dropped.
func (s *sseWriter) finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil
	}
	err := s.writeLocked([]byte("data: [DONE]\n\n"))
	s.done = true
	return err
}

// sendError reports an error after the stream started, as OpenAI-compatible
// servers do: an event whose payload is the error object, then [DONE].
func (s *sseWriter) sendError(ae *apierror.Error) error {
	if err := s.send(apierror.Body{Error: ae}); err != nil {
		return err
	}
	return s.finish()
}
