package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/internal/pgtest"
	"github.com/ggufd/ggufd/internal/sharedtest"
)

// These tests run several real ggufd daemons (subprocesses of the test
// binary) on one throwaway PostgreSQL database, as machines behind a load
// balancer do, and check what the accounts guarantee across them.

// clusterConfig: "tiny" is cheap and rate-limited; "rand" (random weights,
// so it never stops early) is priced on output only, so a request costs
// exactly its reservation, and has a context long enough for streams that
// run for seconds.
const clusterConfig = `listen: %s
models_dir: %s
data_dir: %s
database: '%s'
reservation_ttl: %s
auth: {mode: key, admin_key: e2e-admin, currency: 元}
models:
`

var clusterModels = map[string]string{
	"tiny": `
  tiny:
    file: tiny.gguf
    context: 256
    parallel: 4
    threads: 1
    rate_limit: %d
`,
	"rand": `
  rand:
    file: rand.gguf
    context: 16384
    parallel: 4
    threads: 1
    pricing: {output_per_1k: 1}
`,
}

type cluster struct {
	dsn     string
	nodes   []*billingEnv
	daemons []*daemon
	key     string
}

type clusterOptions struct {
	daemons   int
	balance   string
	ttl       time.Duration
	rateLimit int
	// serves lists the models of each daemon; nil: all serve tiny and rand.
	serves [][]string
}

func newCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	c := &cluster{dsn: pgtest.DSN(t)}
	dir := t.TempDir()
	files := map[string]string{"tiny": "stories260K-chatml.gguf", "rand": "llama-2-tiny-random-chat.gguf"}
	for i := range o.daemons {
		node := &billingEnv{dir: filepath.Join(dir, fmt.Sprintf("d%d", i)), addr: freePort(t)}
		node.cfg = filepath.Join(node.dir, "ggufd.yaml")
		// Each daemon has its own models folder: it serves every GGUF in it.
		models := filepath.Join(node.dir, "models")
		if err := os.MkdirAll(models, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf(clusterConfig, node.addr, models, filepath.Join(node.dir, "data"), c.dsn, o.ttl)
		serves := []string{"tiny", "rand"}
		if o.serves != nil {
			serves = o.serves[i]
		}
		for _, m := range serves {
			if err := os.Symlink(sharedtest.Model(t, files[m]), filepath.Join(models, m+".gguf")); err != nil {
				t.Fatal(err)
			}
			body += strings.ReplaceAll(clusterModels[m], "%d", fmt.Sprint(o.rateLimit))
		}
		if err := os.WriteFile(node.cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, node)
	}
	// The CLI on one machine manages the accounts of all.
	c.nodes[0].cli(t, "accounts", "create", "acme", "--balance", o.balance, "--create-db")
	c.key = strings.TrimSpace(c.nodes[0].cli(t, "keys", "create", "acme"))
	for _, node := range c.nodes {
		node.key = c.key
		c.daemons = append(c.daemons, startDaemon(t, node))
	}
	return c
}

