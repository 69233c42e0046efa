package accounts

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestConcurrentReserveNeverOverdraws(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "1") // covers 5 worst cases of 0.2
	id := Identity{OpenID: "acme", UserID: "u"}
	p := Pricing{OutputPer1K: MoneyFromFloat(0.2)} // worst case 1000 tokens = 0.2

	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted, refused := 0, 0
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.svc.Reserve(ctx, id, "m", p, Work{PromptTokens: 10, MaxTokens: 1000})
			if errors.Is(err, ErrInsufficientBalance) {
				mu.Lock()
				refused++
				mu.Unlock()
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			admitted++
			mu.Unlock()
			// Half use everything, half a quarter; all in flight at once.
			used := 1000
			if i%2 == 0 {
				used = 250
			}
			time.Sleep(5 * time.Millisecond)
			if _, err := f.svc.Settle(ctx, res, Usage{CompletionTokens: used, FinishReason: "stop", HTTPStatus: 200}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if admitted+refused != 50 || admitted < 5 {
		t.Fatalf("admitted %d, refused %d", admitted, refused)
	}
	acc, _ := f.store.GetAccount(ctx, "acme")
	if acc.Balance < 0 {
		t.Fatalf("overdrawn: %s", acc.Balance)
	}
	if r, err := f.svc.Reserved(ctx, "acme"); err != nil || r != 0 {
		t.Fatalf("reservations left: %s", r)
	}
	rows, _ := f.svc.Ledger(ctx, LedgerFilter{OpenID: "acme"})
	if len(rows) != admitted {
		t.Fatalf("%d ledger rows for %d admitted", len(rows), admitted)
	}
	checkInvariant(t, f.store, "acme")
}

func TestSettleChargesExactlyAndOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "10")
	id := Identity{OpenID: "acme", UserID: "alice", KeyID: "key_1"}
	p := Pricing{InputPer1K: MoneyFromFloat(0.5), OutputPer1K: MoneyFromFloat(1)}
	res, err := f.svc.Reserve(ctx, id, "qwen", p, Work{PromptTokens: 1000, MaxTokens: 2000}) // worst 2.5
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := f.svc.Info(ctx, "acme"); info.Available != mustMoney(t, "7.5") {
		t.Fatalf("available during request = %s", info.Available)
	}
	res.RequestID = "chatcmpl-1"
	// A cancelled context (client gone, suspended) must still bill.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	e, err := f.svc.Settle(cctx, res, Usage{PromptTokens: 1000, CompletionTokens: 100, Processing: 1500 * time.Millisecond, FinishReason: "stop", HTTPStatus: 200})
	if err != nil {
		t.Fatal(err)
	}
	if e.Cost != mustMoney(t, "0.6") || e.ProcessingMS != 1500 || e.RequestID != "chatcmpl-1" || e.UserID != "alice" || e.KeyID != "key_1" {
		t.Fatalf("entry = %+v", e)
	}
	if _, err := f.svc.Settle(ctx, res, Usage{CompletionTokens: 1}); !errors.Is(err, ErrSettled) {
		t.Fatalf("second settle: %v", err)
	}
	f.svc.Release(res) // no effect after Settle
	info, err := f.svc.Info(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if info.Balance != mustMoney(t, "9.4") || info.Reserved != 0 || info.TotalSpent != mustMoney(t, "0.6") || info.Currency != "元" {
		t.Fatalf("info = %+v", info)
	}
	if len(info.Usage) != 1 || info.Usage[0].Requests != 1 || info.Usage[0].CompletionTokens != 100 || info.Usage[0].Seconds != 1.5 {
		t.Fatalf("usage = %+v", info.Usage)
	}
	checkInvariant(t, f.store, "acme")
}

