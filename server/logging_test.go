package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRequestLogHasNoContent(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	cat := newFakeCatalog()
	cat.models["tiny"].pieces = []string{"SECRET-COMPLETION"}
	s, err := NewWithCatalog(Settings{}, cat, logger)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptestRecorderBody(s, "POST", "/llm_api/oid9/uid9/tiny/v1/chat/completions",
		`{"messages":[{"role":"user","content":"SECRET-PROMPT"}]}`)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "SECRET-COMPLETION") {
		t.Fatalf("response %d %s", rec.Code, rec.Body.String())
	}
	logs := buf.String()
	if strings.Contains(logs, "SECRET") {
		t.Errorf("request content in the logs: %s", logs)
	}
	for _, want := range []string{`"request_id":"` + rec.Header().Get("X-Request-Id") + `"`, `"model":"tiny"`, `"status":200`,
		`"prompt_tokens":7`, `"completion_tokens":1`, `"openid":"oid9"`, `"userid":"uid9"`, `"ttft_ms":`, `"duration_ms":`,
		`"queue_ms":`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log line lacks %s: %s", want, logs)
		}
	}
	// Durations are milliseconds, named so: a request served in memory
	// takes well under a second, which in nanoseconds would be a 6+ digit
	// number.
	var line struct {
		DurationMS float64 `json:"duration_ms"`
		TTFTMS     float64 `json:"ttft_ms"`
	}
	if err := json.Unmarshal([]byte(logs), &line); err != nil || line.DurationMS <= 0 || line.DurationMS >= 1000 ||
		line.TTFTMS <= 0 || line.TTFTMS > line.DurationMS {
		t.Errorf("durations %+v (%v) in %s", line, err, logs)
	}
}
