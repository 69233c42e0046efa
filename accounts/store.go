package accounts

import (
	"context"
	"time"
)

// Store persists accounts, keys, top-ups and the ledger. The SQLite
// implementation is the default; a PostgreSQL one can satisfy the same
// interface. Every method that moves money does so in one transaction that
// keeps accounts.balance = sum(top-ups) − sum(ledger costs).
type Store interface {
	CreateAccount(ctx context.Context, a Account) error
	// GetAccount returns ErrAccountNotFound for an unknown openid.
	GetAccount(ctx context.Context, openid string) (Account, error)
	ListAccounts(ctx context.Context) ([]Account, error)
	SetLimits(ctx context.Context, openid string, l Limits) error
	SetUnmetered(ctx context.Context, openid string, unmetered bool) error

	// AddTopUp records t and adds its amount to the balance; it returns the
	// new balance. It returns ErrBalanceLimit, and changes nothing, when the
	// balance would leave ±MaxBalance.
	AddTopUp(ctx context.Context, t TopUp) (Money, error)
	// Charge appends e to the ledger and subtracts e.Cost from the balance;
	// it returns the stored entry (with its ID) and the new balance.
	Charge(ctx context.Context, e LedgerEntry) (LedgerEntry, Money, error)

	CreateKey(ctx context.Context, k APIKey) error
	// KeyByHash returns ErrKeyInvalid when no key has that hash.
	KeyByHash(ctx context.Context, hash string) (APIKey, error)
	// RevokeKey returns ErrKeyNotFound for an unknown id.
	RevokeKey(ctx context.Context, id string, at time.Time) error
	// ListKeys lists one account's keys, or every key when openid is "".
	ListKeys(ctx context.Context, openid string) ([]APIKey, error)

	Ledger(ctx context.Context, f LedgerFilter) ([]LedgerEntry, error)
	UsageByModel(ctx context.Context, openid string) ([]ModelUsage, error)
	Totals(ctx context.Context, openid string) (Totals, error)

	Close() error
}
