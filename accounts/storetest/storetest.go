// Package storetest is the conformance suite every accounts.Store must pass,
// so the PostgreSQL store is checked against the same expectations as the
// SQLite one: go test calls Run with the backend's constructors.
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
)

// Backend opens the stores of one kind for the suite.
type Backend struct {
	// Open returns an empty store on a database of its own (Run closes it).
	Open func(t *testing.T) accounts.Store
	// Share opens another handle on s's database, as a second daemon does
	// (Run closes it).
	Share func(t *testing.T, s accounts.Store) accounts.Store
	// Broadcasts: a SuspendNotice published on one handle reaches the
	// listeners of the others.
	Broadcasts bool
}

// Run runs the suite.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, accounts.Store)
	}{
		{"Accounts", testAccounts},
		{"MoneyAndInvariant", testMoney},
		{"ConcurrentCharges", testConcurrentCharges},
		{"Keys", testKeys},
		{"LedgerQueries", testLedger},
		{"Migrations", testMigrations},
		{"HoldsLapseUnlessRenewed", testHoldsLapse},
		{"SettleIsWrittenOnce", testSettleOnce},
		{"SettleWithoutHoldIsWrittenOncePerSettlement", testSettleWithoutHold},
		{"SettleChargesExactly", testSettleExact},
		{"RateAdmission", testRateAdmission},
		{"SnapshotAddsUp", testSnapshot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := b.Open(t)
			defer s.Close()
			tt.fn(t, s)
		})
	}
	shared := []struct {
		name string
		fn   func(t *testing.T, a, b accounts.Store)
		skip bool
	}{
		{"ConcurrentReservesAcrossHandles", testConcurrentReserves, false},
		{"SuspendReachesOtherHandles", testSuspendBus, !b.Broadcasts},
	}
	for _, tt := range shared {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip {
				t.Skip("this backend serves one daemon: it broadcasts nothing")
			}
			s := b.Open(t)
			defer s.Close()
			other := b.Share(t, s)
			defer other.Close()
			tt.fn(t, s, other)
		})
	}
}

var t0 = time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)

