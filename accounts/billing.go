package accounts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Reservation holds a request's worst-case cost against the balance until
// Settle or Release. It is a HoldMoney in the database, seen by every daemon
// on it, that this daemon renews while the request runs: a crash lets it
// lapse, which is the same as releasing it, because nothing was charged yet.
type Reservation struct {
	// RequestID goes into the ledger; NewReservation sets a random one, the
	// server may replace it with its own before Settle.
	RequestID string
	Identity  Identity
	Model     string
	Pricing   Pricing
	// Amount is what was reserved. Settle charges the real cost, which
	// the server keeps within the token limits it reserved for; processing
	// time may run past its estimate, up to MaxSeconds.
	Amount  Money
	Started time.Time

	holdID string // "" when nothing was reserved (unmetered, free)
	once   sync.Once
}

// Reserve admits a request only if the account's available balance (balance
// minus outstanding reservations) covers Pricing.Reservation of w: its
// prompt uncached, its MaxTokens generated, and for a per-second price the
// processing those take at the model's speed (see ReserveDuration).
// w.MaxTokens must be the effective cap the server will enforce
// (max_tokens, or what is left of the context window). Unmetered accounts
// and free models always pass and reserve nothing. Refusal is a *QuotaError
// wrapping ErrInsufficientBalance.
func (s *Service) Reserve(ctx context.Context, id Identity, model string, pricing Pricing, w Work) (*Reservation, error) {
	res := &Reservation{RequestID: newID("req_"), Identity: id, Model: model, Pricing: pricing, Started: s.now()}
	if id.Unmetered || pricing.IsFree() {
		return res, nil
	}
	if w.MaxTokens <= 0 && pricing.OutputPer1K > 0 {
		return nil, fmt.Errorf("reserve: %w: maxTokens must bound the completion of a token-priced model", ErrInvalidArgument)
	}
	need := pricing.Reservation(w)
	// The store compares need with the balance minus every daemon's live
	// reservations and stores the hold in one transaction that locks the
	// account, so concurrent Reserves anywhere never hold more than there is.
	hold := s.newHold(HoldMoney, id, need, res.Started)
	if err := s.store.Reserve(ctx, hold, res.Started); err != nil {
		var quota *QuotaError
		if errors.As(err, &quota) {
			return nil, quota
		}
		return nil, fmt.Errorf("reserve: %w", err)
	}
	s.leases.add(hold.ID, hold.Expires)
	res.Amount, res.holdID = need, hold.ID
	return res, nil
}

// Settle charges the exact cost of usage, writes one ledger row and releases
// the reservation, the charge and the row being one transaction. It runs even if ctx is cancelled (the client went away or
// the account suspended the request: what was done is still billed).
// Unmetered accounts get a row with cost 0.
func (s *Service) Settle(ctx context.Context, res *Reservation, u Usage) (LedgerEntry, error) {
	var entry LedgerEntry
	err := ErrSettled
	res.once.Do(func() {
		entry, err = s.settle(context.WithoutCancel(ctx), res, u)
	})
	return entry, err
}

func (s *Service) settle(ctx context.Context, res *Reservation, u Usage) (LedgerEntry, error) {
	// The settlement deletes the hold in its own transaction; if it fails
	// for good, the hold lapses at its expiry instead.
	defer s.leases.drop(res.holdID)
	// The charge is exactly what usage cost, never capped at the
	// reservation: a cap would give away whatever a mistaken reservation
	// left out (it once covered one choice of an n-choice request). If the
	// work did exceed the reservation, the balance may go below zero, but
	// only by what was really used; Reserve refuses the account's next
	// request until it is topped up.
	cost := res.Pricing.Cost(u)
	if res.Identity.Unmetered {
		cost = 0
	}
	entry := LedgerEntry{
		Time:             s.now(),
		RequestID:        res.RequestID,
		OpenID:           res.Identity.OpenID,
		UserID:           res.Identity.UserID,
		KeyID:            res.Identity.KeyID,
		Model:            res.Model,
		PromptTokens:     u.PromptTokens,
		CachedTokens:     u.CachedTokens,
		CompletionTokens: u.CompletionTokens,
		ProcessingMS:     u.Processing.Milliseconds(),
		Cost:             cost,
		FinishReason:     u.FinishReason,
		HTTPStatus:       u.HTTPStatus,
	}
	// Every settlement needs an identity of its own, so that a retry after a
	// lost commit finds its row while another request that reuses the
	// request id (a client's X-Request-Id) gets a row of its own. A hold's
	// id is one; a request that reserved nothing gets a fresh id, made once
	// here and kept across settleRetrying's attempts. Without it, such a
	// request's row would pass for a retry of the earlier one, and the
	// usage of unmetered accounts and free models would go unrecorded.
	settleID := res.holdID
	if settleID == "" {
		settleID = newUniqueID("settle_")
	}
	stored, err := s.settleRetrying(ctx, entry, settleID)
	if err != nil {
		return entry, fmt.Errorf("settle %s: %w", res.RequestID, err)
	}
	return stored, nil
}

// settleBackoff spaces the attempts of a settlement that failed for a reason
// other than the account (a dropped connection, a failover). The store is
// idempotent on the settlement id, so an attempt whose commit succeeded but
// whose answer was lost is not charged twice.
var settleBackoff = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second}

func (s *Service) settleRetrying(ctx context.Context, e LedgerEntry, settleID string) (LedgerEntry, error) {
	for attempt := 0; ; attempt++ {
		stored, _, err := s.store.Settle(ctx, e, settleID)
		if err == nil || errors.Is(err, ErrAccountNotFound) || attempt == len(settleBackoff) {
			return stored, err
		}
		s.log.Warn("settle failed, retrying", "request_id", e.RequestID, "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			return stored, err
		case <-time.After(settleBackoff[attempt]):
		}
	}
}

// Release drops a reservation without charging, for requests that failed
// before any work (bad request, model failed to load). It writes no ledger
// row: the ledger is a record of billable work, and failed requests belong
// in the access log. Releasing twice, or after Settle, does nothing.
func (s *Service) Release(res *Reservation) {
	res.once.Do(func() { s.endHold(res.holdID, -1) })
}

// Reserved is what openid's requests in flight hold, on every daemon.
func (s *Service) Reserved(ctx context.Context, openid string) (Money, error) {
	holds, err := s.store.Holds(ctx, openid, s.now())
	if err != nil {
		return 0, err
	}
	return reservedBy(holds), nil
}

func reservedBy(holds []Hold) Money {
	var sum Money
	for _, h := range holds {
		if h.Kind == HoldMoney {
			sum += h.Amount
		}
	}
	return sum
}
