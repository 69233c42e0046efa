package accounts

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestHoldsLapseUnlessTheDaemonRenews(t *testing.T) {
	tests := []struct {
		name     string
		renew    bool // renew() every HoldTTL/3, for two HoldTTLs
		reserved bool
	}{
		{"renewed while the request runs", true, true},
		{"its daemon died", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, ModeKey)
			f.account(t, "acme", "1")
			p := Pricing{OutputPer1K: MoneyFromFloat(1)}
			if _, err := f.svc.Reserve(ctx, Identity{OpenID: "acme"}, "m", p, Work{PromptTokens: 0, MaxTokens: 1000}); err != nil {
				t.Fatal(err)
			}
			step := DefaultHoldTTL / 3
			for range 6 {
				f.clock.Advance(step)
				if tt.renew {
					f.svc.renew(ctx)
				}
			}
			got, err := f.svc.Reserved(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if (got > 0) != tt.reserved {
				t.Fatalf("reserved %s two HoldTTLs later", got)
			}
			// What a lapsed hold kept is available to the next request.
			_, err = f.svc.Reserve(ctx, Identity{OpenID: "acme"}, "m", p, Work{PromptTokens: 0, MaxTokens: 1000})
			if tt.reserved != errors.Is(err, ErrInsufficientBalance) {
				t.Fatalf("next reserve: %v", err)
			}
		})
	}
}

// unrenewable fails RenewHolds while down is set, as a database out of
// reach does; everything else reaches the store.
type unrenewable struct {
	Store
	down atomic.Bool
}

func (s *unrenewable) RenewHolds(ctx context.Context, ids []string, until, now time.Time) (int, error) {
	if s.down.Load() {
		return 0, errors.New("connection refused")
	}
	return s.Store.RenewHolds(ctx, ids, until, now)
}

// When a daemon's holds lapse before it renews them, its generations are
// stopped: they no longer hold a reservation or a concurrency slot. That is
// so whether the database stayed out of reach for a whole HoldTTL or the
// daemon itself stalled that long, after which renewal succeeds but renews
// nothing. What the stopped generation used is still billed, and a lapse
// stops only the generations running when it is found.
func TestLapsedHoldsStopGenerations(t *testing.T) {
	step := DefaultHoldTTL / 3
	tests := []struct {
		name  string
		down  bool            // RenewHolds fails meanwhile
		ticks []time.Duration // clock advances, each followed by renew()
	}{
		{"database out of reach for a whole TTL", true, []time.Duration{step, step, step}},
		{"daemon stalled past the TTL", false, []time.Duration{DefaultHoldTTL + time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, ModeKey)
			store := &unrenewable{Store: f.store}
			svc := NewService(store, Config{Mode: ModeKey, Now: f.clock.Now})
			f.account(t, "acme", "1")
			id := Identity{OpenID: "acme", UserID: "u", Limits: Limits{MaxConcurrent: 1}}
			permit, err := svc.Admit(ctx, id, "m", 0, TokenDemand{Fixed: 10})
			if err != nil {
				t.Fatal(err)
			}
			res, err := svc.Reserve(ctx, id, "m", Pricing{OutputPer1K: MoneyFromFloat(1)}, Work{MaxTokens: 1000})
			if err != nil {
				t.Fatal(err)
			}
			gen, cancel := context.WithCancelCause(ctx)
			defer cancel(nil)
			svc.Track("acme", "u", cancel)

			store.down.Store(tt.down)
			for i, d := range tt.ticks {
				if gen.Err() != nil {
					t.Fatalf("stopped after %d renewals, before the holds lapsed", i)
				}
				f.clock.Advance(d)
				svc.renew(ctx)
			}
			if cause := context.Cause(gen); !errors.Is(cause, ErrHoldsLapsed) || !errors.Is(cause, ErrSuspended) {
				t.Fatalf("cause %v, want ErrHoldsLapsed", cause)
			}

			// The stopped generation pays for what it did.
			store.down.Store(false)
			e, err := svc.Settle(ctx, res, Usage{CompletionTokens: 400})
			permit.Done(400)
			if err != nil || e.Cost != MoneyFromFloat(0.4) {
				t.Fatalf("settle after the stop: %+v %v; want 0.4 billed", e, err)
			}
			checkInvariant(t, f.store, "acme")

			// The lapse was reported once: the next generation runs on.
			if _, err := svc.Admit(ctx, id, "m", 0, TokenDemand{Fixed: 10}); err != nil {
				t.Fatal(err)
			}
			next, cancelNext := context.WithCancelCause(ctx)
			defer cancelNext(nil)
			svc.Track("acme", "u", cancelNext)
			f.clock.Advance(step)
			svc.renew(ctx)
			if next.Err() != nil {
				t.Fatalf("a generation admitted after the lapse was stopped: %v", context.Cause(next))
			}
		})
	}
}

// A request whose hold is deleted between renew's snapshot and its renewal
// (it settled meanwhile) makes RenewHolds renew fewer holds than it was
// given; that is no lapse, and stops nothing.
func TestRenewalMissingAnEndedHoldStopsNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "1")
	permit, err := f.svc.Admit(ctx, Identity{OpenID: "acme"}, "m", 0, TokenDemand{Fixed: 10})
	if err != nil {
		t.Fatal(err)
	}
	gen, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	f.svc.Track("acme", "", cancel)
	// The hold's delete committed; its lease is not dropped yet.
	if err := f.store.ReleaseHold(ctx, permit.holdID, -1); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultHoldTTL / 3)
	f.svc.renew(ctx)
	if gen.Err() != nil {
		t.Fatalf("stopped: %v", context.Cause(gen))
	}
}

// A database made before versioned migrations adopts them, and request ids
// a client reused are made unique so the ledger can be indexed on them.
func TestMigratesAnUnversionedDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range migrations[0].sqlite {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	for _, stmt := range []string{
		`INSERT INTO accounts (openid, balance, created_at) VALUES ('acme', 70, 0)`,
		`INSERT INTO topups (openid, amount, created_at) VALUES ('acme', 100, 0)`,
		`INSERT INTO ledger (created_at, request_id, openid, model, cost) VALUES (1, 'dup', 'acme', 'm', 10), (2, 'dup', 'acme', 'm', 20), (3, 'x', 'acme', 'm', 0)`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := openSQLite(ctx, path, OpenOptions{SkipMigrations: true})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.Migrations(ctx)
	if err != nil || len(ms) != len(migrations) || ms[0].AppliedAt != nil {
		t.Fatalf("status before: %+v %v", ms, err)
	}
	done, err := s.Migrate(ctx)
	if err != nil || len(done) != len(migrations) {
		t.Fatalf("migrate: %+v %v", done, err)
	}
	rows, err := s.Ledger(ctx, LedgerFilter{OpenID: "acme"})
	if err != nil || len(rows) != 3 || rows[0].RequestID != "dup" || rows[1].RequestID != "dup.2" {
		t.Fatalf("ledger after: %+v %v", rows, err)
	}
	checkInvariant(t, s, "acme")
	s.Close()

	// A newer ggufd's schema is refused rather than misread.
	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := OpenSQLite(ctx, path); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open a newer schema: %v", err)
	}
}
