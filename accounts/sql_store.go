package accounts

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// sqlStore holds the queries shared by the SQL backends. They use only SQL
// that SQLite and PostgreSQL both accept; sqlDB rebinds the ? placeholders.
type sqlStore struct {
	db *sqlDB
	// holds runs the transactions that write admission state alone (holds,
	// rate events) and commit without waiting for the disk: on SQLite a
	// second pool with synchronous=NORMAL, on PostgreSQL the same pool with
	// synchronous_commit off for the transaction. A crash may lose the last
	// of them, which only releases a hold early (the settlement still
	// charges exactly what was used), and the next durable commit, a settlement's,
	// flushes them too. Measured: a durable commit costs ~1.2 ms on the
	// reference machine, and a request makes three of these to one Settle.
	holds *sqlDB
}

const accountCols = `openid, name, balance, unmetered, rpm, tpm, max_concurrent, created_at`

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var unmetered int
	var created int64
	err := row.Scan(&a.OpenID, &a.Name, &a.Balance, &unmetered, &a.Limits.RequestsPerMinute,
		&a.Limits.TokensPerMinute, &a.Limits.MaxConcurrent, &created)
	a.Unmetered = unmetered != 0
	a.CreatedAt = fromMS(created)
	return a, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *sqlStore) CreateAccount(ctx context.Context, a Account) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create account %q: %w", a.OpenID, err)
	}
	defer tx.Rollback()
	// ON CONFLICT rather than a check first: two daemons creating the same
	// account at once must see ErrAccountExists, not a constraint error.
	res, err := tx.ExecContext(ctx, `INSERT INTO accounts (`+accountCols+`) VALUES (?, ?, 0, ?, ?, ?, ?, ?)
		ON CONFLICT (openid) DO NOTHING`,
		a.OpenID, a.Name, boolInt(a.Unmetered), a.Limits.RequestsPerMinute, a.Limits.TokensPerMinute,
		a.Limits.MaxConcurrent, ms(a.CreatedAt))
	if err != nil {
		return fmt.Errorf("create account %q: %w", a.OpenID, err)
	}
	if err := mustAffect(res, ErrAccountExists); err != nil {
		return fmt.Errorf("create account %q: %w", a.OpenID, err)
	}
	// The opening balance enters as a top-up so the invariant holds from the start.
	if a.Balance != 0 {
		if _, err := addTopUp(ctx, tx, TopUp{OpenID: a.OpenID, Amount: a.Balance, Note: "opening balance", CreatedAt: a.CreatedAt}); err != nil {
			return fmt.Errorf("create account %q: %w", a.OpenID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create account %q: %w", a.OpenID, err)
	}
	return nil
}

func (s *sqlStore) GetAccount(ctx context.Context, openid string) (Account, error) {
	return getAccount(ctx, s.db, openid)
}

// queryer is a pool or a transaction: the reads below run on either, so a
// Snapshot runs the same queries in one transaction.
type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func getAccount(ctx context.Context, q queryer, openid string) (Account, error) {
	a, err := scanAccount(q.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE openid = ?`, openid))
	if isNoRows(err) {
		return Account{}, fmt.Errorf("account %q: %w", openid, ErrAccountNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("get account %q: %w", openid, err)
	}
	return a, nil
}

func (s *sqlStore) ListAccounts(ctx context.Context) ([]Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY openid`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *sqlStore) SetLimits(ctx context.Context, openid string, l Limits) error {
	res, err := s.db.ExecContext(ctx, `UPDATE accounts SET rpm = ?, tpm = ?, max_concurrent = ? WHERE openid = ?`,
		l.RequestsPerMinute, l.TokensPerMinute, l.MaxConcurrent, openid)
	if err != nil {
		return fmt.Errorf("set limits of %q: %w", openid, err)
	}
	return mustAffect(res, fmt.Errorf("set limits: account %q: %w", openid, ErrAccountNotFound))
}

func (s *sqlStore) SetUnmetered(ctx context.Context, openid string, unmetered bool) error {
	res, err := s.db.ExecContext(ctx, `UPDATE accounts SET unmetered = ? WHERE openid = ?`, boolInt(unmetered), openid)
	if err != nil {
		return fmt.Errorf("set unmetered of %q: %w", openid, err)
	}
	return mustAffect(res, fmt.Errorf("set unmetered: account %q: %w", openid, ErrAccountNotFound))
}

func mustAffect(res sql.Result, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

func (s *sqlStore) AddTopUp(ctx context.Context, t TopUp) (Money, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("top up %q: %w", t.OpenID, err)
	}
	defer tx.Rollback()
	bal, err := addTopUp(ctx, tx, t)
	if err != nil {
		return 0, fmt.Errorf("top up %q: %w", t.OpenID, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("top up %q: %w", t.OpenID, err)
	}
	return bal, nil
}

// addTopUp writes the balance first: the UPDATE both takes the write lock and
// tells whether the account exists and stays within ±MaxBalance.
func addTopUp(ctx context.Context, tx *sqlTx, t TopUp) (Money, error) {
	res, err := tx.ExecContext(ctx, `UPDATE accounts SET balance = balance + ? WHERE openid = ? AND balance + ? BETWEEN ? AND ?`,
		t.Amount, t.OpenID, t.Amount, -MaxBalance, MaxBalance)
	if err != nil {
		return 0, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, err
	} else if n == 0 {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE openid = ?`, t.OpenID).Scan(&exists); err != nil {
			return 0, err
		}
		if exists > 0 {
			return 0, ErrBalanceLimit
		}
		return 0, ErrAccountNotFound
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO topups (openid, amount, note, created_at) VALUES (?, ?, ?, ?)`,
		t.OpenID, t.Amount, t.Note, ms(t.CreatedAt)); err != nil {
		return 0, err
	}
	var bal Money
	err = tx.QueryRowContext(ctx, `SELECT balance FROM accounts WHERE openid = ?`, t.OpenID).Scan(&bal)
	return bal, err
}

const keyCols = `id, openid, label, hash, hint, models, expires_at, revoked_at, created_at`

func scanKey(row interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	var models string
	var expires, revoked sql.NullInt64
	var created int64
	if err := row.Scan(&k.ID, &k.OpenID, &k.Label, &k.Hash, &k.Hint, &models, &expires, &revoked, &created); err != nil {
		return k, err
	}
	if err := json.Unmarshal([]byte(models), &k.Models); err != nil {
		return k, fmt.Errorf("key %s: models: %w", k.ID, err)
	}
	k.ExpiresAt = nullTime(expires)
	k.RevokedAt = nullTime(revoked)
	k.CreatedAt = fromMS(created)
	return k, nil
}

func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

func nullMS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ms(*t), Valid: true}
}

func (s *sqlStore) CreateKey(ctx context.Context, k APIKey) error {
	models, err := json.Marshal(append([]string{}, k.Models...))
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	if _, err := s.GetAccount(ctx, k.OpenID); err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO api_keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.OpenID, k.Label, k.Hash, k.Hint, string(models), nullMS(k.ExpiresAt), nullMS(k.RevokedAt), ms(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("create key for %q: %w", k.OpenID, err)
	}
	return nil
}

func (s *sqlStore) KeyByHash(ctx context.Context, hash string) (APIKey, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE hash = ?`, hash))
	if isNoRows(err) {
		return APIKey{}, ErrKeyInvalid
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("look up key: %w", err)
	}
	return k, nil
}

func (s *sqlStore) RevokeKey(ctx context.Context, id string, at time.Time) error {
	// COALESCE keeps the first revocation time when revoked twice.
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, ms(at), id)
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	return mustAffect(res, fmt.Errorf("revoke key %s: %w", id, ErrKeyNotFound))
}

func (s *sqlStore) ListKeys(ctx context.Context, openid string) ([]APIKey, error) {
	q := `SELECT ` + keyCols + ` FROM api_keys`
	var args []any
	if openid != "" {
		q += ` WHERE openid = ?`
		args = append(args, openid)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func ledgerWhere(f LedgerFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		conds = append(conds, cond)
		args = append(args, v)
	}
	if f.OpenID != "" {
		add("openid = ?", f.OpenID)
	}
	if f.UserID != "" {
		add("userid = ?", f.UserID)
	}
	if f.Model != "" {
		add("model = ?", f.Model)
	}
	if !f.Since.IsZero() {
		add("created_at >= ?", ms(f.Since))
	}
	if !f.Until.IsZero() {
		add("created_at < ?", ms(f.Until))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func (s *sqlStore) Ledger(ctx context.Context, f LedgerFilter) ([]LedgerEntry, error) {
	where, args := ledgerWhere(f)
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLedgerLimit
	}
	args = append(args, limit, max(f.Offset, 0))
	rows, err := s.db.QueryContext(ctx, `SELECT `+ledgerCols+` FROM ledger`+where+` ORDER BY created_at, id LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("query ledger: %w", err)
	}
	defer rows.Close()
	var out []LedgerEntry
	for rows.Next() {
		e, _, err := scanLedger(rows)
		if err != nil {
			return nil, fmt.Errorf("query ledger: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

const ledgerCols = `id, created_at, request_id, openid, userid, key_id, model, prompt_tokens, cached_tokens,
	completion_tokens, processing_ms, cost, finish_reason, http_status, hold_id`

// scanLedger reads a row of ledgerCols; settleID is the settlement that
// wrote it (its hold's id, when it had a hold), "" for a Charge.
func scanLedger(row interface{ Scan(...any) error }) (e LedgerEntry, settleID string, err error) {
	var t int64
	err = row.Scan(&e.ID, &t, &e.RequestID, &e.OpenID, &e.UserID, &e.KeyID, &e.Model, &e.PromptTokens,
		&e.CachedTokens, &e.CompletionTokens, &e.ProcessingMS, &e.Cost, &e.FinishReason, &e.HTTPStatus, &settleID)
	e.Time = fromMS(t)
	return e, settleID, err
}

func (s *sqlStore) UsageByModel(ctx context.Context, openid string) ([]ModelUsage, error) {
	return usageByModel(ctx, s.db, openid)
}

func usageByModel(ctx context.Context, q queryer, openid string) ([]ModelUsage, error) {
	rows, err := q.QueryContext(ctx, `SELECT model, COUNT(*), `+sumInt("prompt_tokens")+`,
		`+sumInt("cached_tokens")+`, `+sumInt("completion_tokens")+`, `+sumInt("processing_ms")+`,
		`+sumInt("cost")+` FROM ledger WHERE openid = ? GROUP BY model ORDER BY model`, openid)
	if err != nil {
		return nil, fmt.Errorf("usage of %q: %w", openid, err)
	}
	defer rows.Close()
	var out []ModelUsage
	for rows.Next() {
		var u ModelUsage
		var msSum int64
		if err := rows.Scan(&u.Model, &u.Requests, &u.PromptTokens, &u.CachedTokens, &u.CompletionTokens, &msSum, &u.Cost); err != nil {
			return nil, fmt.Errorf("usage of %q: %w", openid, err)
		}
		u.Seconds = float64(msSum) / 1000
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *sqlStore) Totals(ctx context.Context, openid string) (Totals, error) {
	return totals(ctx, s.db, openid)
}

func totals(ctx context.Context, q queryer, openid string) (Totals, error) {
	var t Totals
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT `+sumInt("amount")+` FROM topups WHERE openid = ?),
		(SELECT `+sumInt("cost")+` FROM ledger WHERE openid = ?)`, openid, openid).Scan(&t.TopUps, &t.Spent)
	if err != nil {
		return t, fmt.Errorf("totals of %q: %w", openid, err)
	}
	return t, nil
}

// Snapshot reads in one read-only transaction, which sees one state of the
// database throughout (SQLite: a deferred BEGIN on WAL, which takes no write
// lock; PostgreSQL: REPEATABLE READ), so a settlement committing meanwhile
// shows entirely or not at all.
func (s *sqlStore) Snapshot(ctx context.Context, openid string, now time.Time) (AccountSnapshot, error) {
	var snap AccountSnapshot
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return snap, fmt.Errorf("snapshot of %q: %w", openid, err)
	}
	defer tx.Rollback()
	if snap.Account, err = getAccount(ctx, tx, openid); err != nil {
		return snap, err
	}
	if snap.Totals, err = totals(ctx, tx, openid); err != nil {
		return snap, err
	}
	if snap.Usage, err = usageByModel(ctx, tx, openid); err != nil {
		return snap, err
	}
	if snap.Holds, err = liveHolds(ctx, tx, openid, now); err != nil {
		return snap, err
	}
	return snap, tx.Commit()
}

// sumInt sums an integer column as a 64-bit integer in both backends
// (PostgreSQL's SUM of a BIGINT is NUMERIC), 0 for no rows.
func sumInt(col string) string {
	return "CAST(COALESCE(SUM(" + col + "), 0) AS BIGINT)"
}
