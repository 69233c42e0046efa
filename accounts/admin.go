package accounts

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// validOpenID keeps openids usable as one URL path segment and one CSV cell.
func validOpenID(openid string) error {
	if openid == "" || len(openid) > 128 {
		return fmt.Errorf("%w: openid must be 1 to 128 characters", ErrInvalidArgument)
	}
	for _, r := range openid {
		if r == '/' || r == '?' || r == '#' || r == '%' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%w: openid %q may not contain '/', '?', '#', '%%', spaces or control characters", ErrInvalidArgument, openid)
		}
	}
	return nil
}

// CreateAccount creates an account; a non-zero Balance is recorded as its
// first top-up. It returns the stored account.
func (s *Service) CreateAccount(ctx context.Context, a Account) (Account, error) {
	if err := validOpenID(a.OpenID); err != nil {
		return Account{}, err
	}
	if a.Balance < 0 {
		return Account{}, fmt.Errorf("%w: opening balance must not be negative", ErrInvalidArgument)
	}
	if a.Balance > MaxBalance {
		return Account{}, ErrBalanceLimit
	}
	if err := validLimits(a.Limits); err != nil {
		return Account{}, err
	}
	a.CreatedAt = s.now()
	if err := s.store.CreateAccount(ctx, a); err != nil {
		return Account{}, err
	}
	return s.store.GetAccount(ctx, a.OpenID)
}

// TopUp credits amount to openid and returns the new balance. A negative
// amount is an adjustment (a refund taken back, a correction) and must say
// why in note; it goes through the same top-ups table, so the invariant
// balance = top-ups − ledger costs keeps holding. A top-up that would take
// the balance beyond ±MaxBalance is refused with ErrBalanceLimit.
func (s *Service) TopUp(ctx context.Context, openid string, amount Money, note string) (Money, error) {
	if amount == 0 {
		return 0, fmt.Errorf("%w: top-up amount must not be zero", ErrInvalidArgument)
	}
	if amount < 0 && strings.TrimSpace(note) == "" {
		return 0, fmt.Errorf("%w: a negative adjustment needs a note", ErrInvalidArgument)
	}
	if amount > MaxBalance || amount < -MaxBalance {
		return 0, ErrBalanceLimit
	}
	return s.store.AddTopUp(ctx, TopUp{OpenID: openid, Amount: amount, Note: note, CreatedAt: s.now()})
}

// ListAccounts lists every account.
func (s *Service) ListAccounts(ctx context.Context) ([]Account, error) {
	return s.store.ListAccounts(ctx)
}

// GetAccount returns one account.
func (s *Service) GetAccount(ctx context.Context, openid string) (Account, error) {
	return s.store.GetAccount(ctx, openid)
}

func validLimits(l Limits) error {
	if l.RequestsPerMinute < 0 || l.TokensPerMinute < 0 || l.MaxConcurrent < 0 {
		return fmt.Errorf("%w: limits must not be negative (0 = unlimited)", ErrInvalidArgument)
	}
	return nil
}

// SetLimits replaces an account's limits; they apply from its next request.
func (s *Service) SetLimits(ctx context.Context, openid string, l Limits) error {
	if err := validLimits(l); err != nil {
		return err
	}
	return s.store.SetLimits(ctx, openid, l)
}

// SetUnmetered switches billing off (true) or on (false) for an account.
func (s *Service) SetUnmetered(ctx context.Context, openid string, unmetered bool) error {
	return s.store.SetUnmetered(ctx, openid, unmetered)
}

// KeyOptions describes a key to create.
type KeyOptions struct {
	OpenID    string
	Label     string
	Models    []string   // allow-list; empty allows every model
	ExpiresAt *time.Time // nil: never
	// ExpiresInDays, when not 0, sets ExpiresAt that many days from now
	// (1 to MaxKeyDays).
	ExpiresInDays int
}

// MaxKeyDays bounds a key's lifetime given in days: a hundred years. Days
// as nanoseconds pass int64 at about 106,000, so a key meant to last
// centuries wrapped around to one that expired within the hour.
const MaxKeyDays = 36500

// ExpiryInDays is the expiry of a key that lasts days from now.
func ExpiryInDays(now time.Time, days int) (time.Time, error) {
	if days < 1 || days > MaxKeyDays {
		return time.Time{}, fmt.Errorf("%w: a key's lifetime must be from 1 to %d days, got %d", ErrInvalidArgument, MaxKeyDays, days)
	}
	return now.Add(time.Duration(days) * 24 * time.Hour), nil
}

// CreateKey creates an API key and returns the secret, which is shown once
// and never stored, with the stored record.
func (s *Service) CreateKey(ctx context.Context, o KeyOptions) (secret string, key APIKey, err error) {
	if o.ExpiresInDays != 0 {
		t, err := ExpiryInDays(s.now(), o.ExpiresInDays)
		if err != nil {
			return "", APIKey{}, err
		}
		o.ExpiresAt = &t
	}
	if o.ExpiresAt != nil && !o.ExpiresAt.After(s.now()) {
		return "", APIKey{}, fmt.Errorf("%w: expiry is in the past", ErrInvalidArgument)
	}
	secret, err = newSecretKey()
	if err != nil {
		return "", APIKey{}, err
	}
	var models []string
	for _, m := range o.Models {
		if m = strings.TrimSpace(m); m != "" {
			models = append(models, m)
		}
	}
	key = APIKey{
		ID:        newID("key_"),
		OpenID:    o.OpenID,
		Label:     o.Label,
		Hash:      HashKey(secret),
		Hint:      keyHint(secret),
		Models:    models,
		ExpiresAt: o.ExpiresAt,
		CreatedAt: s.now(),
	}
	if err := s.store.CreateKey(ctx, key); err != nil {
		return "", APIKey{}, err
	}
	return secret, key, nil
}

// RevokeKey revokes a key by id; it stops working at once.
func (s *Service) RevokeKey(ctx context.Context, id string) error {
	return s.store.RevokeKey(ctx, id, s.now())
}

// ListKeys lists an account's keys ("" for all); secrets are not included.
func (s *Service) ListKeys(ctx context.Context, openid string) ([]APIKey, error) {
	return s.store.ListKeys(ctx, openid)
}

// Ledger queries the ledger.
func (s *Service) Ledger(ctx context.Context, f LedgerFilter) ([]LedgerEntry, error) {
	return s.store.Ledger(ctx, f)
}
