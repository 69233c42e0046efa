package accounts

import (
	"context"
	"fmt"
	"time"
)

// The queries of holds, rate windows and settlement. Each transaction that
// decides something for an account (reserve, admit, settle) first locks the
// account (sqlTx.lockAccount), so the check and the write it leads to see
// every other daemon's committed holds and none can slip in between.

// beginHolds starts a transaction that writes admission state only.
func (s *sqlStore) beginHolds(ctx context.Context) (*sqlTx, error) {
	tx, err := s.holds.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if q := s.holds.d.relaxCommit; q != "" {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

func (s *sqlStore) Charge(ctx context.Context, e LedgerEntry) (LedgerEntry, Money, error) {
	return s.charge(ctx, e, "", false)
}

func (s *sqlStore) Settle(ctx context.Context, e LedgerEntry, settleID string) (LedgerEntry, Money, error) {
	return s.charge(ctx, e, settleID, true)
}

// charge writes e. settleID is the settlement's identity (see
// Store.Settle), stored in the ledger's hold_id column: the column was
// named when only settlements with a hold had one.
func (s *sqlStore) charge(ctx context.Context, e LedgerEntry, settleID string, settle bool) (LedgerEntry, Money, error) {
	fail := func(err error) (LedgerEntry, Money, error) {
		return e, 0, fmt.Errorf("charge %q: %w", e.OpenID, err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	bal, err := tx.lockAccount(ctx, e.OpenID)
	if err != nil {
		return fail(err)
	}
	if e.RequestID != "" {
		id, prev, dup, err := uniqueRequestID(ctx, tx, e.OpenID, e.RequestID, settleID)
		if err != nil {
			return fail(err)
		}
		if dup {
			return prev, bal, nil
		}
		e.RequestID = id
	}
	if settle {
		// The charge is exactly what the request used, never capped: not at
		// its reservation, and not at what other daemons' live holds leave
		// (which only matters once this hold has lapsed). A request that did
		// the work is paid for; if that takes the balance below zero or
		// below others' holds, admission refuses the account's next
		// requests until it is topped up. A settlement that reserved
		// nothing has an id that names no hold: the delete finds nothing.
		if settleID != "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM holds WHERE id = ?`, settleID); err != nil {
				return fail(err)
			}
		}
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO ledger (created_at, request_id, openid, userid, key_id, model,
		prompt_tokens, cached_tokens, completion_tokens, processing_ms, cost, finish_reason, http_status, hold_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		ms(e.Time), e.RequestID, e.OpenID, e.UserID, e.KeyID, e.Model, e.PromptTokens, e.CachedTokens,
		e.CompletionTokens, e.ProcessingMS, e.Cost, e.FinishReason, e.HTTPStatus, settleID).Scan(&e.ID); err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET balance = balance - ? WHERE openid = ?`, e.Cost, e.OpenID); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return e, bal - e.Cost, nil
}

// uniqueRequestID finds the id to store a settlement under. dup reports
// that this very settlement is already stored (as prev): a retry after a
// commit whose answer was lost, recognised by its settleID. A request id
// stored by another settlement is a client reusing X-Request-Id; that
// request gets rid.settleID instead, which is unique because settlement
// ids are. With settleID "" (Charge) the request id alone is the identity.
func uniqueRequestID(ctx context.Context, tx *sqlTx, openid, rid, settleID string) (id string, prev LedgerEntry, dup bool, err error) {
	candidates := []string{rid}
	if settleID != "" {
		candidates = append(candidates, rid+"."+settleID)
	}
	for _, c := range candidates {
		row, prevSettle, err := scanLedger(tx.QueryRowContext(ctx, `SELECT `+ledgerCols+` FROM ledger
			WHERE openid = ? AND request_id = ?`, openid, c))
		if isNoRows(err) {
			return c, LedgerEntry{}, false, nil
		}
		if err != nil {
			return "", LedgerEntry{}, false, err
		}
		if settleID == "" || prevSettle == settleID {
			return "", row, true, nil
		}
	}
	return "", LedgerEntry{}, false, fmt.Errorf("request id %q: settled twice under settlement %s", rid, settleID)
}

func (s *sqlStore) Reserve(ctx context.Context, h Hold, now time.Time) error {
	fail := func(err error) error { return fmt.Errorf("reserve for %q: %w", h.OpenID, err) }
	tx, err := s.beginHolds(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	bal, err := tx.lockAccount(ctx, h.OpenID)
	if err != nil {
		return fail(err)
	}
	var reserved Money
	if err := tx.QueryRowContext(ctx, `SELECT `+sumInt("amount")+` FROM holds
		WHERE openid = ? AND kind = ? AND expires_at > ?`, h.OpenID, HoldMoney, ms(now)).Scan(&reserved); err != nil {
		return fail(err)
	}
	if avail := bal - reserved; h.Amount > avail {
		return &QuotaError{Needed: h.Amount, Available: max(avail, 0)}
	}
	if err := insertHold(ctx, tx, h); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}

func insertHold(ctx context.Context, tx *sqlTx, h Hold) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO holds (id, kind, openid, userid, daemon_id, amount, started_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		h.ID, string(h.Kind), h.OpenID, h.UserID, h.Daemon, h.Amount, ms(h.Started), ms(h.Expires))
	return err
}

func (s *sqlStore) AdmitRate(ctx context.Context, a RateAdmission) error {
	openid := a.Run.OpenID
	fail := func(err error) error { return fmt.Errorf("admit for %q: %w", openid, err) }
	tx, err := s.beginHolds(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	if _, err := tx.lockAccount(ctx, openid); err != nil {
		return fail(err)
	}
	var running int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM holds WHERE openid = ? AND kind = ? AND expires_at > ?`,
		openid, HoldRun, ms(a.Now)).Scan(&running); err != nil {
		return fail(err)
	}
	since := ms(a.Now.Add(-RateWindow))
	w, err := rateSummaries(ctx, tx, openid, since)
	if err != nil {
		return fail(err)
	}
	w.Events = func(scope string) ([]RateEvent, error) { return rateEvents(ctx, tx, openid, scope, since) }
	add, err := a.Decide(w, running)
	if err != nil {
		return err // a refusal, not a failure: nothing to wrap
	}
	for _, ev := range add {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rate_events (openid, scope, hold_id, at, n) VALUES (?, ?, ?, ?, ?)`,
			openid, ev.Scope, a.Run.ID, ms(ev.At), ev.N); err != nil {
			return fail(err)
		}
	}
	if err := insertHold(ctx, tx, a.Run); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}

// rateSummaries sums openid's events after since, by scope: one row per
// scope, however many requests the window holds.
func rateSummaries(ctx context.Context, tx *sqlTx, openid string, since int64) (RateWindows, error) {
	w := RateWindows{Summaries: map[string]RateSummary{}}
	rows, err := tx.QueryContext(ctx, `SELECT scope, `+sumInt("n")+`, COUNT(*), MAX(at) FROM rate_events
		WHERE openid = ? AND at > ? GROUP BY scope`, openid, since)
	if err != nil {
		return w, err
	}
	defer rows.Close()
	for rows.Next() {
		var scope string
		var sum RateSummary
		var last int64
		if err := rows.Scan(&scope, &sum.Sum, &sum.Count, &last); err != nil {
			return w, err
		}
		sum.Last = fromMS(last)
		w.Summaries[scope] = sum
	}
	return w, rows.Err()
}

func rateEvents(ctx context.Context, tx *sqlTx, openid, scope string, since int64) ([]RateEvent, error) {
	rows, err := tx.QueryContext(ctx, `SELECT at, n FROM rate_events WHERE openid = ? AND scope = ? AND at > ? ORDER BY at, id`,
		openid, scope, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RateEvent
	for rows.Next() {
		ev := RateEvent{Scope: scope}
		var at int64
		if err := rows.Scan(&at, &ev.N); err != nil {
			return nil, err
		}
		ev.At = fromMS(at)
		out = append(out, ev)
	}
	return out, rows.Err()
}

func (s *sqlStore) ReleaseHold(ctx context.Context, id string, tokens int64) error {
	fail := func(err error) error { return fmt.Errorf("release hold %s: %w", id, err) }
	tx, err := s.beginHolds(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	if tokens >= 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE rate_events SET n = ? WHERE hold_id = ? AND scope = ?`, tokens, id, scopeTokens); err != nil {
			return fail(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM holds WHERE id = ?`, id); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}

// renewBatch bounds the ids of one UPDATE, well under both backends' limits
// on bound parameters.
const renewBatch = 500

func (s *sqlStore) RenewHolds(ctx context.Context, ids []string, until, now time.Time) (int, error) {
	total := 0
	for len(ids) > 0 {
		batch := ids[:min(len(ids), renewBatch)]
		ids = ids[len(batch):]
		args := []any{ms(until), ms(now)}
		for _, id := range batch {
			args = append(args, id)
		}
		res, err := s.holds.ExecContext(ctx, `UPDATE holds SET expires_at = ? WHERE expires_at > ? AND id IN (`+placeholders(len(batch))+`)`, args...)
		if err != nil {
			return total, fmt.Errorf("renew holds: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("renew holds: %w", err)
		}
		total += int(n)
	}
	return total, nil
}

func (s *sqlStore) Holds(ctx context.Context, openid string, now time.Time) ([]Hold, error) {
	return liveHolds(ctx, s.db, openid, now)
}

func liveHolds(ctx context.Context, q queryer, openid string, now time.Time) ([]Hold, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, kind, openid, userid, daemon_id, amount, started_at, expires_at
		FROM holds WHERE openid = ? AND expires_at > ? ORDER BY started_at, id`, openid, ms(now))
	if err != nil {
		return nil, fmt.Errorf("holds of %q: %w", openid, err)
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		var h Hold
		var kind string
		var started, expires int64
		if err := rows.Scan(&h.ID, &kind, &h.OpenID, &h.UserID, &h.Daemon, &h.Amount, &started, &expires); err != nil {
			return nil, fmt.Errorf("holds of %q: %w", openid, err)
		}
		h.Kind, h.Started, h.Expires = HoldKind(kind), fromMS(started), fromMS(expires)
		out = append(out, h)
	}
	return out, rows.Err()
}

func (s *sqlStore) Sweep(ctx context.Context, now time.Time) error {
	if _, err := s.holds.ExecContext(ctx, `DELETE FROM holds WHERE expires_at <= ?`, ms(now)); err != nil {
		return fmt.Errorf("sweep holds: %w", err)
	}
	if _, err := s.holds.ExecContext(ctx, `DELETE FROM rate_events WHERE at <= ?`, ms(now.Add(-RateWindow))); err != nil {
		return fmt.Errorf("sweep rate events: %w", err)
	}
	return nil
}

func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("accounts database: %w", err)
	}
	return nil
}
