package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ggufd/ggufd/accounts"
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

// TestRequestLogKeepsOpenIDSecretInOpenIDMode: in openid mode the openid
// in the path is the credential, so the log names the account by a
// fingerprint; in key mode the openid is a name and is logged as such.
func TestRequestLogKeepsOpenIDSecretInOpenIDMode(t *testing.T) {
	const oid = "oid-5f0c1e9a8b7d6c5e4f3a2b1c0d9e8f7a"
	tests := []struct {
		mode       accounts.AuthMode
		key        bool // the request carries the account's key (key mode needs one)
		want, deny string
	}{
		{accounts.ModeOpenID, false, `"openid_sha256":"` + openIDFingerprint(oid) + `"`, oid},
		{accounts.ModeKey, true, `"openid":"` + oid + `"`, "openid_sha256"},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			var buf syncBuffer
			svc := accounts.NewService(newAccountsStore(t), accounts.Config{Mode: tt.mode, Currency: "元"})
			key := fundedKey(t, svc, oid, 10)
			if !tt.key {
				key = ""
			}
			s, err := NewWithCatalog(Settings{}, newFakeCatalog(), slog.New(slog.NewJSONHandler(&buf, nil)), WithAccounts(svc))
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(s.Handler())
			defer hs.Close()
			if status, body := send(t, "GET", hs.URL+"/llm_api/"+oid+"/alice/tiny/v1/models", key, ""); status != 200 {
				t.Fatalf("%d %s", status, body)
			}
			logs := buf.String()
			if !strings.Contains(logs, tt.want) || strings.Contains(logs, tt.deny) {
				t.Errorf("log wants %s and not %s: %s", tt.want, tt.deny, logs)
			}
		})
	}
}
