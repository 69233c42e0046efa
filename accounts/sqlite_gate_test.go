package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSQLiteWritersQueueAtTheGate checks that every kind of write of the
// SQLite store, a transaction or a lone statement, on either pool, waits at
// the writer gate while another process holds it, and proceeds once it is
// left. Another process is stood in for by a second gate on the file:
// flock locks conflict between open files, even in one process.
func TestSQLiteWritersQueueAtTheGate(t *testing.T) {
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "100")
	writes := []struct {
		name  string
		write func(ctx context.Context) error
	}{
		{"top-up (transaction)", func(ctx context.Context) error {
			_, err := f.store.AddTopUp(ctx, TopUp{OpenID: "acme", Amount: 1, CreatedAt: time.Now()})
			return err
		}},
		{"limits (statement)", func(ctx context.Context) error {
			return f.store.SetLimits(ctx, "acme", Limits{RequestsPerMinute: 5})
		}},
		{"hold renewal (statement on the holds pool)", func(ctx context.Context) error {
			_, err := f.store.RenewHolds(ctx, []string{"no-such-hold"}, time.Now().Add(time.Minute), time.Now())
			return err
		}},
	}
	other, err := openWriteGate(f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.close()
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			if err := other.enter(context.Background()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			err := w.write(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("while another process holds the gate: got %v, want it to wait until its context ends", err)
			}
			other.admitted()
			other.leave()
			if err := w.write(context.Background()); err != nil {
				t.Fatalf("after the gate is left: %v", err)
			}
		})
	}
}

// TestSQLiteTransactionHoldsTheTurn checks that a transaction keeps its
// process's writer turn until it ends, however it ends, and gives it back
// once: the next writer of the process waits for it, not for SQLite's lock.
func TestSQLiteTransactionHoldsTheTurn(t *testing.T) {
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "100")
	ends := []struct {
		name string
		end  func(tx *sqlTx) error
	}{
		{"commit", func(tx *sqlTx) error { return tx.Commit() }},
		{"rollback", func(tx *sqlTx) error { return tx.Rollback() }},
		{"commit, then the deferred rollback", func(tx *sqlTx) error {
			if err := tx.Commit(); err != nil {
				return err
			}
			if err := tx.Rollback(); !errors.Is(err, sql.ErrTxDone) {
				return fmt.Errorf("rollback after commit: %v, want %v", err, sql.ErrTxDone)
			}
			return nil
		}},
	}
	for _, e := range ends {
		t.Run(e.name, func(t *testing.T) {
			tx, err := f.store.db.BeginTx(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			err = f.store.SetLimits(ctx, "acme", Limits{RequestsPerMinute: 5})
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "turn") {
				t.Fatalf("a write during the transaction: got %v, want it to wait for the process's turn", err)
			}
			if err := e.end(tx); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := f.store.SetLimits(context.Background(), "acme", Limits{RequestsPerMinute: 5}); err != nil {
					t.Fatalf("after the transaction ended: %v", err)
				}
			}
		})
	}
}

// TestWriteGate checks the gate itself. A writer in this process keeps its
// process's turn until it leaves, so a second writer of the same process
// waits for that; a writer of another process (another open file of the
// gate) waits only until the first is admitted to SQLite's lock. A waiter
// that gives up takes nothing with it, and the gate file is private.
func TestWriteGate(t *testing.T) {
	path := t.TempDir() + "/accounts.db"
	a, err := openWriteGate(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	b, err := openWriteGate(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	cases := []struct {
		name            string
		holder, other   *writeGate
		waitsWhileWrite bool // does other still wait after holder is admitted?
	}{
		{"same process", a, a, true},
		{"another process", a, b, false},
	}
	waits := func(t *testing.T, g *writeGate) bool {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := g.enter(ctx)
		if err == nil {
			g.admitted()
			g.leave()
			return false
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		return true
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.holder.enter(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !waits(t, c.other) {
				t.Fatal("a second writer entered while the first waited for SQLite's lock")
			}
			c.holder.admitted()
			if got := waits(t, c.other); got != c.waitsWhileWrite {
				t.Fatalf("while the first writes: second writer waits = %v, want %v", got, c.waitsWhileWrite)
			}
			c.holder.leave()
			// The waiters that gave up took nothing with them.
			for _, g := range []*writeGate{c.other, c.holder} {
				if waits(t, g) {
					t.Fatal("the gate stayed shut after its writer left")
				}
			}
		})
	}
	info, err := os.Stat(path + "-writers")
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("gate file mode %v, want 0600", perm)
	}
}
