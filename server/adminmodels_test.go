package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/internal/sharedtest"
	"github.com/ggufd/ggufd/models"
)

const adminConfig = `listen: 127.0.0.1:0
models_dir: models
data_dir: data
auth: {mode: key, admin_key: test-admin-key}
models:
  tiny:
    file: tiny.gguf
    context: 128
    parallel: 1
    threads: 1
`

// startAdminServer serves cfgText (tiny.gguf is stories260K) in key mode
// with the admin key "test-admin-key", on a fresh accounts database.
func startAdminServer(t *testing.T, cfgText string) (cfgPath string, svc *accounts.Service, hs *httptest.Server) {
	t.Helper()
	cfg, cfgPath, mgr := startManager(t, cfgText, map[string]string{"tiny.gguf": "stories260K.gguf"})
	store, err := accounts.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ggufd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	admin, _ := accounts.NewAdminKey("test-admin-key")
	svc = accounts.NewService(store, accounts.Config{Mode: accounts.ModeKey, AdminKey: admin})
	srv, err := New(cfg, mgr, slog.New(slog.DiscardHandler), WithAccounts(svc))
	if err != nil {
		t.Fatal(err)
	}
	hs = httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return cfgPath, svc, hs
}

func TestAdminModelsAndMetrics(t *testing.T) {
	cfgPath, svc, hs := startAdminServer(t, adminConfig)

	call := func(method, path, key string) (int, string) {
		t.Helper()
		return send(t, method, hs.URL+path, key, "")
	}
	state := func(body string) string {
		var m adminModel
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return m.State
	}

	for _, key := range []string{"", "wrong"} {
		if code, _ := call("GET", "/admin/models", key); code != http.StatusUnauthorized {
			t.Fatalf("admin models with key %q: %d", key, code)
		}
		if code, _ := call("GET", "/metrics", key); code != http.StatusUnauthorized {
			t.Fatalf("metrics with key %q: %d", key, code)
		}
	}
	const key = "test-admin-key"
	code, body := call("GET", "/admin/models", key)
	if code != 200 || !strings.Contains(body, `"state":"unloaded"`) {
		t.Fatalf("list: %d %s", code, body)
	}
	code, body = call("POST", "/admin/models/tiny/load", key)
	if code != 200 || state(body) != "loaded" {
		t.Fatalf("load: %d %s", code, body)
	}
	var loaded adminModel
	json.Unmarshal([]byte(body), &loaded)
	if loaded.MemoryBytes == 0 || loaded.LoadedAt == nil {
		t.Fatalf("loaded model without memory or time: %s", body)
	}
	if loaded.Threads < 1 || loaded.MaxThreads < loaded.Threads || loaded.ThreadsReason == "" {
		t.Fatalf("loaded model without its threads and why: %s", body)
	}
	// No GPU here: stories260K's 5 blocks and output layer are on the CPU.
	cpuOnly := []models.DeviceUsage{{Device: "CPU", Name: "system memory", Kind: "cpu", Layers: 6, Bytes: loaded.MemoryBytes}}
	if len(loaded.Placement) != 1 || loaded.Placement[0] != cpuOnly[0] {
		t.Errorf("admin placement %+v, want %+v", loaded.Placement, cpuOnly)
	}
	code, body = call("GET", "/v1/models/tiny", fundedKey(t, svc, "o1", 1))
	var obj modelObject
	if err := json.Unmarshal([]byte(body), &obj); code != 200 || err != nil || len(obj.Placement) != 1 || obj.Placement[0] != cpuOnly[0] {
		t.Errorf("/v1/models placement: %d %s", code, body)
	}
	// One generation of exactly 5 tokens; the engine's counters follow it.
	if code, body := send(t, "POST", hs.URL+"/v1/completions", fundedKey(t, svc, "o2", 1),
		`{"model":"tiny","prompt":"Once upon","max_tokens":5,"ignore_eos":true}`); code != 200 {
		t.Fatalf("completion: %d %s", code, body)
	}
	code, body = call("GET", "/metrics", key)
	if code != 200 || !strings.Contains(body, `ggufd_model_loaded{model="tiny"} 1`) || !strings.Contains(body, "# TYPE ggufd_model_busy_slots gauge") ||
		!strings.Contains(body, `ggufd_model_threads{model="tiny"} `) {
		t.Fatalf("metrics: %d %s", code, body)
	}
	for _, want := range []string{`ggufd_model_device_layers{device="CPU",model="tiny"} 6`,
		fmt.Sprintf(`ggufd_model_device_memory_bytes{device="CPU",model="tiny"} %g`, float64(loaded.MemoryBytes)),
		`ggufd_model_load_seconds_count{model="tiny"} 1`,
		"# TYPE ggufd_model_tokens_generated_total counter",
		`ggufd_model_engine_requests_total{model="tiny"} 1`,
		`ggufd_model_tokens_generated_total{model="tiny"} 5`,
		// One step for the prompt, then one per token after the first;
		// a 1-thread model never runs on fewer.
		`ggufd_model_decode_steps_total{model="tiny"} 5`,
		`ggufd_model_fewer_thread_steps_total{model="tiny"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	code, body = call("POST", "/admin/models/tiny/unload", key)
	if code != 200 || state(body) != "unloaded" || strings.Contains(body, "placement") {
		t.Fatalf("unload: %d %s", code, body)
	}
	if code, body = call("POST", "/admin/models/nope/load", key); code != http.StatusNotFound || !strings.Contains(body, "model_not_found") {
		t.Fatalf("unknown model: %d %s", code, body)
	}
	if code, body = call("POST", "/admin/reload", key); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if err := os.WriteFile(cfgPath, []byte(adminConfig+"    contxt: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, body = call("POST", "/admin/reload", key); code != http.StatusUnprocessableEntity || !strings.Contains(body, "contxt") {
		t.Fatalf("reload of a bad config: %d %s", code, body)
	}
}

// startManager writes cfgText and copies of shared models (destination →
// file in ../shared/models) into a temp dir and starts a model manager on
// it; it is closed when the test ends.
func startManager(t testing.TB, cfgText string, files map[string]string, opts ...models.Option) (*config.Config, string, *models.Manager) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "models"), 0o755); err != nil {
		t.Fatal(err)
	}
	for dst, src := range files {
		b, err := os.ReadFile(sharedtest.Model(t, src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "models", dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "ggufd.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := models.New(cfg, cfgPath, slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		mgr.Close(ctx)
	})
	return cfg, cfgPath, mgr
}

// TestAdminModelNameWithSlash: a model named "org/tiny" is loaded and
// unloaded through /admin/models/org%2Ftiny/..., as OpenAI's SDKs escape
// a name in a path (GET /v1/models/org%2Ftiny finds it too).
func TestAdminModelNameWithSlash(t *testing.T) {
	_, svc, hs := startAdminServer(t, strings.Replace(adminConfig, "  tiny:\n", "  org/tiny:\n", 1))
	steps := []struct{ method, path, key, want string }{
		{"POST", "/admin/models/org%2Ftiny/load", "test-admin-key", `"state":"loaded"`},
		{"GET", "/v1/models/org%2Ftiny", fundedKey(t, svc, "o1", 1), `"id":"org/tiny"`},
		{"POST", "/admin/models/org%2Ftiny/unload", "test-admin-key", `"state":"unloaded"`},
	}
	for _, s := range steps {
		if code, body := send(t, s.method, hs.URL+s.path, s.key, ""); code != http.StatusOK || !strings.Contains(body, s.want) {
			t.Fatalf("%s %s: %d %s", s.method, s.path, code, body)
		}
	}
}
