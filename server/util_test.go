package server

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func httptestRecorder(s *Server, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func httptestRecorderBody(s *Server, method, path, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec
}

// send sends body to url with key as Bearer ("" for none) and returns the
// status and the response body.
func send(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	r := <-sendAsync(method, url, key, body)
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.status, r.body
}

type reply struct {
	status int
	body   string
	err    error
}

// sendAsync sends as send does, from its own goroutine, so that a test can
// act while the request runs.
func sendAsync(method, url, key, body string) <-chan reply {
	out := make(chan reply, 1)
	go func() {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			out <- reply{err: err}
			return
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- reply{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- reply{status: resp.StatusCode, body: string(b), err: err}
	}()
	return out
}

// hangUpWhileStreaming sends a streaming request, reads the first line of
// its answer (the role chunk: the generation runs) and disconnects.
func hangUpWhileStreaming(t *testing.T, req *http.Request) {
	t.Helper()
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond until it holds, failing the test after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
	}
}
