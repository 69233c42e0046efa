package accounts

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for limits, expiry and ledger times.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	svc   *Service
	store *SQLiteStore
	clock *fakeClock
	path  string
}

func newFixture(t testing.TB, mode AuthMode) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "accounts.db")
	store, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := newFakeClock()
	admin, err := NewAdminKey("admin-secret")
	if err != nil {
		t.Fatal(err)
	}
	svc := NewService(store, Config{Mode: mode, Currency: "元", AdminKey: admin, Now: clock.Now})
	return &fixture{svc: svc, store: store, clock: clock, path: path}
}

func (f *fixture) account(t *testing.T, openid string, balance string) Account {
	t.Helper()
	acc, err := f.svc.CreateAccount(context.Background(), Account{OpenID: openid, Balance: mustMoney(t, balance)})
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

func mustMoney(t *testing.T, s string) Money {
	t.Helper()
	m, err := ParseMoney(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ptr[T any](v T) *T { return &v }

// checkInvariant asserts balance = top-ups − ledger costs for openid.
func checkInvariant(t *testing.T, s Store, openid string) {
	t.Helper()
	ctx := context.Background()
	acc, err := s.GetAccount(ctx, openid)
	if err != nil {
		t.Fatal(err)
	}
	tot, err := s.Totals(ctx, openid)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Balance != tot.TopUps-tot.Spent {
		t.Fatalf("invariant broken for %s: balance %s != top-ups %s − spent %s", openid, acc.Balance, tot.TopUps, tot.Spent)
	}
}
