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
// row the first attempt wrote instead of charging again.
func TestSettleRetriedAfterALostCommitChargesOnce(t *testing.T) {
	ctx := context.Background()
	defer func(b []time.Duration) { settleBackoff = b }(settleBackoff)
	settleBackoff = []time.Duration{0, 0, 0}
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "10")
	svc := NewService(&lostAnswer{Store: f.store, losses: 2}, Config{Mode: ModeKey, Now: f.clock.Now})
	res, err := svc.Reserve(ctx, Identity{OpenID: "acme"}, "m", Pricing{OutputPer1K: MoneyFromFloat(1)}, Work{PromptTokens: 0, MaxTokens: 1000})
	if err != nil {
		t.Fatal(err)
	}
	res.RequestID = "req-1"
	e, err := svc.Settle(ctx, res, Usage{CompletionTokens: 500})
	if err != nil || e.Cost != MoneyFromFloat(0.5) || e.RequestID != "req-1" {
		t.Fatalf("settle: %+v %v", e, err)
	}
	rows, _ := f.store.Ledger(ctx, LedgerFilter{OpenID: "acme"})
	acc, _ := f.store.GetAccount(ctx, "acme")
	if len(rows) != 1 || acc.Balance != MoneyFromFloat(9.5) {
		t.Fatalf("%d rows, balance %s: want one row, charged once", len(rows), acc.Balance)
	}
	checkInvariant(t, f.store, "acme")
}
