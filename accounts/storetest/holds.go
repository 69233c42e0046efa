package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
)

const ttl = 30 * time.Second

func hold(id string, kind accounts.HoldKind, openid string, amount accounts.Money, at time.Time) accounts.Hold {
	return accounts.Hold{ID: id, Kind: kind, OpenID: openid, UserID: "u1", Daemon: "d1", Amount: amount, Started: at, Expires: at.Add(ttl)}
}

func reservedAt(t *testing.T, s accounts.Store, openid string, now time.Time) (money accounts.Money, runs int) {
	t.Helper()
	hs, err := s.Holds(context.Background(), openid, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		switch h.Kind {
		case accounts.HoldMoney:
			money += h.Amount
		case accounts.HoldRun:
			runs++
		}
	}
	return money, runs
}

func testMigrations(t *testing.T, s accounts.Store) {
	ctx := context.Background()
	ms, err := s.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 2 {
		t.Fatalf("migrations: %+v", ms)
	}
	for i, m := range ms {
		if m.Version != i+1 || m.Name == "" || m.AppliedAt == nil {
			t.Fatalf("migration %d: %+v (a store opens migrated)", i, m)
		}
	}
	again, err := s.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("migrate a migrated store: %+v, %v", again, err)
	}
}

func testHoldsLapse(t *testing.T, s accounts.Store) {
	ctx := context.Background()
	mustCreate(t, s, accounts.Account{OpenID: "a", Balance: 1000})
	if err := s.Reserve(ctx, hold("h1", accounts.HoldMoney, "a", 600, t0), t0); err != nil {
		t.Fatal(err)
	}
	err := s.Reserve(ctx, hold("h2", accounts.HoldMoney, "a", 500, t0), t0)
	var q *accounts.QuotaError
	if !errors.As(err, &q) || !errors.Is(err, accounts.ErrInsufficientBalance) || q.Available != 400 || q.Needed != 500 {
		t.Fatalf("over the balance: %v", err)
	}
	if got, _ := reservedAt(t, s, "a", t0); got != 600 {
		t.Fatalf("reserved %s, want 600", got)
	}
	if err := s.Reserve(ctx, hold("hz", accounts.HoldMoney, "zz", 1, t0), t0); !errors.Is(err, accounts.ErrAccountNotFound) {
		t.Fatalf("reserve for a missing account: %v", err)
	}

	// h1's daemon stops renewing it: once expired, its amount is free again.
	later := t0.Add(ttl + time.Second)
	if got, _ := reservedAt(t, s, "a", later); got != 0 {
		t.Fatalf("lapsed hold still counted: %s", got)
	}
	if err := s.Reserve(ctx, hold("h2", accounts.HoldMoney, "a", 900, later), later); err != nil {
		t.Fatalf("after the lapse: %v", err)
	}
	// A lapsed hold is not brought back; a live one is extended.
	n, err := s.RenewHolds(ctx, []string{"h1", "h2", "nope"}, later.Add(ttl), later.Add(time.Second))
	if err != nil || n != 1 {
		t.Fatalf("renew: %d, %v (want only h2 renewed)", n, err)
	}
	if got, _ := reservedAt(t, s, "a", later.Add(ttl-time.Millisecond)); got != 900 {
		t.Fatalf("renewed hold: %s", got)
	}
	if err := s.Sweep(ctx, later.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _ := reservedAt(t, s, "a", later.Add(time.Second)); got != 900 {
		t.Fatalf("sweep took a live hold: %s", got)
	}
	if err := s.ReleaseHold(ctx, "h2", -1); err != nil {
		t.Fatal(err)
	}
	if got, _ := reservedAt(t, s, "a", later); got != 0 {
		t.Fatalf("released hold still counted: %s", got)
	}
	invariant(t, s, "a")
}

func testSettleOnce(t *testing.T, s accounts.Store) {
	ctx := context.Background()
	mustCreate(t, s, accounts.Account{OpenID: "a", Balance: 1000})
	if err := s.Reserve(ctx, hold("h1", accounts.HoldMoney, "a", 500, t0), t0); err != nil {
		t.Fatal(err)
	}
	e := accounts.LedgerEntry{Time: t0.Add(time.Second), RequestID: "r1", OpenID: "a", Model: "m", Cost: 300}
	first, bal, err := s.Settle(ctx, e, "h1")
	if err != nil || bal != 700 || first.RequestID != "r1" {
		t.Fatalf("settle: %+v %s %v", first, bal, err)
	}
	if got, _ := reservedAt(t, s, "a", e.Time); got != 0 {
		t.Fatalf("settle left the hold: %s", got)
	}
	// The same settlement again (its commit's answer was lost): no new row.
	again, bal, err := s.Settle(ctx, e, "h1")
	if err != nil || again.ID != first.ID || bal != 700 {
		t.Fatalf("retried settle: %+v %s %v", again, bal, err)
	}
	// Another request that reuses the id is billed on its own row.
	if err := s.Reserve(ctx, hold("h2", accounts.HoldMoney, "a", 100, t0), t0); err != nil {
		t.Fatal(err)
	}
	reused, bal, err := s.Settle(ctx, e, "h2")
	if err != nil || reused.ID == first.ID || reused.RequestID != "r1.h2" || bal != 400 {
		t.Fatalf("reused request id: %+v %s %v", reused, bal, err)
	}
	// Charge without a hold is idempotent on the request id alone.
	c := accounts.LedgerEntry{Time: t0, RequestID: "c1", OpenID: "a", Model: "m", Cost: 50}
	for range 2 {
		if _, bal, err = s.Charge(ctx, c); err != nil || bal != 350 {
			t.Fatalf("charge: %s %v", bal, err)
		}
	}
	// Ids are per account: another account may use the same one.
	mustCreate(t, s, accounts.Account{OpenID: "b", Balance: 10})
	if _, bal, err := s.Charge(ctx, accounts.LedgerEntry{Time: t0, RequestID: "c1", OpenID: "b", Model: "m", Cost: 5}); err != nil || bal != 5 {
		t.Fatalf("same id, other account: %s %v", bal, err)
	}
	rows, err := s.Ledger(ctx, accounts.LedgerFilter{OpenID: "a"})
	if err != nil || len(rows) != 3 {
		t.Fatalf("ledger: %+v %v", rows, err)
	}
	invariant(t, s, "a")
	invariant(t, s, "b")
}

// A request that reserved nothing (an unmetered account, a free model) is
// settled under an id that names no hold. That id, not the request id
// alone, tells a retry of the settlement from another request reusing the
// request id: both requests must reach the ledger.
func testSettleWithoutHold(t *testing.T, s accounts.Store) {
	ctx := context.Background()
	mustCreate(t, s, accounts.Account{OpenID: "a", Balance: 1000})
	e := accounts.LedgerEntry{Time: t0, RequestID: "r1", OpenID: "a", Model: "m", CompletionTokens: 5}
	first, bal, err := s.Settle(ctx, e, "s1")
	if err != nil || bal != 1000 || first.RequestID != "r1" {
		t.Fatalf("settle: %+v %s %v", first, bal, err)
	}
	again, _, err := s.Settle(ctx, e, "s1")
	if err != nil || again.ID != first.ID {
		t.Fatalf("retried settle: %+v %v (want the first row, %d)", again, err, first.ID)
	}
	e.Cost = 40
	reused, bal, err := s.Settle(ctx, e, "s2")
	if err != nil || reused.ID == first.ID || reused.RequestID != "r1.s2" || bal != 960 {
		t.Fatalf("reused request id: %+v %s %v", reused, bal, err)
	}
	again, bal, err = s.Settle(ctx, e, "s2")
	if err != nil || again.ID != reused.ID || bal != 960 {
		t.Fatalf("retried settle of the reused id: %+v %s %v", again, bal, err)
	}
	rows, err := s.Ledger(ctx, accounts.LedgerFilter{OpenID: "a"})
	if err != nil || len(rows) != 2 {
		t.Fatalf("ledger: %+v %v (want 2 rows)", rows, err)
	}
	invariant(t, s, "a")
}

func testSettleExact(t *testing.T, s accounts.Store) {
	ctx := context.Background()
	mustCreate(t, s, accounts.Account{OpenID: "a", Balance: 1000})
	if err := s.Reserve(ctx, hold("slow", accounts.HoldMoney, "a", 600, t0), t0); err != nil {
		t.Fatal(err)
	}
	// The hold lapses (its daemon lost the database) and another daemon
	// reserves what it no longer covers.
	later := t0.Add(ttl + time.Second)
	if err := s.Reserve(ctx, hold("fast", accounts.HoldMoney, "a", 900, later), later); err != nil {
		t.Fatal(err)
	}
	// Both did the work: both are charged exactly, and the balance goes
	// below zero by what was really used (billing is never capped).
	e, bal, err := s.Settle(ctx, accounts.LedgerEntry{Time: later, RequestID: "slow", OpenID: "a", Model: "m", Cost: 600}, "slow")
	if err != nil || e.Cost != 600 || bal != 400 {
		t.Fatalf("lapsed settle: cost %s, balance %s, %v (want 600 charged, 400 left)", e.Cost, bal, err)
	}
	e, bal, err = s.Settle(ctx, accounts.LedgerEntry{Time: later, RequestID: "fast", OpenID: "a", Model: "m", Cost: 900}, "fast")
	if err != nil || e.Cost != 900 || bal != -500 {
		t.Fatalf("live settle: %s %s %v", e.Cost, bal, err)
	}
	if err := s.Reserve(ctx, hold("next", accounts.HoldMoney, "a", 1, later), later); err == nil {
		t.Fatal("a reservation on a negative balance was accepted")
	}
	invariant(t, s, "a")
}

func testRateAdmission(t *testing.T, s accounts.Store) {
	ctx := context.Background()
	mustCreate(t, s, accounts.Account{OpenID: "a"})
	var seen map[string]accounts.RateSummary
	var tokens []accounts.RateEvent
	var running int
	admit := func(id string, at time.Time, refuse error) error {
		return s.AdmitRate(ctx, accounts.RateAdmission{
			Run: hold(id, accounts.HoldRun, "a", 0, at), Now: at,
			Decide: func(w accounts.RateWindows, r int) ([]accounts.RateEvent, error) {
				seen, running = w.Summaries, r
				var err error
				if tokens, err = w.Events("t"); err != nil {
					return nil, err
				}
				if refuse != nil {
					return nil, refuse
				}
				return []accounts.RateEvent{{Scope: "r", At: at, N: 1}, {Scope: "t", At: at, N: 100}}, nil
			},
		})
	}
	if err := admit("run1", t0, nil); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 0 || len(tokens) != 0 || running != 0 {
		t.Fatalf("first admission saw %+v %+v, %d running", seen, tokens, running)
	}
	refusal := errors.New("no")
	if err := admit("run2", t0.Add(time.Second), refusal); err != refusal {
		t.Fatalf("refusal: %v", err)
	}
	want := accounts.RateSummary{Sum: 100, Count: 1, Last: t0}
	if len(seen) != 2 || seen["t"] != want || seen["r"].Sum != 1 || running != 1 || len(tokens) != 1 {
		t.Fatalf("second admission saw %+v %+v, %d running", seen, tokens, running)
	}
	if err := s.ReleaseHold(ctx, "run1", 7); err != nil { // used 7 tokens
		t.Fatal(err)
	}
	if err := admit("run3", t0.Add(2*time.Second), nil); err != nil {
		t.Fatal(err)
	}
	// The refused admission wrote nothing; the finished one is corrected.
	if seen["t"].Sum != 7 || seen["r"].Count != 1 || running != 0 || len(tokens) != 1 || tokens[0].N != 7 || !tokens[0].At.Equal(t0) {
		t.Fatalf("after release: %+v %+v, %d running", seen, tokens, running)
	}
	if _, runs := reservedAt(t, s, "a", t0.Add(2*time.Second)); runs != 1 {
		t.Fatalf("%d running holds, want 1", runs)
	}
	// Events leave the window a minute after they happened.
	if err := admit("run4", t0.Add(accounts.RateWindow), refusal); err != refusal {
		t.Fatal(err)
	}
	if seen["t"].Sum != 100 || seen["t"].Count != 1 || !seen["t"].Last.Equal(t0.Add(2*time.Second)) || len(tokens) != 1 {
		t.Fatalf("window at +1m: %+v %+v", seen, tokens)
	}
	if err := s.Sweep(ctx, t0.Add(accounts.RateWindow+3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.AdmitRate(ctx, accounts.RateAdmission{Run: hold("zz1", accounts.HoldRun, "zz", 0, t0), Now: t0,
		Decide: func(accounts.RateWindows, int) ([]accounts.RateEvent, error) { return nil, nil }}); !errors.Is(err, accounts.ErrAccountNotFound) {
		t.Fatalf("admit for a missing account: %v", err)
	}
}

// testConcurrentReserves reserves from two handles on one database at once,
// as two daemons do: exactly what the balance covers is admitted.
func testConcurrentReserves(t *testing.T, a, b accounts.Store) {
	ctx := context.Background()
	mustCreate(t, a, accounts.Account{OpenID: "a", Balance: 1000})
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			err := s.Reserve(ctx, hold("h"+string(rune('A'+i)), accounts.HoldMoney, "a", 100, t0), t0)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, accounts.ErrInsufficientBalance):
				refused.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 10 || refused.Load() != 30 {
		t.Fatalf("%d reserved, %d refused; want 10 and 30", ok.Load(), refused.Load())
	}
	if got, _ := reservedAt(t, b, "a", t0); got != 1000 {
		t.Fatalf("reserved %s", got)
	}
}

func testSuspendBus(t *testing.T, a, b accounts.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	got := make(chan accounts.SuspendNotice, 4)
	done := make(chan error, 1)
	go func() {
		done <- b.ListenSuspend(ctx, func() { close(ready) }, func(n accounts.SuspendNotice) { got <- n })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("listen: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("listener never ready")
	}
	want := accounts.SuspendNotice{OpenID: "acme", UserID: strings.Repeat("u", 40), Origin: "daemon-a"}
	sent := time.Now()
	if err := a.PublishSuspend(ctx, want); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n != want {
			t.Fatalf("received %+v, want %+v", n, want)
		}
		if d := time.Since(sent); d > time.Second {
			t.Fatalf("notice took %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("notice never arrived")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("listener ended with %v, want nil after cancel", err)
	}
}