// Two requests that carry the same request id (a client reusing
// X-Request-Id) are two ledger rows, whether or not they reserved anything:
// the usage of unmetered accounts and free models is recorded too.
func TestReusedRequestIDGetsARowPerRequest(t *testing.T) {
	metered := Pricing{InputPer1K: MoneyFromFloat(1), OutputPer1K: MoneyFromFloat(1)}
	tests := []struct {
		name      string
		unmetered bool
		pricing   Pricing
		suffix    string // the second row's request id after "client-req-1."
		cost      Money  // of each request
	}{
		{"metered account, priced model", false, metered, "hold_", MoneyFromFloat(0.06)},
		{"unmetered account", true, metered, "settle_", 0},
		{"free model", false, Pricing{}, "settle_", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, ModeKey)
			if _, err := f.svc.CreateAccount(ctx, Account{OpenID: "acme", Balance: MoneyFromFloat(10), Unmetered: tt.unmetered}); err != nil {
				t.Fatal(err)
			}
			id := Identity{OpenID: "acme", Unmetered: tt.unmetered}
			for range 2 {
				res, err := f.svc.Reserve(ctx, id, "m", tt.pricing, Work{PromptTokens: 10, MaxTokens: 100})
				if err != nil {
					t.Fatal(err)
				}
				res.RequestID = "client-req-1"
				if _, err := f.svc.Settle(ctx, res, Usage{PromptTokens: 10, CompletionTokens: 50, HTTPStatus: 200}); err != nil {
					t.Fatal(err)
				}
			}
			rows, err := f.svc.Ledger(ctx, LedgerFilter{OpenID: "acme"})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 {
				t.Fatalf("%d ledger rows for 2 requests: %+v", len(rows), rows)
			}
			if rows[0].RequestID != "client-req-1" || !strings.HasPrefix(rows[1].RequestID, "client-req-1."+tt.suffix) {
				t.Fatalf("request ids %q, %q; want client-req-1 and client-req-1.%s…", rows[0].RequestID, rows[1].RequestID, tt.suffix)
			}
			for _, r := range rows {
				if r.Cost != tt.cost || r.CompletionTokens != 50 {
					t.Fatalf("row %+v: want cost %s and its 50 completion tokens", r, tt.cost)
				}
			}
			checkInvariant(t, f.store, "acme")
		})
	}
}

// TestSettleChargesWhatWasUsed: a request that did more than its
// reservation covered pays for all of it; the balance goes negative by
// exactly the difference and the next request is refused until a top-up.
func TestSettleChargesWhatWasUsed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "1")
	id := Identity{OpenID: "acme"}
	price := Pricing{OutputPer1K: MicrosPerUnit}
	res, err := f.svc.Reserve(ctx, id, "m", price, Work{PromptTokens: 0, MaxTokens: 100}) // reserves 0.1
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.svc.Settle(ctx, res, Usage{CompletionTokens: 5000})
	if err != nil || e.Cost != mustMoney(t, "5") {
		t.Fatalf("settle = %+v, %v; want the 5000 tokens used billed: 5", e, err)
	}
	acc, err := f.svc.GetAccount(ctx, "acme")
	reserved, rerr := f.svc.Reserved(ctx, "acme")
	if err != nil || rerr != nil || acc.Balance != mustMoney(t, "-4") || reserved != 0 {
		t.Fatalf("balance %s reserved %s, %v %v; want -4 and 0", acc.Balance, reserved, err, rerr)
	}
	checkInvariant(t, f.store, "acme")
	if _, err := f.svc.Reserve(ctx, id, "m", price, Work{PromptTokens: 0, MaxTokens: 1}); !errors.Is(err, ErrInsufficientBalance) {
		t.Fatalf("reserve on a negative balance: %v", err)
	}
}