// service opens the shared database as the CLI does, to read what every
// daemon holds and wrote.
func (c *cluster) service(t *testing.T) *accounts.Service {
	t.Helper()
	store, err := accounts.OpenPostgres(context.Background(), c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return accounts.NewService(store, accounts.Config{Mode: accounts.ModeKey})
}

func (c *cluster) state(t *testing.T) (accounts.AccountInfo, []accounts.LedgerEntry) {
	t.Helper()
	svc := c.service(t)
	info, err := svc.Info(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := svc.Ledger(context.Background(), accounts.LedgerFilter{OpenID: "acme", Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return info, rows
}

// stream starts a streamed chat for user through /llm_api/ and returns once
// the first token has arrived, with the rest of the stream to read.
func (c *cluster) stream(t *testing.T, node *billingEnv, user string, maxTokens int) (*http.Response, *bufio.Scanner) {
	t.Helper()
	body := fmt.Sprintf(`{"model":"rand","messages":[{"role":"user","content":"Write a long story"}],"max_tokens":%d,"stream":true}`, maxTokens)
	req, _ := http.NewRequest("POST", "http://"+node.addr+"/llm_api/acme/"+user+"/rand/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("stream for %s: status %d: %s", user, resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"content":"`) {
			return resp, sc
		}
	}
	resp.Body.Close()
	t.Fatalf("stream for %s ended before its first token", user)
	return nil, nil
}

// drain reads a stream to its end and returns its last data payload before
// [DONE].
func drain(sc *bufio.Scanner) (last string, done bool) {
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "data: [DONE]":
			done = true
		case strings.HasPrefix(line, "data: "):
			last = line
		}
	}
	return last, done
}

func chatModel(env *billingEnv, model string, maxTokens int) (chatResult, error) {
	return chatAt(env, "/v1/chat/completions", model, maxTokens)
}

// chatAt posts a chat completion to path (a /v1 or /llm_api/ route).
func chatAt(env *billingEnv, path, model string, maxTokens int) (chatResult, error) {
	body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":%d}`, model, maxTokens)
	req, _ := http.NewRequest("POST", "http://"+env.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+env.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return chatResult{}, err
	}
	defer resp.Body.Close()
	var out struct {
		Usage *struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		}
		Error *struct{ Code string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return chatResult{}, fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	r := chatResult{status: resp.StatusCode, requestID: resp.Header.Get("X-Request-Id")}
	if out.Error != nil {
		r.code = out.Error.Code
	}
	if out.Usage != nil {
		r.usage.PromptTokens, r.usage.CompletionTokens = out.Usage.PromptTokens, out.Usage.CompletionTokens
	}
	return r, nil
}

// TestDaemonsNeverOverdrawASharedBalance sends 100 requests at once, split
// over three daemons, on a balance that covers ten. Each costs exactly what
// it reserves, so with per-daemon reservations each daemon would admit ten.
func TestDaemonsNeverOverdrawASharedBalance(t *testing.T) {
	c := newCluster(t, clusterOptions{daemons: 3, balance: "0.2", ttl: 30 * time.Second})
	const maxTokens = 20 // 0.02元 at 1元 per 1K output tokens
	results := make([]chatResult, 100)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := chatModel(c.nodes[i%len(c.nodes)], "rand", maxTokens)
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	ok, quota, short := 0, 0, 0
	for _, r := range results {
		switch {
		case r.status == 200:
			ok++
			if r.usage.CompletionTokens < maxTokens {
				short++
			}
		case r.status == 429 && r.code == "insufficient_quota":
			quota++
		default:
			t.Fatalf("unexpected answer %+v", r)
		}
	}
	info, rows := c.state(t)
	checkInvariant(t, info, rows)
	if len(rows) != ok {
		t.Fatalf("%d served, %d ledger rows", ok, len(rows))
	}
	if quota == 0 || ok < 10 || short == 0 && (ok != 10 || info.Balance != 0) {
		t.Fatalf("%d served (%d stopped early), %d refused, balance %v: want exactly the 10 the balance covers", ok, short, quota, info.Balance)
	}
	if info.Reserved != 0 || info.Running != 0 {
		t.Fatalf("left behind: reserved %v, running %d", info.Reserved, info.Running)
	}
	t.Logf("100 requests over 3 daemons on 0.2元: %d served, %d refused, balance %v", ok, quota, info.Balance)
}

// TestKilledDaemonReleasesItsHolds SIGKILLs a daemon in the middle of two
// streams: the requests it completed are all in the ledger, and what its
// streams reserved comes back to the other daemon once the holds expire.
func TestKilledDaemonReleasesItsHolds(t *testing.T) {
	const ttl = 2 * time.Second
	c := newCluster(t, clusterOptions{daemons: 2, balance: "40", ttl: ttl})
	a, b := c.nodes[0], c.nodes[1]
	var completed []chatResult
	for range 5 {
		r, err := chatModel(a, "rand", 5)
		if err != nil || r.status != 200 {
			t.Fatalf("on A: %+v %v", r, err)
		}
		completed = append(completed, r)
	}
	// Two streams of up to 16000 tokens reserve 32 of the 40元.
	for _, user := range []string{"u1", "u2"} {
		resp, _ := c.stream(t, a, user, 16000)
		defer resp.Body.Close()
	}
	c.daemons[0].kill()
	killed := time.Now()

	svc := c.service(t)
	held, err := svc.Reserved(context.Background(), "acme")
	if err != nil || held != 32*accounts.MicrosPerUnit {
		t.Fatalf("right after the kill: reserved %v, %v (want 32元 of A's streams)", held, err)
	}
	if r, err := chatModel(b, "rand", 16000); err != nil || r.status != 429 || r.code != "insufficient_quota" {
		t.Fatalf("B while A's holds are live: %+v %v", r, err)
	}
	awaitNoHolds(t, svc, ttl+5*time.Second) // A's lapse
	lapsed := time.Since(killed)
	resp, _ := c.stream(t, b, "u3", 16000) // needs 16 of what A held
	resp.Body.Close()
	// B settles the stream it was hung up on in its own time, and the
	// balance and the ledger are two reads: wait until it has.
	awaitNoHolds(t, svc, 30*time.Second)

	info, rows := c.state(t)
	byID := map[string]accounts.LedgerEntry{}
	for _, r := range rows {
		byID[r.RequestID] = r
	}
	for _, r := range completed {
		if e, ok := byID[r.requestID]; !ok || e.CompletionTokens != r.usage.CompletionTokens {
			t.Fatalf("completed request %s: ledger %+v", r.requestID, e)
		}
	}
	checkInvariant(t, info, rows)
	t.Logf("A's 32元 of holds lapsed %s after SIGKILL (ttl %s); %d ledger rows, balance %v", lapsed.Round(time.Millisecond), ttl, len(rows), info.Balance)
}

// awaitNoHolds waits until acme has nothing reserved, failing after limit.
func awaitNoHolds(t *testing.T, svc *accounts.Service, limit time.Duration) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		held, err := svc.Reserved(context.Background(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		if held == 0 {
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("acme still has %v reserved after %s", held, limit)
		}
	}
}

// TestRateLimitIsSharedAcrossDaemons: a model limited to 60 requests a
// minute per account admits 60 of 90 sent at once to three daemons.
func TestRateLimitIsSharedAcrossDaemons(t *testing.T) {
	c := newCluster(t, clusterOptions{daemons: 3, balance: "10", ttl: 30 * time.Second, rateLimit: 60})
	results := make([]chatResult, 90)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := chatModel(c.nodes[i%len(c.nodes)], "tiny", 2)
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	ok, limited := 0, 0
	for _, r := range results {
		switch {
		case r.status == 200:
			ok++
		case r.status == 429 && r.code == "rate_limit_exceeded":
			limited++
		default:
			t.Fatalf("unexpected answer %+v", r)
		}
	}
	if ok != 60 || limited != 30 {
		t.Fatalf("%d admitted, %d rate limited: want 60 and 30", ok, limited)
	}
}

// TestSuspendCrossesDaemons sends a suspend to daemon A for a user whose
// stream runs on daemon B: B ends it within a second, and another user's
// stream goes on.
func TestSuspendCrossesDaemons(t *testing.T) {
	c := newCluster(t, clusterOptions{daemons: 2, balance: "100", ttl: 30 * time.Second})
	a, b := c.nodes[0], c.nodes[1]
	alice, aliceStream := c.stream(t, b, "alice", 16000)
	defer alice.Body.Close()
	bob, bobStream := c.stream(t, b, "bob", 16000)
	defer bob.Body.Close()

	req, _ := http.NewRequest("POST", "http://"+a.addr+"/llm_api/acme/alice/rand/v1/suspend_current_generate", nil)
	req.Header.Set("Authorization", "Bearer "+c.key)
	sent := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Stopped int }
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != 200 || res.Stopped != 1 {
		t.Fatalf("suspend on A: status %d, stopped %d (want B's one stream counted)", resp.StatusCode, res.Stopped)
	}
	ended := make(chan string, 1)
	go func() {
		last, done := drain(aliceStream)
		if !done {
			last = "no [DONE]: " + last
		}
		ended <- last
	}()
	select {
	case last := <-ended:
		if took := time.Since(sent); took > time.Second {
			t.Fatalf("alice's stream on B ended %s after the suspend on A", took)
		}
		if !strings.Contains(last, `"finish_reason":"stop"`) {
			t.Fatalf("alice's stream ended with %q", last)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("alice's stream on B still runs 5s after the suspend on A")
	}
	// bob's stream was not suspended: it goes on delivering tokens.
	for chunks := 0; chunks < 3; {
		if !bobStream.Scan() {
			t.Fatal("bob's stream ended too")
		}
		line := bobStream.Text()
		if strings.Contains(line, `"finish_reason":"stop"`) || line == "data: [DONE]" {
			t.Fatalf("bob's stream was stopped: %q", line)
		}
		if strings.Contains(line, `"content":"`) {
			chunks++
		}
	}
	t.Logf("suspend on A ended alice's stream on B within %s", time.Since(sent).Round(time.Millisecond))
}
