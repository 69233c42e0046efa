package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// nginxConfig is the example config the README documents.
const nginxConfig = "../../docs/nginx.conf"

func nginxBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("nginx")
	if err != nil {
		if p = "/usr/sbin/nginx"; !isExecutable(p) {
			t.Skip("nginx is not installed (make deps-test installs it when it can); docs/nginx.conf is not checked")
		}
	}
	return p
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

// nginxMain are main-context directives that keep nginx's files in dir.
func nginxMain(dir string) string {
	return "pid " + filepath.Join(dir, "nginx.pid") + "; error_log " + filepath.Join(dir, "error.log") + ";"
}

func TestNginxConfigParses(t *testing.T) {
	bin := nginxBinary(t)
	dir := t.TempDir()
	conf, err := filepath.Abs(nginxConfig)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t", "-p", dir, "-c", conf, "-g", nginxMain(dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
}

// TestNginxRoutesModelsToTheirDaemons runs the documented config in front of
// two daemons: A serves tiny only, B serves tiny and rand (the config's big
// model). Every /llm_api/…/rand/ request must reach B, or A answers 404.
func TestNginxRoutesModelsToTheirDaemons(t *testing.T) {
	bin := nginxBinary(t)
	c := newCluster(t, clusterOptions{daemons: 2, balance: "100", ttl: 30 * time.Second,
		serves: [][]string{{"tiny"}, {"tiny", "rand"}}})
	a, b := c.nodes[0], c.nodes[1]
	if r, err := chatModel(a, "rand", 2); err != nil || r.status != 404 {
		t.Fatalf("A asked for rand: %+v %v (want 404: it does not serve it)", r, err)
	}

	data, err := os.ReadFile(nginxConfig)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	front := freePort(t)
	conf := string(data)
	for from, to := range map[string]string{
		"192.0.2.11:8080": a.addr, "192.0.2.12:8080": b.addr, "192.0.2.13:8080": b.addr,
		"qwen2.5-72b": "rand", "listen 80;": "listen " + front + ";",
	} {
		if !strings.Contains(conf, from) {
			t.Fatalf("docs/nginx.conf no longer has %q", from)
		}
		conf = strings.ReplaceAll(conf, from, to)
	}
	var temp []string
	for _, p := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		temp = append(temp, p+"_temp_path "+filepath.Join(dir, p)+";")
	}
	conf = regexp.MustCompile(`(?m)^http \{`).ReplaceAllString(conf, "http {\n    access_log off;\n    "+strings.Join(temp, "\n    "))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-g", "daemon off; master_process off; "+nginxMain(dir))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", front)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen: %s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}

	proxy := &billingEnv{addr: front, key: c.key}
	tests := []struct {
		path, model string
	}{
		{"/llm_api/acme/u1/rand/v1/chat/completions", "rand"}, // B only
		{"/llm_api/acme/u2/rand/v1/chat/completions", "rand"},
		{"/llm_api/acme/u1/tiny/v1/chat/completions", "tiny"}, // A or B
		{"/v1/chat/completions", "tiny"},                      // any daemon
	}
	for _, tt := range tests {
		for range 4 {
			if r, err := chatAt(proxy, tt.path, tt.model, 2); err != nil || r.status != 200 {
				t.Fatalf("%s through nginx: %+v %v", tt.path, r, err)
			}
		}
	}
	resp, err := http.Get("http://" + front + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/health through nginx: %v %v", resp, err)
	}
	resp.Body.Close()
}
