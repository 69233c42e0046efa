package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/internal/plantlib"
	"github.com/ggufd/ggufd/internal/sharedtest"
)

// TestBackendLibrariesOnlyFromOwnFolder installs the daemon as
// <root>/bin/ggufd and plants libraries that run code when loaded: in
// <root>/lib/ollama (where Ollama's loader looked, also named by
// OLLAMA_LIBRARY_PATH and GGML_BACKEND_PATH) and in ggufd's own
// <root>/lib/ggufd. Only the latter may be loaded, and only while nobody
// else can write it; either way the daemon serves on the CPU and says why.
func TestBackendLibrariesOnlyFromOwnFolder(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"bin", "lib/ollama", "lib/ggufd", "models"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(root, "bin", "ggufd")
	copyFile(t, os.Args[0], exe, 0o755)
	ollamaLibs := []string{filepath.Join(root, "lib/ollama/libggml-base.so.0"), filepath.Join(root, "lib/ollama/libggml-cuda.so")}
	ownLibs := []string{filepath.Join(root, "lib/ggufd/libggml-base.so.0"), filepath.Join(root, "lib/ggufd/libggml-cuda.so")}
	for _, p := range append(append([]string{}, ollamaLibs...), ownLibs...) {
		plantlib.Build(t, p, -1)
	}

	cases := []struct {
		name       string
		ownMode    os.FileMode
		ownLoaded  bool
		wantReason string
	}{
		{"own folder world-writable: refused", 0o777, false, "writable by group or others"},
		{"own folder trusted: loaded", 0o755, true, "ggml could not load libggml-cuda.so"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.Chmod(filepath.Join(root, "lib/ggufd"), c.ownMode); err != nil {
				t.Fatal(err)
			}
			health, logs := runDaemonOnce(t, exe, root)
			for _, p := range ollamaLibs {
				if plantlib.Loaded(p) {
					t.Errorf("%s was loaded\n%s", p, logs)
				}
			}
			for _, p := range ownLibs {
				if plantlib.Loaded(p) != c.ownLoaded {
					t.Errorf("%s loaded = %v, want %v\n%s", p, !c.ownLoaded, c.ownLoaded, logs)
				}
			}
			if len(health.Devices) == 0 || health.Devices[0].Kind != "cpu" || health.Devices[0].TotalBytes == 0 {
				t.Errorf("/health devices = %+v, want the CPU with its memory", health.Devices)
			}
			if !strings.Contains(health.CPUOnlyReason, c.wantReason) {
				t.Errorf("/health cpu_only_reason = %q, want it to mention %q", health.CPUOnlyReason, c.wantReason)
			}
			if n := strings.Count(logs, `msg="running on the CPU only"`); n != 1 {
				t.Errorf("%d log lines say it runs on the CPU, want 1\n%s", n, logs)
			}
		})
	}
}

type healthBody struct {
	Devices []struct {
		Kind       string `json:"kind"`
		TotalBytes uint64 `json:"total_bytes"`
	} `json:"devices"`
	CPUOnlyReason string `json:"cpu_only_reason"`
}

// runDaemonOnce starts exe (a copy of this test binary acting as the
// daemon), reads /health once it answers, stops it and returns its logs.
func runDaemonOnce(t *testing.T, exe, root string) (healthBody, string) {
	t.Helper()
	h, logs, _ := runDaemonOnceWithChat(t, exe, root, "")
	return h, logs
}

// runDaemonOnceWithChat is runDaemonOnce that also asks model (unless "")
// for a short completion and returns its text.
func runDaemonOnceWithChat(t *testing.T, exe, root, model string) (healthBody, string, string) {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		daemonArgsEnv+"=serve\x1f--listen\x1f"+addr+"\x1f--models-dir\x1f"+filepath.Join(root, "models"),
		"OLLAMA_LIBRARY_PATH="+filepath.Join(root, "lib/ollama"),
		"GGML_BACKEND_PATH="+filepath.Join(root, "lib/ollama/libggml-cuda.so"))
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-done
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var h healthBody
			if err := json.Unmarshal(b, &h); err != nil {
				t.Fatalf("/health: %v: %s", err, b)
			}
			answer := ""
			if model != "" {
				answer = complete(t, addr, model)
			}
			return h, logs.String(), answer
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("daemon exited: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not come up\n%s", logs.String())
		}
	}
}

// complete asks model for 8 tokens of a completion and returns the text.
func complete(t *testing.T, addr, model string) string {
	t.Helper()
	body := `{"model":"` + model + `","prompt":"Once upon a time","max_tokens":8,"temperature":0}`
	resp, err := http.Post("http://"+addr+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Choices []struct{ Text string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || len(out.Choices) != 1 {
		t.Fatalf("completion: status %d, %v, %+v", resp.StatusCode, err, out)
	}
	return out.Choices[0].Text
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestGPUBackendWithoutDeviceServesOnCPU runs the daemon with the CUDA
// backend that `make cuda` built (lib/ggufd in the checkout; skipped when it
// is absent, as in CI: the library is ~190 MB and takes long to compile).
// On a machine without a GPU or driver the library loads, finds no device,
// and the daemon must serve on the CPU and say so; with a GPU it must list it.
func TestGPUBackendWithoutDeviceServesOnCPU(t *testing.T) {
	built := filepath.Join("..", "..", "lib", "ggufd")
	if _, err := os.Stat(filepath.Join(built, "libggml-cuda.so")); err != nil {
		t.Skip("no lib/ggufd/libggml-cuda.so: run `make cuda` to test with the CUDA backend")
	}
	root := t.TempDir()
	for _, d := range []string{"bin", "lib/ggufd", "models"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(root, "bin", "ggufd")
	copyFile(t, os.Args[0], exe, 0o755)
	libs, _ := filepath.Glob(filepath.Join(built, "libggml-*"))
	for _, l := range libs {
		dst := filepath.Join(root, "lib/ggufd", filepath.Base(l))
		if target, err := os.Readlink(l); err == nil { // libggml-base.so.0 → libggml-base.so.0.0.0
			if err := os.Symlink(target, dst); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.Link(l, dst); err != nil { // other file system: copy
			copyFile(t, l, dst, 0o644)
		}
	}
	copyFile(t, sharedtest.Model(t, "stories260K-chatml.gguf"), filepath.Join(root, "models", "tiny.gguf"), 0o644)

	health, logs, answer := runDaemonOnceWithChat(t, exe, root, "tiny")
	if !strings.Contains(logs, `msg="backend library loaded" file=libggml-cuda.so`) {
		t.Errorf("libggml-cuda.so was not loaded\n%s", logs)
	}
	gpu := false
	for _, d := range health.Devices {
		gpu = gpu || d.Kind == "gpu"
	}
	if !gpu && !strings.Contains(health.CPUOnlyReason, "libggml-cuda.so loaded but found no usable device") {
		t.Errorf("no GPU, and cpu_only_reason = %q", health.CPUOnlyReason)
	}
	if answer == "" {
		t.Errorf("no completion served\n%s", logs)
	}
	t.Logf("devices %+v; reason %q", health.Devices, health.CPUOnlyReason)
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "CUDA") || strings.Contains(l, "cuda") || strings.Contains(l, "running on the CPU") {
			t.Log(l)
		}
	}
}
