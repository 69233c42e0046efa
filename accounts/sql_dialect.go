package accounts

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// dialect is what differs between the SQL backends in the queries they share.
type dialect struct {
	name string
	// numbered placeholders: PostgreSQL wants $1, $2… where SQLite takes ?.
	numbered bool
	// lockRow is appended to a SELECT of one account row to lock it until the
	// transaction ends. SQLite needs none: _txlock=immediate already holds
	// the database's single write lock from BEGIN.
	lockRow string
	// tableExists counts the tables named by its one argument.
	tableExists string
	// relaxCommit, run first in a transaction, lets it commit without
	// waiting for its WAL flush ("" when the pool is set up so already).
	relaxCommit string
	// snapshot is the isolation under which a read-only transaction sees
	// one state of the database throughout (SQLite's transactions always
	// do).
	snapshot sql.IsolationLevel
}

var (
	sqliteDialect = dialect{
		name:        "sqlite",
		tableExists: `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`,
	}
	postgresDialect = dialect{
		name: "postgres", numbered: true, lockRow: " FOR UPDATE",
		snapshot:    sql.LevelRepeatableRead,
		relaxCommit: "SET LOCAL synchronous_commit = off",
		tableExists: `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`,
	}
)

// rebind rewrites ? placeholders for the dialect. Our queries never hold a
// literal question mark, so a plain scan is enough.
func (d dialect) rebind(q string) string {
	if !d.numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// placeholders returns "?, ?, …" for an IN list of n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// sqlDB is a *sql.DB whose queries are written with ? and rebound for the
// dialect, so the shared queries read the same for every backend.
type sqlDB struct {
	db *sql.DB
	d  dialect
	// gate, when set, is entered before each statement or transaction that
	// takes the database's write lock (SQLite: see writeGate).
	gate *writeGate
}

// ExecContext runs a statement on its own; statements run this way write.
func (x *sqlDB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if x.gate != nil {
		if err := x.gate.enter(ctx); err != nil {
			return nil, err
		}
		defer x.gate.leave()
		defer x.gate.admitted()
	}
	return x.db.ExecContext(ctx, x.d.rebind(q), args...)
}

func (x *sqlDB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return x.db.QueryContext(ctx, x.d.rebind(q), args...)
}

func (x *sqlDB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return x.db.QueryRowContext(ctx, x.d.rebind(q), args...)
}

// BeginTx begins a transaction; on SQLite (_txlock=immediate) that takes
// the write lock, so the transaction holds this process's writer turn until
// it commits or rolls back.
func (x *sqlDB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sqlTx, error) {
	t := &sqlTx{d: x.d}
	if x.gate != nil {
		if err := x.gate.enter(ctx); err != nil {
			return nil, err
		}
		t.leave = x.gate.leave
	}
	tx, err := x.db.BeginTx(ctx, opts)
	if x.gate != nil {
		x.gate.admitted()
	}
	if err != nil {
		t.end()
		return nil, err
	}
	t.Tx = tx
	return t, nil
}

// beginRead begins a read-only transaction that sees one state of the
// database throughout. It takes no write lock (the SQLite driver begins a
// read-only transaction DEFERRED despite _txlock), so it does not pass the
// write gate.
func (x *sqlDB) beginRead(ctx context.Context) (*sqlTx, error) {
	tx, err := x.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: x.d.snapshot})
	if err != nil {
		return nil, err
	}
	return &sqlTx{Tx: tx, d: x.d}, nil
}

func (x *sqlDB) Close() error { return x.db.Close() }

// sqlTx is a *sql.Tx with the same rebinding as sqlDB.
type sqlTx struct {
	*sql.Tx
	d dialect
	// leave, when set, ends the writer turn taken at BEGIN; the transaction's
	// owner ends it by its Commit or Rollback (every BeginTx is followed by a
	// deferred Rollback).
	leave func()
}

func (x *sqlTx) Commit() error {
	err := x.Tx.Commit()
	x.end()
	return err
}

func (x *sqlTx) Rollback() error {
	err := x.Tx.Rollback()
	x.end()
	return err
}

func (x *sqlTx) end() {
	if x.leave != nil {
		x.leave()
		x.leave = nil
	}
}

func (x *sqlTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return x.Tx.ExecContext(ctx, x.d.rebind(q), args...)
}

func (x *sqlTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return x.Tx.QueryContext(ctx, x.d.rebind(q), args...)
}

func (x *sqlTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return x.Tx.QueryRowContext(ctx, x.d.rebind(q), args...)
}

// lockAccount reads openid's balance and, on PostgreSQL, locks its row until
// the transaction ends. Every transaction that admits, reserves or settles
// for an account starts here, so they run one at a time per account across
// all daemons: that is what makes "check, then hold" exact.
func (x *sqlTx) lockAccount(ctx context.Context, openid string) (Money, error) {
	var bal Money
	err := x.QueryRowContext(ctx, `SELECT balance FROM accounts WHERE openid = ?`+x.d.lockRow, openid).Scan(&bal)
	if isNoRows(err) {
		return 0, ErrAccountNotFound
	}
	return bal, err
}
