package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// SQLiteStore is the default Store: one database file that the daemon and the
// CLI open at the same time.
//
// WAL lets readers and one writer proceed together across processes;
// synchronous=FULL fsyncs the WAL at every commit, so a settled request
// survives SIGKILL and power loss alike (NORMAL would only survive process
// death, and the cost of FULL is one fsync per request, small next to a
// generation; admission state commits without fsync, see sqlStore.holds).
// busy_timeout makes a second process wait for the write lock
// instead of failing, and _txlock=immediate takes that lock at BEGIN so two
// read-then-write transactions never deadlock into SQLITE_BUSY. Writers
// queue for that lock at a writeGate, so a busy daemon cannot starve a CLI
// writer beside it.
//
// Reservations, running requests and rate windows live in the same file, so
// several daemons on one machine could share it; suspend, however, reaches
// only the daemon it was sent to. Use PostgreSQL for several daemons.
type SQLiteStore struct {
	sqlStore
	path string
}

// OpenSQLite opens (creating if needed) the database at path and migrates it.
func OpenSQLite(ctx context.Context, path string) (*SQLiteStore, error) {
	return openSQLite(ctx, path, OpenOptions{})
}

func openSQLite(ctx context.Context, path string, opts OpenOptions) (*SQLiteStore, error) {
	db, err := openSQLitePool(path, "FULL")
	if err != nil {
		return nil, err
	}
	holds, err := openSQLitePool(path, "NORMAL")
	if err != nil {
		db.Close()
		return nil, err
	}
	gate, err := openWriteGate(path)
	if err != nil {
		db.Close()
		holds.Close()
		return nil, fmt.Errorf("open accounts database %s: %w", path, err)
	}
	s := &SQLiteStore{sqlStore: sqlStore{db: &sqlDB{db: db, d: sqliteDialect, gate: gate}, holds: &sqlDB{db: holds, d: sqliteDialect, gate: gate}}, path: path}
	if err := s.open(ctx, opts); err != nil {
		s.Close()
		return nil, fmt.Errorf("open accounts database %s: %w", path, err)
	}
	return s, nil
}

// openSQLitePool opens a pool on path whose commits are synchronous as said.
func openSQLitePool(path, synchronous string) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(" + synchronous + ")", "busy_timeout(10000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open accounts database %s: %w", path, err)
	}
	// Writers queue on SQLite's single write lock anyway; a few connections
	// keep readers concurrent without holding a file handle per goroutine.
	db.SetMaxOpenConns(8)
	return db, nil
}

// Path is the database file.
func (s *SQLiteStore) Path() string { return s.path }

// PublishSuspend does nothing: a SQLite file serves one daemon, which stops
// its own generations itself.
func (s *SQLiteStore) PublishSuspend(context.Context, SuspendNotice) error { return nil }

// ListenSuspend waits for ctx: no other daemon publishes on a SQLite file.
func (s *SQLiteStore) ListenSuspend(ctx context.Context, ready func(), _ func(SuspendNotice)) error {
	ready()
	<-ctx.Done()
	return nil
}

// Close closes the database.
func (s *SQLiteStore) Close() error {
	return errors.Join(s.holds.Close(), s.db.Close(), s.db.gate.close())
}

// errNoRows lets callers of scanOne tell "absent" from a failure.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }
