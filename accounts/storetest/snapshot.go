package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
)

// testSnapshot: what Snapshot shows adds up while settlements and top-ups
// commit beside it (balance = top-ups − spent = the usage costs summed),
// and it holds the holds live at its moment.
func testSnapshot(t *testing.T, s accounts.Store) {
	ctx := context.Background()
	mustCreate(t, s, accounts.Account{OpenID: "a", Balance: 1_000_000})
	if _, err := s.Snapshot(ctx, "zz", t0); !errors.Is(err, accounts.ErrAccountNotFound) {
		t.Fatalf("snapshot of a missing account: %v", err)
	}

	const rounds = 60
	var writers sync.WaitGroup
	var done atomic.Bool
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for n := range rounds {
				id := fmt.Sprintf("h%d-%d", w, n)
				if err := s.Reserve(ctx, hold(id, accounts.HoldMoney, "a", 10, t0), t0); err != nil {
					t.Error(err)
					return
				}
				e := accounts.LedgerEntry{Time: t0, RequestID: "r" + id, OpenID: "a", Model: fmt.Sprintf("m%d", w), Cost: 10}
				if _, _, err := s.Settle(ctx, e, id); err != nil {
					t.Error(err)
					return
				}
				if n%3 == 0 {
					if _, err := s.AddTopUp(ctx, accounts.TopUp{OpenID: "a", Amount: 7, CreatedAt: t0}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	go func() { writers.Wait(); done.Store(true) }()
	snaps, failure := 0, ""
	for failure == "" && (!done.Load() || snaps == 0) {
		snap, err := s.Snapshot(ctx, "a", t0)
		if err != nil {
			failure = err.Error()
			break
		}
		snaps++
		var usage accounts.Money
		for _, u := range snap.Usage {
			usage += u.Cost
		}
		if snap.Account.Balance != snap.Totals.TopUps-snap.Totals.Spent || usage != snap.Totals.Spent {
			failure = fmt.Sprintf("snapshot %d does not add up: balance %s, top-ups %s, spent %s, usage %s",
				snaps, snap.Account.Balance, snap.Totals.TopUps, snap.Totals.Spent, usage)
		}
	}
	writers.Wait() // the writers report to t: they end before the test does
	if failure != "" {
		t.Fatal(failure)
	}
	t.Logf("%d snapshots beside %d settlements", snaps, 2*rounds)

	if err := s.Reserve(ctx, hold("live", accounts.HoldMoney, "a", 1, t0), t0); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		at   time.Time
		want int
	}{{t0, 1}, {t0.Add(ttl), 0}} {
		snap, err := s.Snapshot(ctx, "a", tt.at)
		if err != nil || len(snap.Holds) != tt.want || snap.Account.Balance != 1_000_000-2*rounds*10+2*(rounds/3)*7 {
			t.Fatalf("snapshot at %s: %d holds (want %d), balance %s, %v", tt.at, len(snap.Holds), tt.want, snap.Account.Balance, err)
		}
	}
}
