package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine/gguf"
	"github.com/ggufd/ggufd/internal/sharedtest"
)

func TestSplitCLIFlags(t *testing.T) {
	tests := []struct {
		in       []string
		want     cliFlags
		restJoin string
	}{
		{[]string{"accounts", "list"}, cliFlags{}, "accounts list"},
		{[]string{"accounts", "--config", "a.yaml", "list"}, cliFlags{config: "a.yaml"}, "accounts list"},
		{[]string{"keys", "create", "x", "--config=b.yaml", "--create-db"}, cliFlags{config: "b.yaml", createDB: true}, "keys create x"},
	}
	for _, tc := range tests {
		got, rest := splitCLIFlags(tc.in)
		if got != tc.want || strings.Join(rest, " ") != tc.restJoin {
			t.Errorf("splitCLIFlags(%q) = %+v, %q", tc.in, got, rest)
		}
	}
}

func TestCheckOpenListen(t *testing.T) {
	tests := []struct {
		listen, mode string
		allow, ok    bool
	}{
		{"127.0.0.1:8080", "none", false, true},
		{"localhost:8080", "none", false, true},
		{"0.0.0.0:8080", "none", false, false},
		{"0.0.0.0:8080", "none", true, true},
		{"0.0.0.0:8080", "key", false, true},
	}
	for _, tc := range tests {
		cfg := &config.Config{Listen: tc.listen, Auth: config.Auth{Mode: tc.mode, AllowUnauthenticated: tc.allow}}
		if err := checkOpenListen(cfg); (err == nil) != tc.ok {
			t.Errorf("%s mode %s allow %v: err %v", tc.listen, tc.mode, tc.allow, err)
		}
	}
}

// TestServeRefusesEmptyConfig: an empty config file (an editor caught
// between truncating and writing it) stops the daemon at startup with the
// reason, rather than serving no models.
func TestServeRefusesEmptyConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ggufd.yaml")
	if err := os.WriteFile(path, []byte("\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Bounded only in case it starts after all; it should return at once.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	err := serve(ctx, []string{"--config", path, "--listen", "127.0.0.1:0", "--models-dir", t.TempDir()}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "the file is empty") {
		t.Fatalf("serve with an empty config: %v", err)
	}
}

func TestDevSynth(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo.gguf")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"dev", "synth", "--preset", "demo", "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if f.Architecture() != "llama" || f.Name() != "demo-random" {
		t.Fatalf("synthesized %s %q", f.Architecture(), f.Name())
	}
	if err := run(context.Background(), []string{"dev", "synth", "--preset", "nope"}, &stdout, &stderr); err == nil {
		t.Fatal("unknown preset accepted")
	}
}

// The vision preset writes the model where --out says and its projector
// beside it, under the name that pairs them when served.
func TestDevSynthVision(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "eyes.gguf")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"dev", "synth", "--preset", "vision-demo", "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	model, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	proj, err := gguf.Open(filepath.Join(dir, "eyes.mmproj.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if model.Architecture() != "llama" || model.ChatTemplate() == "" || proj.Architecture() != gguf.ProjectorArchitecture {
		t.Fatalf("wrote %s (template %q) and %s", model.Architecture(), model.ChatTemplate(), proj.Architecture())
	}
	if !strings.Contains(stdout.String(), "eyes.mmproj.gguf") {
		t.Errorf("output does not name the projector: %s", stdout.String())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestServeEndToEnd runs the daemon in-process from a config file, talks to
// it over HTTP, manages an account with the CLI on the same database, and
// shuts it down with its context (as SIGTERM does).
func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	modelsDir := filepath.Join(dir, "models")
	if err := os.MkdirAll(modelsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(sharedtest.Model(t, "stories260K-chatml.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(modelsDir, "stories-chat.gguf"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cfgPath := filepath.Join(dir, "ggufd.yaml")
	cfgText := fmt.Sprintf("listen: %s\nmodels_dir: models\ndata_dir: data\nmodels:\n  tiny:\n    file: stories-chat.gguf\n    context: 256\n    parallel: 2\n", addr)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var logs syncBuffer
	go func() { done <- run(ctx, []string{"serve", "--config", cfgPath}, io.Discard, &logs) }()

	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	body := `{"model":"tiny","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":8,"temperature":0}`
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Choices []struct {
			Message struct{ Content string }
		}
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("chat: status %d, %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if len(out.Choices) != 1 || out.Usage.CompletionTokens != 8 {
		t.Fatalf("chat answer: %+v", out)
	}

	// The CLI works on the running daemon's database.
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"accounts", "--config", cfgPath, "create", "acme", "--balance", "10"}, &stdout, &stderr); err != nil {
		t.Fatalf("accounts create: %v: %s", err, stderr.String())
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"accounts", "list", "--config", cfgPath}, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "acme") {
		t.Fatalf("accounts list: %v: %q", err, stdout.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if strings.Contains(logs.String(), "Tell me a story") {
		t.Fatal("the prompt text was logged")
	}
}

// syncBuffer collects what a daemon writes from several goroutines, or
// through both its stdout and stderr, and can be read while it runs.
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
