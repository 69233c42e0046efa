package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/config"
)

// TestAuthReloader: a reload applies auth.mode, admin_key and currency to
// the running service, refuses to open a network listener without auth,
// and says which edited settings wait for a restart.
func TestAuthReloader(t *testing.T) {
	parse := func(body string) *config.Config {
		t.Helper()
		c, err := config.Parse([]byte(body), filepath.Join(t.TempDir(), "ggufd.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	const start = "listen: 127.0.0.1:8080\nauth: {mode: none, currency: 元}\n"
	tests := []struct {
		name, listen, edit string
		wantMode           accounts.AuthMode
		wantAdmin          string // a key the service must accept; "" none
		wantCurrency       string
		wantLog            []string
	}{
		{"mode and admin key", "127.0.0.1:8080", "listen: 127.0.0.1:8080\nauth: {mode: key, admin_key: new-admin-key-123, currency: USD}\n",
			accounts.ModeKey, "new-admin-key-123", "USD", []string{"auth settings applied", "mode=key", "currency=USD"}},
		{"listen waits for a restart", "127.0.0.1:8080", "listen: 127.0.0.1:9090\nauth: {mode: none, currency: 元}\n",
			accounts.ModeNone, "", "元", []string{"applies at the next restart", "setting=listen", "in_use=127.0.0.1:8080", "in_file=127.0.0.1:9090"}},
		{"openid on a network address (--listen)", "0.0.0.0:8080", "listen: 127.0.0.1:8080\nauth: {mode: openid, currency: 元}\n",
			accounts.ModeOpenID, "", "元", []string{"auth settings applied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			store, err := accounts.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "a.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			svc := accounts.NewService(store, accounts.Config{Mode: accounts.ModeNone, Currency: "元"})
			r := &authReloader{log: slog.New(slog.NewTextHandler(&logs, nil)), svc: svc, listen: tt.listen, file: parse(start)}
			r.apply(parse(tt.edit))
			if svc.Mode() != tt.wantMode || svc.Currency() != tt.wantCurrency {
				t.Errorf("mode %s currency %s, want %s %s", svc.Mode(), svc.Currency(), tt.wantMode, tt.wantCurrency)
			}
			if tt.wantAdmin != "" && svc.CheckAdminKey(tt.wantAdmin) != nil {
				t.Error("new admin key not accepted")
			}
			for _, w := range tt.wantLog {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logs.String())
				}
			}
			if strings.Contains(logs.String(), "new-admin-key-123") {
				t.Error("the admin key was logged")
			}
		})
	}

	// Back to mode none while listening on a network address: refused.
	store, err := accounts.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := accounts.NewService(store, accounts.Config{Mode: accounts.ModeKey})
	var logs bytes.Buffer
	r := &authReloader{log: slog.New(slog.NewTextHandler(&logs, nil)), svc: svc, listen: "0.0.0.0:8080",
		file: parse("listen: 127.0.0.1:8080\nauth: {mode: key}\n")}
	r.apply(parse("listen: 127.0.0.1:8080\nauth: {mode: none}\n"))
	if svc.Mode() != accounts.ModeKey || !strings.Contains(logs.String(), "auth settings not applied") {
		t.Errorf("mode %s after an edit to none on 0.0.0.0; log %s", svc.Mode(), logs.String())
	}
}

// TestServeAppliesAuthEditsLive edits the running daemon's config from auth
// mode none to key: requests without a key are refused from then on, with
// no restart.
func TestServeAppliesAuthEditsLive(t *testing.T) {
	dir := t.TempDir()
	sharedModelsDir(t, dir)
	addr := freePort(t)
	cfgPath := filepath.Join(dir, "ggufd.yaml")
	body := "listen: %s\nmodels_dir: models\ndata_dir: data\nauth: {mode: %s, admin_key: live-admin-key-1}\n" +
		"models:\n  tiny: {file: tiny.gguf, context: 256, parallel: 2, pricing: {input_per_1k: 1}}\n  rand: {file: rand.gguf, pricing: {input_per_1k: 1}}\n"
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, body, addr, "none"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", cfgPath}, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	status := func() int {
		resp, err := http.Get("http://" + addr + "/v1/models")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitUntil(t, "the daemon answers without a key", func() bool { return status() == 200 })
	tmp := cfgPath + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, body, addr, "key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, cfgPath); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "requests without a key refused", func() bool { return status() == 401 })
}

// waitUntil polls cond for up to 30 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
