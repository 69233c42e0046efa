package accounts

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Reservation holds a request's worst-case cost against the balance until
// Settle or Release. It is in memory only: a crash drops it, which is the
// same as releasing it, because nothing was charged yet.
type Reservation struct {
	// RequestID goes into the ledger; NewReservation sets a random one, the
	// server may replace it with its own before Settle.
	RequestID string
	Identity  Identity
	Model     string
	Pricing   Pricing
	// Amount is the reserved worst case. Settle charges the real cost,
	// which the server keeps within it by enforcing the limits it
	// reserved for.
	Amount  Money
	Started time.Time

	once sync.Once
}

// Reserve admits a request only if the account's available balance (balance
// minus outstanding reservations) covers its worst case: promptTokens
// uncached, maxTokens generated, and the per-second cap. maxTokens must be
// the effective cap the server will enforce (max_tokens, or what is left of
// the context window). Unmetered accounts and free models always pass and
// reserve nothing. Refusal is a *QuotaError wrapping ErrInsufficientBalance.
func (s *Service) Reserve(ctx context.Context, id Identity, model string, pricing Pricing, promptTokens, maxTokens int) (*Reservation, error) {
	res := &Reservation{RequestID: newID("req_"), Identity: id, Model: model, Pricing: pricing, Started: s.now()}
	if id.Unmetered || pricing.IsFree() {
		return res, nil
	}
	if maxTokens <= 0 && pricing.OutputPer1K > 0 {
		return nil, fmt.Errorf("reserve: %w: maxTokens must bound the completion of a token-priced model", ErrInvalidArgument)
	}
	need := pricing.WorstCase(promptTokens, maxTokens)
	s.mu.Lock()
	defer s.mu.Unlock()
	// Reading the balance under mu is what makes concurrent Reserves safe:
	// Settle lowers the stored balance before it drops its reservation, so
	// any interleaving sees at most the true available amount.
	acc, err := s.store.GetAccount(ctx, id.OpenID)
	if err != nil {
		return nil, fmt.Errorf("reserve: %w", err)
	}
	avail := acc.Balance - s.reserved[id.OpenID]
	if need > avail {
		return nil, &QuotaError{Needed: need, Available: max(avail, 0)}
	}
	s.reserved[id.OpenID] += need
	res.Amount = need
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
	// Drop the reservation only after the charge is stored; see Reserve.
	defer s.unreserve(res)
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
	stored, _, err := s.store.Charge(ctx, entry)
	if err != nil {
		return entry, fmt.Errorf("settle %s: %w", res.RequestID, err)
	}
	return stored, nil
}

// Release drops a reservation without charging, for requests that failed
// before any work (bad request, model failed to load). It writes no ledger
// row: the ledger is a record of billable work, and failed requests belong
// in the access log. Releasing twice, or after Settle, does nothing.
func (s *Service) Release(res *Reservation) {
	res.once.Do(func() { s.unreserve(res) })
}

func (s *Service) unreserve(res *Reservation) {
	if res.Amount == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reserved[res.Identity.OpenID] -= res.Amount
	if s.reserved[res.Identity.OpenID] <= 0 {
		delete(s.reserved, res.Identity.OpenID)
	}
}

// Reserved is the outstanding reservations of openid.
func (s *Service) Reserved(openid string) Money {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reserved[openid]
}