func mustCreate(t *testing.T, s accounts.Store, a accounts.Account) {
	t.Helper()
	if a.CreatedAt.IsZero() {
		a.CreatedAt = t0
	}
	if err := s.CreateAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

func invariant(t *testing.T, s accounts.Store, openid string) accounts.Money {
	t.Helper()
	ctx := context.Background()
	a, err := s.GetAccount(ctx, openid)
	if err != nil {
		t.Fatal(err)
	}
	tot, err := s.Totals(ctx, openid)
	if err != nil {
		t.Fatal(err)
	}
	if a.Balance != tot.TopUps-tot.Spent {
		t.Fatalf("%s: balance %s != top-ups %s − spent %s", openid, a.Balance, tot.TopUps, tot.Spent)
	}
	return a.Balance
}

func testAccounts(t *testing.T, s accounts.Store) {
	ctx := context.Background()
	lim := accounts.Limits{RequestsPerMinute: 1, TokensPerMinute: 2, MaxConcurrent: 3}
	mustCreate(t, s, accounts.Account{OpenID: "b", Name: "Bee", Limits: lim, Unmetered: true})
	mustCreate(t, s, accounts.Account{OpenID: "a", Balance: 5})
	if err := s.CreateAccount(ctx, accounts.Account{OpenID: "a", CreatedAt: t0}); !errors.Is(err, accounts.ErrAccountExists) {
		t.Fatalf("duplicate: %v", err)
	}
	got, err := s.GetAccount(ctx, "b")
	if err != nil || got.Name != "Bee" || got.Limits != lim || !got.Unmetered || !got.CreatedAt.Equal(t0) {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if _, err := s.GetAccount(ctx, "zz"); !errors.Is(err, accounts.ErrAccountNotFound) {
		t.Fatalf("missing: %v", err)
	}
	list, err := s.ListAccounts(ctx)
	if err != nil || len(list) != 2 || list[0].OpenID != "a" || list[0].Balance != 5 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	lim2 := accounts.Limits{RequestsPerMinute: 9}
	if err := s.SetLimits(ctx, "a", lim2); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUnmetered(ctx, "b", false); err != nil {
		t.Fatal(err)
	}
	a, _ := s.GetAccount(ctx, "a")
	b, _ := s.GetAccount(ctx, "b")
	if a.Limits != lim2 || b.Unmetered {
		t.Fatalf("updates: %+v %+v", a, b)
	}
	if err := s.SetLimits(ctx, "zz", lim2); !errors.Is(err, accounts.ErrAccountNotFound) {
		t.Fatalf("limits of missing: %v", err)
	}
	if err := s.SetUnmetered(ctx, "zz", true); !errors.Is(err, accounts.ErrAccountNotFound) {
		t.Fatalf("unmetered of missing: %v", err)
	}
}

func testMoney(t *testing.T, s accounts.Store) {
	ctx := context.Background()
	mustCreate(t, s, accounts.Account{OpenID: "a", Balance: 1_000_000})
	bal, err := s.AddTopUp(ctx, accounts.TopUp{OpenID: "a", Amount: 250_000, Note: "n", CreatedAt: t0})
	if err != nil || bal != 1_250_000 {
		t.Fatalf("top up: %s, %v", bal, err)
	}
	if _, err := s.AddTopUp(ctx, accounts.TopUp{OpenID: "zz", Amount: 1, CreatedAt: t0}); !errors.Is(err, accounts.ErrAccountNotFound) {
		t.Fatalf("top up missing: %v", err)
	}
	if _, err := s.AddTopUp(ctx, accounts.TopUp{OpenID: "a", Amount: accounts.MaxBalance, CreatedAt: t0}); !errors.Is(err, accounts.ErrBalanceLimit) {
		t.Fatalf("top up beyond MaxBalance: %v", err)
	}
	e, bal, err := s.Charge(ctx, accounts.LedgerEntry{Time: t0, OpenID: "a", Model: "m", Cost: 300_001, PromptTokens: 3})
	if err != nil || bal != 949_999 || e.ID == 0 {
		t.Fatalf("charge: %+v %s %v", e, bal, err)
	}
	if _, _, err := s.Charge(ctx, accounts.LedgerEntry{Time: t0, OpenID: "zz", Model: "m", Cost: 1}); !errors.Is(err, accounts.ErrAccountNotFound) {
		t.Fatalf("charge missing: %v", err)
	}
	if got := invariant(t, s, "a"); got != 949_999 {
		t.Fatalf("balance %s", got)
	}
}

func testConcurrentCharges(t *testing.T, s accounts.Store) {
	ctx := context.Background()
	mustCreate(t, s, accounts.Account{OpenID: "a", Balance: 10_000})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if i%4 == 0 {
				_, err = s.AddTopUp(ctx, accounts.TopUp{OpenID: "a", Amount: 7, CreatedAt: t0})
			} else {
				_, _, err = s.Charge(ctx, accounts.LedgerEntry{Time: t0, OpenID: "a", Model: "m", Cost: 13})
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := invariant(t, s, "a"); got != 10_000+10*7-30*13 {
		t.Fatalf("balance %s", got)
	}
}

func testKeys(t *testing.T, s accounts.Store) {
	ctx := context.Background()
	mustCreate(t, s, accounts.Account{OpenID: "a"})
	mustCreate(t, s, accounts.Account{OpenID: "b"})
	exp := t0.Add(time.Hour)
	k := accounts.APIKey{ID: "key_1", OpenID: "a", Label: "l", Hash: "h1", Hint: "sk-abcd…", Models: []string{"m1", "m2"}, ExpiresAt: &exp, CreatedAt: t0}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(ctx, accounts.APIKey{ID: "key_2", OpenID: "b", Hash: "h2", CreatedAt: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(ctx, accounts.APIKey{ID: "key_3", OpenID: "zz", Hash: "h3", CreatedAt: t0}); !errors.Is(err, accounts.ErrAccountNotFound) {
		t.Fatalf("key for missing account: %v", err)
	}
	got, err := s.KeyByHash(ctx, "h1")
	if err != nil || got.ID != "key_1" || got.Label != "l" || len(got.Models) != 2 || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || got.RevokedAt != nil {
		t.Fatalf("by hash: %+v, %v", got, err)
	}
	if _, err := s.KeyByHash(ctx, "nope"); !errors.Is(err, accounts.ErrKeyInvalid) {
		t.Fatalf("unknown hash: %v", err)
	}
	if err := s.RevokeKey(ctx, "key_1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, "key_1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.KeyByHash(ctx, "h1"); got.RevokedAt == nil || !got.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("revoked at: %v (the first revocation must stay)", got.RevokedAt)
	}
	if err := s.RevokeKey(ctx, "key_9", t0); !errors.Is(err, accounts.ErrKeyNotFound) {
		t.Fatalf("revoke missing: %v", err)
	}
	all, _ := s.ListKeys(ctx, "")
	mine, _ := s.ListKeys(ctx, "a")
	if len(all) != 2 || len(mine) != 1 || mine[0].ID != "key_1" {
		t.Fatalf("list: %+v / %+v", all, mine)
	}
}

func testLedger(t *testing.T, s accounts.Store) {
	ctx := context.Background()
	mustCreate(t, s, accounts.Account{OpenID: "a", Balance: 1_000_000})
	mustCreate(t, s, accounts.Account{OpenID: "b", Balance: 1_000_000})
	rows := []accounts.LedgerEntry{
		{OpenID: "a", UserID: "u1", Model: "m1", PromptTokens: 10, CachedTokens: 4, CompletionTokens: 5, ProcessingMS: 1500, Cost: 100},
		{OpenID: "a", UserID: "u2", Model: "m1", PromptTokens: 20, CompletionTokens: 5, ProcessingMS: 500, Cost: 200},
		{OpenID: "a", UserID: "u1", Model: "m2", PromptTokens: 1, Cost: 300, FinishReason: "stop", HTTPStatus: 200, RequestID: "r3", KeyID: "key_1"},
		{OpenID: "b", UserID: "u1", Model: "m1", Cost: 400},
	}
	for i, r := range rows {
		r.Time = t0.Add(time.Duration(i) * time.Hour)
		if _, _, err := s.Charge(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		f     accounts.LedgerFilter
		costs []accounts.Money
	}{
		{"all", accounts.LedgerFilter{}, []accounts.Money{100, 200, 300, 400}},
		{"account", accounts.LedgerFilter{OpenID: "a"}, []accounts.Money{100, 200, 300}},
		{"user", accounts.LedgerFilter{OpenID: "a", UserID: "u1"}, []accounts.Money{100, 300}},
		{"model", accounts.LedgerFilter{Model: "m1"}, []accounts.Money{100, 200, 400}},
		{"since inclusive", accounts.LedgerFilter{Since: t0.Add(time.Hour)}, []accounts.Money{200, 300, 400}},
		{"until exclusive", accounts.LedgerFilter{Until: t0.Add(2 * time.Hour)}, []accounts.Money{100, 200}},
		{"page", accounts.LedgerFilter{Limit: 2, Offset: 1}, []accounts.Money{200, 300}},
	}
	for _, tt := range tests {
		got, err := s.Ledger(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		var costs []accounts.Money
		for _, e := range got {
			costs = append(costs, e.Cost)
		}
		if len(costs) != len(tt.costs) {
			t.Fatalf("%s: costs %v, want %v", tt.name, costs, tt.costs)
		}
		for i := range costs {
			if costs[i] != tt.costs[i] {
				t.Fatalf("%s: costs %v, want %v", tt.name, costs, tt.costs)
			}
		}
	}
	one, _ := s.Ledger(ctx, accounts.LedgerFilter{Model: "m2"})
	if e := one[0]; e.RequestID != "r3" || e.KeyID != "key_1" || e.FinishReason != "stop" || e.HTTPStatus != 200 || !e.Time.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("row fields: %+v", e)
	}
	usage, err := s.UsageByModel(ctx, "a")
	if err != nil || len(usage) != 2 {
		t.Fatalf("usage: %+v, %v", usage, err)
	}
	if u := usage[0]; u.Model != "m1" || u.Requests != 2 || u.PromptTokens != 30 || u.CachedTokens != 4 || u.CompletionTokens != 10 || u.Seconds != 2 || u.Cost != 300 {
		t.Fatalf("usage m1: %+v", u)
	}
	if tot, _ := s.Totals(ctx, "a"); tot.Spent != 600 || tot.TopUps != 1_000_000 {
		t.Fatalf("totals: %+v", tot)
	}
	invariant(t, s, "a")
	invariant(t, s, "b")
}
