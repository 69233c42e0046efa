package accounts

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgresStore keeps the accounts in PostgreSQL, so that several daemons
// share tenants, keys, balances, holds, rate windows and the ledger, and
// reach each other's generations through LISTEN/NOTIFY.
//
// Transactions run at READ COMMITTED. Those that decide for an account lock
// its row first (SELECT … FOR UPDATE), so each decision sees every
// committed hold of every daemon and none can interleave with it.
type PostgresStore struct {
	sqlStore
	conn *pgx.ConnConfig // for the LISTEN connection, outside the pool
}

// suspendChannel is the NOTIFY channel of SuspendNotice payloads.
const suspendChannel = "ggufd_suspend"

// poolSize bounds one daemon's connections. Every admission holds one for a
// few statements, so a handful covers hundreds of requests per second; keep
// daemons × poolSize (+1 for LISTEN each) under the server's max_connections.
const poolSize = 16

// OpenPostgres connects to the database at dsn (a postgres:// URL; the
// password may also come from PGPASSWORD or ~/.pgpass) and migrates it.
func OpenPostgres(ctx context.Context, dsn string) (*PostgresStore, error) {
	return openPostgres(ctx, dsn, OpenOptions{})
}

func openPostgres(ctx context.Context, dsn string, opts OpenOptions) (*PostgresStore, error) {
	where := RedactDatabase(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("accounts database %s: %w", where, err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(poolSize)
	db.SetMaxIdleConns(poolSize)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pool := &sqlDB{db: db, d: postgresDialect}
	s := &PostgresStore{sqlStore: sqlStore{db: pool, holds: pool}, conn: cfg}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("accounts database %s: %w", where, err)
	}
	if err := s.open(ctx, opts); err != nil {
		db.Close()
		return nil, fmt.Errorf("accounts database %s: %w", where, err)
	}
	return s, nil
}

// Close closes the pool.
func (s *PostgresStore) Close() error { return s.db.Close() }

func (s *PostgresStore) PublishSuspend(ctx context.Context, n SuspendNotice) error {
	payload, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("publish suspend: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `SELECT pg_notify(?, ?)`, suspendChannel, string(payload)); err != nil {
		return fmt.Errorf("publish suspend: %w", err)
	}
	return nil
}

// ListenSuspend holds one connection of its own in LISTEN. PostgreSQL
// delivers a NOTIFY to every listening session when its transaction commits,
// usually within a millisecond, which is what lets a suspend sent to one
// daemon stop a stream on another at once.
func (s *PostgresStore) ListenSuspend(ctx context.Context, ready func(), fn func(SuspendNotice)) error {
	conn, err := pgx.ConnectConfig(ctx, s.conn)
	if err != nil {
		return fmt.Errorf("listen for suspends: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+suspendChannel); err != nil {
		return fmt.Errorf("listen for suspends: %w", err)
	}
	ready()
	for {
		note, err := conn.WaitForNotification(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("listen for suspends: %w", err)
		}
		var n SuspendNotice
		if err := json.Unmarshal([]byte(note.Payload), &n); err != nil || n.OpenID == "" {
			continue // not ours: someone else NOTIFYing on the channel
		}
		fn(n)
	}
}
