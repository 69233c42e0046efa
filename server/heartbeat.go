package server

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ggufd/ggufd/models"
)

// heartbeat sends SSE comments on a stream that has been silent for the
// server's heartbeat interval, so clients and proxies (nginx closes idle
// upstreams after 60 s) do not time out: while the model loads (the first
// one commits the 200 and the stream's headers) and, once the stream has
// started, while the request waits for a slot or its prompt is processed.
type heartbeat struct {
	quit    chan struct{}
	done    chan struct{}
	loading atomic.Bool
}

// startHeartbeat starts the heartbeat of a stream whose model is being
// acquired. It returns nil when heartbeats are off or there is no stream; a
// nil heartbeat's methods do nothing.
func (s *Server) startHeartbeat(sse *sseWriter, model string) *heartbeat {
	if s.heartbeat <= 0 || sse == nil {
		return nil
	}
	h := &heartbeat{quit: make(chan struct{}), done: make(chan struct{})}
	h.loading.Store(true)
	go func() {
		defer close(h.done)
		t := time.NewTicker(s.heartbeat / 2)
		defer t.Stop()
		for {
			select {
			case <-h.quit:
				return
			case <-t.C:
			}
			if sse.idle() < s.heartbeat {
				continue
			}
			switch {
			case h.loading.Load():
				msg := "loading"
				if st, err := s.catalog.Status(model); err == nil && st.State == models.StateLoading {
					msg = fmt.Sprintf("loading %d%%", int(st.Progress*100))
				}
				_ = sse.comment(msg)
			case sse.started():
				_ = sse.comment("keep-alive")
			}
		}
	}()
	return h
}

// loaded says the model is acquired: from now on heartbeats only keep a
// started stream alive, and never start one (errors can still get a status).
func (h *heartbeat) loaded() {
	if h != nil {
		h.loading.Store(false)
	}
}

// stop ends the heartbeat; no comment is written after it returns.
func (h *heartbeat) stop() {
	if h != nil {
		close(h.quit)
		<-h.done
	}
}
