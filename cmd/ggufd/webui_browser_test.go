package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/engine/gguf"
)

// browserTestEnv set to "require" (as `make test` does after installing the
// tools) turns a missing browser, Node or playwright-core into a failure
// instead of a skip.
const browserTestEnv = "GGUFD_BROWSER_TEST"

// browserScript is the Node script that drives the page, relative to this
// package; its node_modules come from `make browser-deps`.
const browserScript = "../../scripts/browsertest/webui.mjs"

const webUIConfig = `listen: %s
models_dir: models
data_dir: data
auth: {mode: key, admin_key: %s, currency: 元}
models:
  tiny:
    file: tiny.gguf
    description: TinyStories 260K, trained on children's stories
    # Long enough that a reply with ignore_eos runs for seconds: the Stop
    # check needs a generation that is still going when it clicks.
    context: 32768
    parallel: 2
    threads: 1
    pricing: {input_per_1k: 0.5, output_per_1k: 2}
  rand:
    file: rand.gguf
    description: Llama-2 vocabulary, random weights
    context: 512
    parallel: 1
    threads: 1
    pricing: {per_second: 0.01}
`

type browserTools struct{ node, chromium string }

// findBrowserTools returns Node and Chromium, or skips (fails under
// GGUFD_BROWSER_TEST=require) when they or playwright-core are missing.
func findBrowserTools(t *testing.T) browserTools {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...) + "; `make browser-deps` installs it"
		if os.Getenv(browserTestEnv) == "require" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("node is not on PATH")
	}
	out, err := exec.Command(node, "--version").Output()
	if m := regexp.MustCompile(`^v(\d+)\.`).FindSubmatch(out); err != nil || m == nil {
		unavailable("node --version: %v %q", err, out)
	} else if major, _ := strconv.Atoi(string(m[1])); major < 18 {
		unavailable("node %s is older than playwright-core's minimum (18)", bytes.TrimSpace(out))
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		unavailable("no Chromium at %s (Debian package chromium)", chromium)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(browserScript), "node_modules", "playwright-core", "package.json")); err != nil {
		unavailable("playwright-core is not installed in %s", filepath.Dir(browserScript))
	}
	return browserTools{node: node, chromium: chromium}
}

// TestWebUIInBrowser serves the shared tiny models from a real daemon with
// accounts on, and lets headless Chromium use the test page as a person
// would (scripts/browsertest/webui.mjs): every check the script prints
// becomes a subtest.
func TestWebUIInBrowser(t *testing.T) {
	tools := findBrowserTools(t)
	const adminKey = "webui-admin"
	dir := t.TempDir()
	models := sharedModelsDir(t, dir)
	// A vision preset of `ggufd dev synth` (issue 12) writes a tiny model
	// and its projector; served from the folder, it is what the image check
	// sends a picture to. Without one, that check skips.
	for _, preset := range gguf.PresetNames() {
		if strings.Contains(preset, "vision") {
			var stderr bytes.Buffer
			if err := run(context.Background(), []string{"dev", "synth", "--preset", preset, "--out", filepath.Join(models, "vision.gguf")}, io.Discard, &stderr); err != nil {
				t.Fatalf("dev synth --preset %s: %v: %s", preset, err, stderr.String())
			}
			break
		}
	}
	env := &billingEnv{dir: dir, cfg: filepath.Join(dir, "ggufd.yaml"), addr: freePort(t)}
	if err := os.WriteFile(env.cfg, fmt.Appendf(nil, webUIConfig, env.addr, adminKey), 0o644); err != nil {
		t.Fatal(err)
	}
	env.cli(t, "accounts", "create", "acme", "--balance", "1000", "--create-db")
	key := strings.TrimSpace(env.cli(t, "keys", "create", "acme", "--label", "browser"))
	d := startDaemon(t, env)

	shots := os.Getenv("GGUFD_SCREENSHOTS")
	if shots == "" {
		// A fixed folder, overwritten by each run, so the pictures outlive
		// the test for a person to look at.
		shots = filepath.Join(os.TempDir(), "ggufd-webui-screenshots")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tools.node, filepath.Base(browserScript))
	cmd.Dir = filepath.Dir(browserScript)
	cmd.Env = append(os.Environ(),
		"GGUFD_URL=http://"+env.addr, "GGUFD_KEY="+key, "GGUFD_OPENID=acme", "GGUFD_ADMIN_KEY="+adminKey,
		"GGUFD_CHAT_MODEL=tiny", "SCREENSHOT_DIR="+shots, "CHROMIUM="+tools.chromium)
	out, runErr := cmd.CombinedOutput()
	results := parseBrowserChecks(out)
	t.Logf("screenshots in %s", shots)
	if len(results) == 0 || runErr != nil && !hasFailure(results) {
		t.Fatalf("browser script: %v\n%s\ndaemon log:\n%s", runErr, out, d.logs.String())
	}
	for _, r := range results {
		t.Run(r.name, func(t *testing.T) {
			for _, l := range r.detail {
				t.Log(l)
			}
			switch r.status {
			case "SKIP":
				t.Skip(r.reason)
			case "FAIL":
				t.Error(r.reason)
			}
		})
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", d.logs.String())
	}
}

type browserCheck struct {
	status, name, reason string
	detail               []string // indented lines printed after the check
}

var checkLine = regexp.MustCompile(`^(PASS|SKIP|FAIL) ([^:]+)(?:: (.*))?$`)

// parseBrowserChecks reads the script's "PASS|SKIP|FAIL name[: reason]"
// lines. Indented lines after a FAIL continue its reason; other lines
// ("INFO …" notes, stray output) belong to the check that follows them.
func parseBrowserChecks(out []byte) []browserCheck {
	var checks []browserCheck
	var pending []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := checkLine.FindStringSubmatch(line); m != nil {
			checks = append(checks, browserCheck{status: m[1], name: m[2], reason: m[3], detail: pending})
			pending = nil
			continue
		}
		if n := len(checks); n > 0 && checks[n-1].status == "FAIL" && strings.HasPrefix(line, "    ") {
			checks[n-1].reason += "\n" + line
			continue
		}
		pending = append(pending, line)
	}
	return checks
}

func hasFailure(checks []browserCheck) bool {
	for _, c := range checks {
		if c.status == "FAIL" {
			return true
		}
	}
	return false
}
