package accounts

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
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

// When the database stays out of reach for a whole HoldTTL, the daemon's
// holds have lapsed and its generations are stopped.
func TestLapsedHoldsStopGenerations(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "1")
	if _, err := f.svc.Admit(ctx, Identity{OpenID: "acme"}, "m", 0, 10); err != nil {
		t.Fatal(err)
	}
	gen, cancel := context.WithCancelCause(ctx)
	f.svc.Track("acme", "u", cancel)
	f.store.Close() // the database goes away
	f.clock.Advance(DefaultHoldTTL / 3)
	f.svc.renew(ctx)
	if gen.Err() != nil {
		t.Fatal("stopped before the holds lapsed")
	}
	f.clock.Advance(DefaultHoldTTL)
	f.svc.renew(ctx)
	if !errors.Is(context.Cause(gen), ErrHoldsLapsed) || !errors.Is(context.Cause(gen), ErrSuspended) {
		t.Fatalf("cause %v, want ErrHoldsLapsed", context.Cause(gen))
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