func TestReleaseAndQuotaError(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "1")
	id := Identity{OpenID: "acme"}
	p := Pricing{PerSecond: MoneyFromFloat(0.01), MaxSeconds: 60} // worst 0.6
	res, err := f.svc.Reserve(ctx, id, "m", p, Work{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Reserve(ctx, id, "m", p, Work{})
	var qe *QuotaError
	if !errors.As(err, &qe) || qe.Needed != mustMoney(t, "0.6") || qe.Available != mustMoney(t, "0.4") {
		t.Fatalf("second reserve: %v", err)
	}
	f.svc.Release(res)
	if _, err := f.svc.Reserve(ctx, id, "m", p, Work{}); err != nil {
		t.Fatalf("after release: %v", err)
	}
	if rows, _ := f.svc.Ledger(ctx, LedgerFilter{}); len(rows) != 0 {
		t.Fatalf("release wrote ledger rows: %+v", rows)
	}
	if _, err := f.svc.Reserve(ctx, id, "m", Pricing{OutputPer1K: 1}, Work{PromptTokens: 10, MaxTokens: 0}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("token-priced reserve without max tokens: %v", err)
	}
	// Free models pass whatever the balance.
	if _, err := f.svc.Reserve(ctx, Identity{OpenID: "broke"}, "m", Pricing{}, Work{PromptTokens: 10, MaxTokens: 10}); err != nil {
		t.Fatalf("free model: %v", err)
	}
}

func TestTopUpsAndInvariantSurviveReopen(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "5")
	if _, err := f.svc.TopUp(ctx, "acme", mustMoney(t, "2.5"), "invoice 7"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.TopUp(ctx, "acme", mustMoney(t, "-1"), ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative without note: %v", err)
	}
	if _, err := f.svc.TopUp(ctx, "acme", mustMoney(t, "-1"), "refund reversed"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.TopUp(ctx, "ghost", 1, ""); !errors.Is(err, ErrAccountNotFound) {
		t.Fatalf("top up unknown: %v", err)
	}
	id := Identity{OpenID: "acme", UserID: "bob"}
	p := Pricing{InputPer1K: MoneyFromFloat(0.3)}
	for range 3 {
		res, err := f.svc.Reserve(ctx, id, "m", p, Work{PromptTokens: 1000, MaxTokens: 0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Settle(ctx, res, Usage{PromptTokens: 1000, HTTPStatus: 200}); err != nil {
			t.Fatal(err)
		}
	}
	secret, _, err := f.svc.CreateKey(ctx, KeyOptions{OpenID: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	f.store.Close()

	store, err := OpenSQLite(ctx, f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	acc, err := store.GetAccount(ctx, "acme")
	if err != nil || acc.Balance != mustMoney(t, "5.6") {
		t.Fatalf("after reopen: %+v, %v", acc, err)
	}
	checkInvariant(t, store, "acme")
	rows, _ := store.Ledger(ctx, LedgerFilter{OpenID: "acme", UserID: "bob"})
	if len(rows) != 3 {
		t.Fatalf("ledger rows after reopen: %d", len(rows))
	}
	svc := NewService(store, Config{Mode: ModeKey})
	if id, err := svc.Authenticate(ctx, AuthInput{BearerKey: secret}); err != nil || id.OpenID != "acme" {
		t.Fatalf("key after reopen: %+v, %v", id, err)
	}
}

func TestCreateAccountValidation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "0")
	tests := []struct {
		name string
		a    Account
		want error
	}{
		{"duplicate", Account{OpenID: "acme"}, ErrAccountExists},
		{"empty", Account{}, ErrInvalidArgument},
		{"slash", Account{OpenID: "a/b"}, ErrInvalidArgument},
		{"space", Account{OpenID: "a b"}, ErrInvalidArgument},
		{"negative balance", Account{OpenID: "neg", Balance: -1}, ErrInvalidArgument},
		{"negative limits", Account{OpenID: "lim", Limits: Limits{MaxConcurrent: -1}}, ErrInvalidArgument},
		{"opening balance beyond the limit", Account{OpenID: "rich", Balance: MaxBalance + 1}, ErrBalanceLimit},
	}
	for _, tt := range tests {
		if _, err := f.svc.CreateAccount(ctx, tt.a); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestTopUpLimit: top-ups that would take a balance beyond ±MaxBalance are
// refused as invalid arguments (a 400 naming the limit), change nothing, and
// never reach int64 overflow in the store.
func TestTopUpLimit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "0")
	huge := mustMoney(t, "9223372036853") // the largest amount ParseMoney reads
	half := MaxBalance/2 + 1
	tests := []struct {
		name   string
		amount Money
		note   string
		want   error // nil: accepted
	}{
		{"beyond the limit at once", huge, "", ErrBalanceLimit},
		{"negative beyond the limit", -huge, "correction", ErrBalanceLimit},
		{"half the limit", half, "", nil},
		{"half again would exceed it", half, "", ErrBalanceLimit},
		{"taking it back", -half, "correction", nil},
		{"owing more than the limit", -MaxBalance - 1, "correction", ErrBalanceLimit},
	}
	for _, tt := range tests {
		_, err := f.svc.TopUp(ctx, "acme", tt.amount, tt.note)
		if !errors.Is(err, tt.want) || (tt.want != nil && !errors.Is(err, ErrInvalidArgument)) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), MaxBalance.String()) {
			t.Errorf("%s: %q does not name the limit %s", tt.name, err, MaxBalance)
		}
	}
	if acc, _ := f.svc.GetAccount(ctx, "acme"); acc.Balance != 0 {
		t.Errorf("balance %s after refused top-ups, want 0", acc.Balance)
	}
	checkInvariant(t, f.store, "acme")
}
