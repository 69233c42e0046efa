package server

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/models"
)

func newAccounts(t testing.TB) *accounts.Service {
	t.Helper()
	return accounts.NewService(newAccountsStore(t), accounts.Config{Mode: accounts.ModeKey, Currency: "元"})
}

// newAccountsStore is a fresh SQLite accounts database, closed when the
// test ends.
func newAccountsStore(t testing.TB) *accounts.SQLiteStore {
	t.Helper()
	store, err := accounts.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ggufd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// fundedKey creates an account with a balance and returns a key for it.
func fundedKey(t testing.TB, svc *accounts.Service, openid string, balance float64) string {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.CreateAccount(ctx, accounts.Account{OpenID: openid}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.TopUp(ctx, openid, accounts.MoneyFromFloat(balance), "test"); err != nil {
		t.Fatal(err)
	}
	secret, _, err := svc.CreateKey(ctx, accounts.KeyOptions{OpenID: openid})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// suspendOnceRunning suspends the user's generations as soon as one is
// tracked (admitted).
func suspendOnceRunning(t *testing.T, svc *accounts.Service, openid, userid string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n, _ := svc.Suspend(context.Background(), openid, userid); n == 0; n, _ = svc.Suspend(context.Background(), openid, userid) {
		if time.Now().After(deadline) {
			t.Fatal("generation never tracked for suspension")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWithAccounts(t *testing.T) {
	svc := newAccounts(t)
	secret := fundedKey(t, svc, "o1", 100)
	cat := newFakeCatalog()
	cat.edit("tiny", func(e *models.Entry) { e.Model.Pricing = config.Pricing{InputPer1K: 1, OutputPer1K: 2} })
	_, url := newTestServer(t, cat, WithAccounts(svc))

	chat := func(path, key string) *http.Response {
		req, _ := http.NewRequest("POST", url+path, strings.NewReader(`{"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":true}`))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := chat("/v1/chat/completions", ""); resp.StatusCode != 401 {
		t.Errorf("no key: %d", resp.StatusCode)
	}
	if resp := chat("/v1/chat/completions", "sk-wrong"); resp.StatusCode != 401 {
		t.Errorf("wrong key: %d", resp.StatusCode)
	}
	resp := chat("/v1/chat/completions", secret)
	if resp.StatusCode != 200 {
		t.Fatalf("with key: %d", resp.StatusCode)
	}
	data, _ := sseEvents(t, resp.Body)
	if data[len(data)-1] != "[DONE]" {
		t.Errorf("events %q", data)
	}

	t.Run("suspend ends the stream with stop", func(t *testing.T) {
		cat.models["tiny"].block = true
		defer func() { cat.models["tiny"].block = false }()
		resp := chat("/llm_api/o1/u1/tiny/v1/chat/completions", secret)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		suspendOnceRunning(t, svc, "o1", "u1")
		data, _ := sseEvents(t, resp.Body)
		n := len(data)
		if n < 2 || data[n-1] != "[DONE]" || !strings.Contains(data[n-2], `"finish_reason":"stop"`) {
			t.Errorf("events %q", data)
		}
	})
}

// TestHealthReportsAnUnreachableDatabase: /health answers 503 once the
// accounts database is gone, so a load balancer stops sending requests
// that could not be admitted.
func TestHealthReportsAnUnreachableDatabase(t *testing.T) {
	store, err := accounts.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ggufd.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc := accounts.NewService(store, accounts.Config{Mode: accounts.ModeKey})
	_, url := newTestServer(t, newFakeCatalog(), WithAccounts(svc))
	tests := []struct {
		name   string
		before func()
		status int
		body   string
	}{
		{"database up", func() {}, 200, `"status":"ok"`},
		{"database closed", func() { store.Close() }, 503, `"status":"database_unreachable"`},
	}
	for _, tt := range tests {
		tt.before()
		resp, err := http.Get(url + "/health")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.body) {
			t.Fatalf("%s: %d %s", tt.name, resp.StatusCode, body)
		}
	}
}
