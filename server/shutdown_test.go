package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startOn serves s on a fresh 127.0.0.1 port and returns its URL and the
// result of Start.
func startOn(t *testing.T, s *Server) (string, <-chan error) {
	t.Helper()
	return startOnB(t, s)
}

func startOnB(t testing.TB, s *Server) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Start(ln) }()
	t.Cleanup(func() { _ = s.http.Close() })
	return "http://" + ln.Addr().String(), done
}

func TestShutdown(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(*fakeModel)
		deadline time.Duration
		wantDone bool // the stream ends with [DONE]
	}{
		{"running stream finishes", func(m *fakeModel) { m.delay = 100 * time.Millisecond }, 10 * time.Second, true},
		{"stream cancelled at the deadline", func(m *fakeModel) { m.block = true }, 200 * time.Millisecond, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cat := newFakeCatalog()
			tc.setup(cat.models["tiny"])
			s, err := NewWithCatalog(Settings{}, cat, nil)
			if err != nil {
				t.Fatal(err)
			}
			url, served := startOn(t, s)
			resp, err := http.Post(url+"/v1/chat/completions", "application/json",
				strings.NewReader(`{"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":true}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			// The role chunk: the generation is running.
			rd := bufio.NewReader(resp.Body)
			first, err := rd.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			body := make(chan string, 1)
			go func() {
				b, _ := io.ReadAll(rd)
				body <- first + string(b)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if err := <-served; err != nil {
				t.Errorf("start returned %v", err)
			}
			got := <-body
			if done := strings.Contains(got, "data: [DONE]"); done != tc.wantDone {
				t.Errorf("[DONE] sent: %v; body %q", done, got)
			}
			if !tc.wantDone {
				select {
				case <-cat.models["tiny"].cancelled:
				case <-time.After(5 * time.Second):
					t.Error("generation not cancelled at the shutdown deadline")
				}
			}
			if _, err := http.Get(url + "/health"); err == nil {
				t.Error("still accepting connections after shutdown")
			}
		})
	}
}

func TestCORSPreflight(t *testing.T) {
	_, url := newTestServer(t, newFakeCatalog())
	tests := []struct{ method, path string }{
		{"POST", "/v1/chat/completions"},
		{"DELETE", "/admin/keys/key_x"},
		// The admin API's metering route is PUT only.
		{"PUT", "/admin/accounts/acme/metering"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodOptions, url+tt.path, nil)
		req.Header.Set("Origin", "http://localhost:3000")
		req.Header.Set("Access-Control-Request-Method", tt.method)
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), tt.method) {
			t.Errorf("preflight of %s %s: %d %v", tt.method, tt.path, resp.StatusCode, resp.Header)
		}
	}
}
