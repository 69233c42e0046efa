package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/server/apierror"
)

// serve runs s on a real listener on 127.0.0.1 (Start counts and caps its
// connections) and returns the address.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	url, _ := startOn(t, s)
	return strings.TrimPrefix(url, "http://")
}

// dialRaw opens a connection and sends head (request line and headers)
// without the body they announce.
func dialRaw(t *testing.T, addr, head string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if head != "" {
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// answer reads what the server does with c: its response (nil if it closed
// or reset the connection without one), and whether it then closed the
// connection. A server that holds the connection fails the test at the
// deadline: that is the bug these tests guard against.
func answer(t *testing.T, c net.Conn, within time.Duration) (resp *http.Response, body []byte, closed bool) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		if isTimeout(err) {
			t.Fatalf("no answer within %v: the server holds the connection", within)
		}
		return nil, nil, true // closed or reset
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if isTimeout(err) {
		t.Fatalf("response body incomplete after %v", within)
	}
	_, err = br.ReadByte()
	if isTimeout(err) {
		t.Fatalf("connection still open %v after the answer", within)
	}
	return resp, body, err != nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var b apierror.Body
	if err := json.Unmarshal(body, &b); err != nil || b.Error == nil || b.Error.Code == nil {
		t.Fatalf("not an OpenAI error: %s (%v)", body, err)
	}
	return *b.Error.Code
}

// waitOpen waits until the server holds want connections.
func waitOpen(t *testing.T, s *Server, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.conns.open.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("server holds %d connections, want %d", s.conns.open.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const slowBodyHead = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n"

// TestSlowBodiesAreAnsweredAndClosed: a client that announces a body and
// then sends it slowly, or not at all, gets a 408 (or a closed connection)
// once body_timeout has passed, and the server lets the connection go.
func TestSlowBodiesAreAnsweredAndClosed(t *testing.T) {
	const bodyTimeout = 300 * time.Millisecond
	s, err := NewWithCatalog(Settings{Limits: Limits{BodyTimeout: bodyTimeout}}, newFakeCatalog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	tests := []struct {
		name string
		send func(c net.Conn) // after the headers
		may  bool             // the answer may be lost to a reset (the client kept sending)
	}{
		{"silent", func(net.Conn) {}, false},
		{"part then silent", func(c net.Conn) { io.WriteString(c, `{"model":"tiny","mess`) }, false},
		{"trickle", func(c net.Conn) {
			go func() {
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for range tick.C {
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}()
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr, slowBodyHead)
			start := time.Now()
			tt.send(c)
			resp, body, closed := answer(t, c, 10*time.Second)
			elapsed := time.Since(start)
			if resp == nil && !tt.may {
				t.Fatal("connection closed without an answer")
			}
			if resp != nil && (resp.StatusCode != http.StatusRequestTimeout || errorCode(t, body) != "request_timeout") {
				t.Fatalf("answer %d %s, want 408 request_timeout", resp.StatusCode, body)
			}
			if !closed {
				t.Fatal("connection left open after the 408")
			}
			if elapsed < bodyTimeout {
				t.Fatalf("answered after %v, before body_timeout %v", elapsed, bodyTimeout)
			}
			c.Close()
			waitOpen(t, s, 0)
		})
	}
}

// TestMaxConnections: connections past max_connections are answered with a
// 503 and closed at once; a place freed is given to the next client.
func TestMaxConnections(t *testing.T) {
	s, err := NewWithCatalog(Settings{Limits: Limits{MaxConnections: 2}}, newFakeCatalog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	first := dialRaw(t, addr, "")
	dialRaw(t, addr, "")
	waitOpen(t, s, 2)

	for range 3 { // every excess connection, not just the first
		resp, body, closed := answer(t, dialRaw(t, addr, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"), 5*time.Second)
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || errorCode(t, body) != "too_many_connections" ||
			resp.Header.Get("Retry-After") != "1" || !closed {
			t.Fatalf("excess connection: %v %s closed=%v", resp, body, closed)
		}
	}
	if n := s.conns.open.Load(); n != 2 {
		t.Fatalf("refusals counted as open connections: %d", n)
	}

	first.Close()
	waitOpen(t, s, 1)
	resp, err := http.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after a place was freed: %d", resp.StatusCode)
	}
}

// TestUnauthenticatedBodyIsNotRead: a caller without a valid key is refused
// from its headers, at once, whatever body it announces and whether or not
// it ever sends it; its body is never read into memory.
func TestUnauthenticatedBodyIsNotRead(t *testing.T) {
	svc := newAccounts(t) // key mode
	// A body timeout of a minute: an answer well before it was not waiting
	// for the body.
	s, err := NewWithCatalog(Settings{Limits: Limits{BodyTimeout: time.Minute, BodyLimit: 16 << 20}}, newFakeCatalog(), nil, WithAccounts(svc))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	for _, size := range []string{"200000", "15000000"} {
		t.Run(size, func(t *testing.T) {
			c := dialRaw(t, addr, "POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "+size+"\r\n\r\n")
			start := time.Now()
			resp, body, closed := answer(t, c, 20*time.Second)
			if resp == nil || resp.StatusCode != http.StatusUnauthorized || errorCode(t, body) != "invalid_api_key" {
				t.Fatalf("answer %v %s, want 401 invalid_api_key", resp, body)
			}
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Fatalf("401 took %v: the server waited for the body", elapsed)
			}
			if !closed {
				t.Fatal("connection kept open with the announced body unread")
			}
			c.Close()
			waitOpen(t, s, 0)
		})
	}
}

// TestOversizedBodyClosesConnection: a body over body_limit is answered
// 413 and the connection closed, whether its Content-Length says so up
// front (the body is then never read) or a chunked body runs over midway.
func TestOversizedBodyClosesConnection(t *testing.T) {
	s, err := NewWithCatalog(Settings{Limits: Limits{BodyLimit: 1 << 16}}, newFakeCatalog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	body := `{"model":"tiny","messages":[{"role":"user","content":"` + strings.Repeat("x", 100_000) + `"}]}`
	tests := []struct{ name, request string }{
		{"content-length", fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)},
		{"chunked", fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr, tt.request)
			defer c.Close()
			resp, b, closed := answer(t, c, 10*time.Second)
			if resp == nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("answer %v %s, want 413", resp, b)
			}
			if !closed {
				t.Fatal("connection kept open after the 413")
			}
		})
	}
}

// stalledClient sends req on a connection whose receive buffer is as small
// as the kernel allows and never reads from it: a client that keeps its TCP
// connection open (advertising a zero window) but consumes nothing.
func stalledClient(t *testing.T, addr, req string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStalledReaderIsSettled: a client that keeps its connection open but
// reads nothing blocked the handler in a write without a deadline, forever:
// its request was never settled (no ledger row, its reservation held), its
// model lease never released. A write now times out
// (Settings.StreamWriteTimeout), which ends the request like a client that
// left: billed for what was generated, its hold released, its connection
// closed. A JSON answer is settled before it is written, but its handler
// and connection were held as long.
func TestStalledReaderIsSettled(t *testing.T) {
	for _, tt := range []struct{ name, extra string }{
		{"stream", `,"stream":true`},
		{"JSON answer", ``},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cat := newFakeCatalog()
			// 12 MB of answer: more than the socket buffers on both sides hold.
			cat.models["tiny"].pieces = slices.Repeat([]string{strings.Repeat("x", 4096)}, 3000)
			svc := newAccounts(t)
			secret := fundedKey(t, svc, "slow", 100)
			s, err := NewWithCatalog(Settings{StreamWriteTimeout: 300 * time.Millisecond}, cat, nil, WithAccounts(svc))
			if err != nil {
				t.Fatal(err)
			}
			addr := serve(t, s)
			body := `{"model":"tiny","messages":[{"role":"user","content":"hi"}]` + tt.extra + `}`
			stalledClient(t, addr, fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
				"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", secret, len(body), body))
			ctx := t.Context()
			waitUntil(t, 10*time.Second, "the stalled client's request settled", func() bool {
				rows, err := svc.Ledger(ctx, accounts.LedgerFilter{OpenID: "slow"})
				reserved, rerr := svc.Reserved(ctx, "slow")
				return err == nil && rerr == nil && len(rows) == 1 && rows[0].CompletionTokens == 3000 && reserved == 0
			})
			waitOpen(t, s, 0) // the handler ended and its connection closed
		})
	}
}
