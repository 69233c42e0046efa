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
// generation). busy_timeout makes a second process wait for the write lock
// instead of failing, and _txlock=immediate takes that lock at BEGIN so two
// read-then-write transactions never deadlock into SQLITE_BUSY.
type SQLiteStore struct {
	sqlStore
}

// OpenSQLite opens (creating if needed) the database at path and migrates it.
func OpenSQLite(ctx context.Context, path string) (*SQLiteStore, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)"} {
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
	s := &SQLiteStore{sqlStore{db: db}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open accounts database %s: %w", path, err)
	}
	return s, nil
}

// schema is kept to types and constraints PostgreSQL accepts as well
// (INTEGER money in micro-units, times as Unix milliseconds), except the
// AUTOINCREMENT keys a PostgreSQL store would spell as identity columns.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS accounts (
		openid         TEXT PRIMARY KEY,
		name           TEXT NOT NULL DEFAULT '',
		balance        INTEGER NOT NULL DEFAULT 0,
		unmetered      INTEGER NOT NULL DEFAULT 0,
		rpm            INTEGER NOT NULL DEFAULT 0,
		tpm            INTEGER NOT NULL DEFAULT 0,
		max_concurrent INTEGER NOT NULL DEFAULT 0,
		created_at     INTEGER NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS topups (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		openid     TEXT NOT NULL REFERENCES accounts(openid),
		amount     INTEGER NOT NULL,
		note       TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS topups_openid ON topups(openid)`,
	`CREATE TABLE IF NOT EXISTS api_keys (
		id         TEXT PRIMARY KEY,
		openid     TEXT NOT NULL REFERENCES accounts(openid),
		label      TEXT NOT NULL DEFAULT '',
		hash       TEXT NOT NULL UNIQUE,
		hint       TEXT NOT NULL DEFAULT '',
		models     TEXT NOT NULL DEFAULT '[]',
		expires_at INTEGER,
		revoked_at INTEGER,
		created_at INTEGER NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS api_keys_openid ON api_keys(openid)`,
	`CREATE TABLE IF NOT EXISTS ledger (
		id                INTEGER PRIMARY KEY AUTOINCREMENT,
		created_at        INTEGER NOT NULL,
		request_id        TEXT NOT NULL DEFAULT '',
		openid            TEXT NOT NULL REFERENCES accounts(openid),
		userid            TEXT NOT NULL DEFAULT '',
		key_id            TEXT NOT NULL DEFAULT '',
		model             TEXT NOT NULL,
		prompt_tokens     INTEGER NOT NULL DEFAULT 0,
		cached_tokens     INTEGER NOT NULL DEFAULT 0,
		completion_tokens INTEGER NOT NULL DEFAULT 0,
		processing_ms     INTEGER NOT NULL DEFAULT 0,
		cost              INTEGER NOT NULL DEFAULT 0,
		finish_reason     TEXT NOT NULL DEFAULT '',
		http_status       INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX IF NOT EXISTS ledger_openid_time ON ledger(openid, created_at)`,
	`CREATE INDEX IF NOT EXISTS ledger_time ON ledger(created_at)`,
}

func (s *SQLiteStore) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	for _, stmt := range schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return tx.Commit()
}

// Close closes the database.
func (s *SQLiteStore) Close() error { return s.db.Close() }

// errNoRows lets callers of scanOne tell "absent" from a failure.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }
