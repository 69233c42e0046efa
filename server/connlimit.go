package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ggufd/ggufd/server/apierror"
)

// Refusing a connection past the cap takes one write and a short wait;
// these bound what a flood of them may cost.
const (
	// refusalTimeout bounds the time a refused connection is kept open: to
	// write the 503 and let the client read it before the close.
	refusalTimeout = time.Second
	// maxRefusing bounds refusals in progress; past it, connections are
	// closed without an answer.
	maxRefusing = 64
	// refusalLogEvery spaces the warnings about refused connections.
	refusalLogEvery = 10 * time.Second
)

// connLimiter caps the connections the HTTP server holds open. One past the
// cap is answered at once with an OpenAI-style 503 and closed, rather than
// left waiting in the kernel's backlog (netutil.LimitListener's way), where
// a client cannot tell a full server from a dead one.
type connLimiter struct {
	max    func() int // the cap now; 0: none
	logger *slog.Logger

	open     atomic.Int64 // connections accepted and not yet closed
	refusing atomic.Int64 // refusals in progress
	refused  atomic.Int64 // since the last warning
	lastWarn atomic.Int64 // unix nanoseconds of the last warning
}

// wrap returns ln counting its connections against l.
func (l *connLimiter) wrap(ln net.Listener) net.Listener { return &limitedListener{Listener: ln, l: l} }

type limitedListener struct {
	net.Listener
	l *connLimiter
}

func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		n := ln.l.open.Add(1)
		if max := ln.l.max(); max > 0 && n > int64(max) {
			ln.l.open.Add(-1)
			ln.l.refuse(c, max)
			continue
		}
		return &countedConn{Conn: c, l: ln.l}, nil
	}
}

// refuse answers c with a 503 and closes it, without holding up Accept.
func (l *connLimiter) refuse(c net.Conn, max int) {
	l.warn(max)
	if l.refusing.Add(1) > maxRefusing {
		l.refusing.Add(-1)
		_ = c.Close()
		return
	}
	go func() {
		defer l.refusing.Add(-1)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(refusalTimeout))
		if _, err := c.Write(refusalResponse(max)); err != nil {
			return
		}
		// Closing with the client's request unread would reset the
		// connection, and the client could lose the answer: half-close,
		// then read until the client closes or the deadline passes.
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}()
}

// warn logs refusals at most once per refusalLogEvery, with their count.
func (l *connLimiter) warn(max int) {
	n := l.refused.Add(1)
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(refusalLogEvery) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	l.refused.Add(-n)
	l.logger.Warn("refusing connections: max_connections reached", "max_connections", max, "refused", n)
}

// refusalResponse is the whole HTTP response sent to a refused connection.
func refusalResponse(max int) []byte {
	ae := apierror.Unavailable("too_many_connections", refusalTimeout,
		"The server has reached its limit of %d open connections. Please retry shortly.", max)
	body, _ := json.Marshal(apierror.Body{Error: ae})
	h := http.Header{}
	ae.WriteHeaders(h)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Connection", "close")
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", ae.Status, http.StatusText(ae.Status))
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// countedConn gives its place back when closed.
type countedConn struct {
	net.Conn
	l    *connLimiter
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// CloseWrite keeps the TCP half-close net/http uses before closing a
// connection with unread input (so the client still reads the answer).
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
