package server

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

const reloadConfig = `listen: 127.0.0.1:0
models_dir: models
auth: {mode: none}
body_limit: %s
models:
  stories:
    file: stories.gguf
    context: 256
    parallel: 1
    threads: 1
`

// TestLimitsFollowConfigReload: a reload applies body_limit to the next
// request; an empty config file (an editor's truncate-then-write) is
// refused and the last good config, limits and models, keeps serving.
func TestLimitsFollowConfigReload(t *testing.T) {
	ctx := context.Background()
	withLimit := func(limit string) string { return strings.Replace(reloadConfig, "%s", limit, 1) }
	cfg, cfgPath, mgr := startManager(t, withLimit("2KiB"), map[string]string{"stories.gguf": "stories260K-chatml.gguf"})
	srv, err := New(cfg, mgr, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	// 4 kB of body, most of it JSON whitespace: over 2KiB, a short prompt.
	body := `{"model":"stories","max_tokens":2,"prompt":"Once upon a time"}` + strings.Repeat(" ", 4000)
	expect := func(step string, want int) {
		t.Helper()
		if status, resp := send(t, "POST", hs.URL+"/v1/completions", "", body); status != want {
			t.Fatalf("%s: %d %s, want %d", step, status, resp, want)
		}
	}
	reload := func(text string) error {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return mgr.Reload(ctx)
	}

	expect("body_limit 2KiB", 413)
	if err := reload(withLimit("1MiB")); err != nil {
		t.Fatal(err)
	}
	expect("after raising body_limit to 1MiB", 200)
	for _, empty := range []string{"", "\n  \n"} {
		if err := reload(empty); err == nil || !strings.Contains(err.Error(), "the file is empty") {
			t.Fatalf("reload of an empty file: %v", err)
		}
		expect("after an empty config file", 200)
	}
	if err := reload(withLimit("2KiB")); err != nil {
		t.Fatal(err)
	}
	expect("after lowering body_limit again", 413)
}
