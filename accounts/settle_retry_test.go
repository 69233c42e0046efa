package accounts

import (
	"context"
	"errors"
	"testing"
	"time"
)

// lostAnswer commits a settlement and then reports a failure, as a
// connection that drops after COMMIT does, a given number of times.
type lostAnswer struct {
	Store
	losses int
}

func (s *lostAnswer) Settle(ctx context.Context, e LedgerEntry, holdID string) (LedgerEntry, Money, error) {
	stored, bal, err := s.Store.Settle(ctx, e, holdID)
	if err == nil && s.losses > 0 {
		s.losses--
		return LedgerEntry{}, 0, errors.New("connection reset after commit")
	}
	return stored, bal, err
}

// A settlement whose answer was lost is retried, and the retry finds the
// row the first attempt wrote instead of charging, or recording, again:
// also for a request that reserved nothing, which has no hold to name it.
func TestSettleRetriedAfterALostCommitChargesOnce(t *testing.T) {
	tests := []struct {
		name      string
		unmetered bool
		pricing   Pricing
		cost      Money
	}{
		{"with a hold", false, Pricing{OutputPer1K: MoneyFromFloat(1)}, MoneyFromFloat(0.5)},
		{"unmetered account", true, Pricing{OutputPer1K: MoneyFromFloat(1)}, 0},
		{"free model", false, Pricing{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			defer func(b []time.Duration) { settleBackoff = b }(settleBackoff)
			settleBackoff = []time.Duration{0, 0, 0}
			f := newFixture(t, ModeKey)
			if _, err := f.svc.CreateAccount(ctx, Account{OpenID: "acme", Balance: MoneyFromFloat(10), Unmetered: tt.unmetered}); err != nil {
				t.Fatal(err)
			}
			svc := NewService(&lostAnswer{Store: f.store, losses: 2}, Config{Mode: ModeKey, Now: f.clock.Now})
			res, err := svc.Reserve(ctx, Identity{OpenID: "acme", Unmetered: tt.unmetered}, "m", tt.pricing, Work{PromptTokens: 0, MaxTokens: 1000})
			if err != nil {
				t.Fatal(err)
			}
			res.RequestID = "req-1"
			e, err := svc.Settle(ctx, res, Usage{CompletionTokens: 500})
			if err != nil || e.Cost != tt.cost || e.RequestID != "req-1" {
				t.Fatalf("settle: %+v %v", e, err)
			}
			rows, _ := f.store.Ledger(ctx, LedgerFilter{OpenID: "acme"})
			acc, _ := f.store.GetAccount(ctx, "acme")
			if want := MoneyFromFloat(10) - tt.cost; len(rows) != 1 || acc.Balance != want {
				t.Fatalf("%d rows, balance %s: want one row, balance %s", len(rows), acc.Balance, want)
			}
			checkInvariant(t, f.store, "acme")
		})
	}
}
