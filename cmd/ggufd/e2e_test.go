package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/internal/pgtest"
	"github.com/ggufd/ggufd/internal/sharedtest"
)

// daemonArgsEnv makes the test binary run the daemon instead of the tests,
// so the end-to-end tests can SIGKILL a real ggufd process.
const daemonArgsEnv = "GGUFD_TEST_DAEMON_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(daemonArgsEnv); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, strings.Split(args, "\x1f"), os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "ggufd:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// billingEnv is a config dir with two priced models and an account with a
// key, for end-to-end billing tests.
type billingEnv struct {
	dir, cfg, addr, key string
}

const pricedConfig = `listen: %s
models_dir: models
data_dir: data
auth: {mode: key, admin_key: e2e-admin, currency: 元}
models:
  tiny:
    file: tiny.gguf
    context: 256
    parallel: 4
    threads: 1
    pricing: {input_per_1k: 1, output_per_1k: 2}
  rand:
    file: rand.gguf
    context: 512
    parallel: 2
    threads: 1
    pricing: {input_per_1k: 1, output_per_1k: 2}
`

// sharedModelsDir makes dir/models with the shared chat models as tiny.gguf
// (stories260K, trained) and rand.gguf (Llama-2 vocabulary, random), and
// returns its path.
func sharedModelsDir(t *testing.T, dir string) string {
	t.Helper()
	models := filepath.Join(dir, "models")
	if err := os.MkdirAll(models, 0o755); err != nil {
		t.Fatal(err)
	}
	for dst, src := range map[string]string{"tiny.gguf": "stories260K-chatml.gguf", "rand.gguf": "llama-2-tiny-random-chat.gguf"} {
		b, err := os.ReadFile(sharedtest.Model(t, src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(models, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return models
}

func newBillingEnv(t *testing.T, balance string) *billingEnv {
	t.Helper()
	dir := t.TempDir()
	sharedModelsDir(t, dir)
	env := &billingEnv{dir: dir, cfg: filepath.Join(dir, "ggufd.yaml"), addr: freePort(t)}
	if err := os.WriteFile(env.cfg, []byte(fmt.Sprintf(pricedConfig, env.addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	env.cli(t, "accounts", "create", "acme", "--balance", balance, "--create-db")
	env.key = strings.TrimSpace(env.cli(t, "keys", "create", "acme", "--label", "e2e"))
	if !strings.HasPrefix(env.key, "sk-") {
		t.Fatalf("keys create printed %q", env.key)
	}
	return env
}

// cli runs a ggufd accounts/keys/usage command on the env's database.
func (e *billingEnv) cli(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), append(args, "--config", e.cfg), &stdout, &stderr); err != nil {
		t.Fatalf("ggufd %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// ledger reads the account's state straight from the database (also while
// a daemon runs: SQLite in WAL mode).
func (e *billingEnv) ledger(t *testing.T) (accounts.AccountInfo, []accounts.LedgerEntry) {
	t.Helper()
	ctx := context.Background()
	store, err := accounts.OpenSQLite(ctx, filepath.Join(e.dir, "data", "ggufd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := accounts.NewService(store, accounts.Config{Mode: accounts.ModeKey})
	info, err := svc.Info(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := svc.Ledger(ctx, accounts.LedgerFilter{OpenID: "acme", Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return info, rows
}

// checkInvariant: balance = top-ups − the ledger's costs, never negative.
func checkInvariant(t *testing.T, info accounts.AccountInfo, rows []accounts.LedgerEntry) {
	t.Helper()
	var spent accounts.Money
	for _, r := range rows {
		spent += r.Cost
	}
	if info.Balance != info.TotalTopUp-spent {
		t.Fatalf("balance %v != top-ups %v - ledger %v", info.Balance, info.TotalTopUp, spent)
	}
	if info.Balance < 0 {
		t.Fatalf("overdrawn: %v", info.Balance)
	}
}

type daemon struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
}

func startDaemon(t *testing.T, env *billingEnv) *daemon {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), daemonArgsEnv+"=serve\x1f--config\x1f"+env.cfg)
	d := &daemon{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = d.logs, d.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() { d.kill() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + env.addr + "/health")
		if err == nil {
			resp.Body.Close()
			return d
		}
		select {
		case err := <-d.done:
			t.Fatalf("daemon exited: %v\n%s", err, d.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not come up\n%s", d.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) kill() {
	if d.cmd.ProcessState == nil {
		d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.done
		d.done <- nil // later calls return at once
	}
}

type chatResult struct {
	status    int
	requestID string
	code      string
	usage     struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	}
}

func chat(env *billingEnv, model string, maxTokens int, user string) (chatResult, error) {
	body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":%q}],"max_tokens":%d}`, model, user, maxTokens)
	req, _ := http.NewRequest("POST", "http://"+env.addr+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+env.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return chatResult{}, err
	}
	defer resp.Body.Close()
	var out struct {
		Usage json.RawMessage
		Error *struct{ Code string }
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return chatResult{}, err
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return chatResult{}, fmt.Errorf("status %d: %q: %w", resp.StatusCode, data, err)
	}
	r := chatResult{status: resp.StatusCode, requestID: resp.Header.Get("X-Request-Id")}
	if out.Error != nil {
		r.code = out.Error.Code
	}
	if out.Usage != nil {
		json.Unmarshal(out.Usage, &r.usage)
	}
	return r, nil
}

// TestDaemonSIGKILLKeepsLedger kills the daemon process in the middle of a
// load of requests, restarts it, and checks that every request a client saw
// complete is in the ledger and that the balance adds up.
func TestDaemonSIGKILLKeepsLedger(t *testing.T) {
	env := newBillingEnv(t, "1000")
	d := startDaemon(t, env)

	var (
		mu        sync.Mutex
		completed []chatResult
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := chat(env, "tiny", 24, fmt.Sprintf("Tell story %d-%d", w, i))
				if err != nil {
					return // the daemon died under us
				}
				if r.status == 200 {
					mu.Lock()
					completed = append(completed, r)
					mu.Unlock()
				}
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(completed)
		mu.Unlock()
		if n >= 12 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests completed\n%s", n, d.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.kill() // SIGKILL while requests are in flight
	close(stop)
	wg.Wait()

	d2 := startDaemon(t, env)
	info, rows := env.ledger(t)
	byID := map[string]accounts.LedgerEntry{}
	for _, r := range rows {
		byID[r.RequestID] = r
	}
	for _, c := range completed {
		e, ok := byID[c.requestID]
		if !ok {
			t.Fatalf("completed request %s is not in the ledger (%d rows)", c.requestID, len(rows))
		}
		if e.CompletionTokens != c.usage.CompletionTokens || e.PromptTokens != c.usage.PromptTokens {
			t.Fatalf("ledger %+v does not match the response's usage %+v", e, c.usage)
		}
	}
	checkInvariant(t, info, rows)
	t.Logf("%d completed before SIGKILL, %d ledger rows, balance %v", len(completed), len(rows), info.Balance)

	// The restarted daemon serves and bills.
	r, err := chat(env, "tiny", 4, "after restart")
	if err != nil || r.status != 200 {
		t.Fatalf("after restart: %+v %v", r, err)
	}
	d2.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-d2.done; err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, d2.logs.String())
	}
	d2.done <- nil
}

// TestConcurrentRequestsNeverOverdraw sends 50 requests at once on a balance
// that covers only a few.
func TestConcurrentRequestsNeverOverdraw(t *testing.T) {
	env := newBillingEnv(t, "0.5")
	startDaemon(t, env)
	results := make([]chatResult, 50)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := chat(env, "tiny", 16, fmt.Sprintf("Once upon a time %d", i))
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	ok, quota := 0, 0
	for _, r := range results {
		switch {
		case r.status == 200:
			ok++
		case r.status == 429 && r.code == "insufficient_quota":
			quota++
		default:
			t.Fatalf("unexpected answer %+v", r)
		}
	}
	if ok == 0 || quota == 0 {
		t.Fatalf("%d served, %d refused: the balance should cover some but not all", ok, quota)
	}
	info, rows := env.ledger(t)
	if len(rows) != ok {
		t.Fatalf("%d requests served but %d ledger rows", ok, len(rows))
	}
	checkInvariant(t, info, rows)
	t.Logf("50 concurrent on 0.5元: %d served, %d refused, balance %v", ok, quota, info.Balance)
}

// TestAbortedStreamBilledForWhatItGot closes a stream after a few tokens:
// the ledger charges exactly the tokens the engine generated.
func TestAbortedStreamBilledForWhatItGot(t *testing.T) {
	env := newBillingEnv(t, "100")
	startDaemon(t, env)
	body := `{"model":"rand","messages":[{"role":"user","content":"Write a very long story"}],"max_tokens":400,"stream":true}`
	req, _ := http.NewRequest("POST", "http://"+env.addr+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+env.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	chunks := 0
	for sc.Scan() && chunks < 4 {
		if strings.HasPrefix(sc.Text(), "data: {") && strings.Contains(sc.Text(), `"content":"`) {
			chunks++
		}
	}
	resp.Body.Close() // the client goes away mid-stream
	if chunks < 4 {
		t.Fatalf("stream ended after %d chunks", chunks)
	}
	var rows []accounts.LedgerEntry
	deadline := time.Now().Add(20 * time.Second)
	for len(rows) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		_, rows = env.ledger(t)
	}
	if len(rows) != 1 {
		t.Fatalf("ledger rows: %d", len(rows))
	}
	e := rows[0]
	if e.CompletionTokens < chunks-1 || e.CompletionTokens >= 400 {
		t.Fatalf("aborted stream billed for %d completion tokens after %d chunks", e.CompletionTokens, chunks)
	}
	// 1元 per 1K input tokens, 2元 per 1K output tokens, in micro-units.
	want := accounts.Money(int64(e.PromptTokens)*1000 + int64(e.CompletionTokens)*2000)
	if e.Cost != want {
		t.Fatalf("cost %v, want %v for %d+%d tokens", e.Cost, want, e.PromptTokens, e.CompletionTokens)
	}
	info, rows := env.ledger(t)
	checkInvariant(t, info, rows)
	t.Logf("aborted after %d chunks: billed %d prompt + %d completion tokens = %v (finish %q, status %d)", chunks, e.PromptTokens, e.CompletionTokens, e.Cost, e.FinishReason, e.HTTPStatus)
}
