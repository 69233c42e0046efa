package accounts

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/internal/pgtest"
)

// crashChildEnv makes the test binary act as a daemon that settles requests
// until it is killed.
const crashChildEnv = "GGUFD_ACCOUNTS_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// crashChild settles requests forever, printing each settled request id
// after its commit returned.
func crashChild(path string) {
	ctx := context.Background()
	store, err := OpenSQLite(ctx, path)
	if err != nil {
		panic(err)
	}
	svc := NewService(store, Config{Mode: ModeKey})
	p := Pricing{InputPer1K: 1234, OutputPer1K: 5678}
	for i := 0; ; i++ {
		res, err := svc.Reserve(ctx, Identity{OpenID: "acme"}, "m", p, Work{PromptTokens: 100, MaxTokens: 100})
		if err != nil {
			panic(err)
		}
		res.RequestID = strconv.Itoa(i)
		if _, err := svc.Settle(ctx, res, Usage{PromptTokens: 100, CompletionTokens: i % 100}); err != nil {
			panic(err)
		}
		os.Stdout.WriteString(res.RequestID + "\n")
	}
}

func TestSIGKILLLosesNoSettledRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "1000000")
	f.store.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+f.path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Meanwhile a CLI-like writer tops up on the same file.
	other, err := OpenSQLite(context.Background(), f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lines := bufio.NewScanner(stdout)
	settled := map[string]bool{}
	deadline := time.Now().Add(1500 * time.Millisecond)
	for lines.Scan() {
		settled[strings.TrimSpace(lines.Text())] = true
		if len(settled)%20 == 0 {
			if _, err := other.AddTopUp(context.Background(), TopUp{OpenID: "acme", Amount: 1, CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		if time.Now().After(deadline) && len(settled) >= 20 {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	rows, err := other.Ledger(context.Background(), LedgerFilter{OpenID: "acme", Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, r := range rows {
		have[r.RequestID] = true
	}
	for id := range settled {
		if !have[id] {
			t.Fatalf("settled request %s missing after SIGKILL (%d settled, %d rows)", id, len(settled), len(rows))
		}
	}
	checkInvariant(t, other, "acme")
	t.Logf("%d requests settled before SIGKILL, %d ledger rows", len(settled), len(rows))
}
