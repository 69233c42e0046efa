package accounts

import (
	"context"
	"time"
)

// Store persists accounts, keys, top-ups, the ledger and the admission state
// of requests in flight (holds and rate windows). SQLiteStore is the default;
// PostgresStore lets several daemons share one set of accounts. Every method
// that moves money does so in one transaction that keeps accounts.balance =
// sum(top-ups) − sum(ledger costs). accounts/storetest checks a Store.
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
	// it returns the stored entry (with its ID) and the new balance. It is
	// idempotent on (e.OpenID, e.RequestID) when RequestID is set: a second
	// call returns the first row and charges nothing.
	Charge(ctx context.Context, e LedgerEntry) (LedgerEntry, Money, error)
	// Settle is Charge for a request that went through admission. settleID
	// identifies this settlement: the id of the HoldMoney it releases, or,
	// for a request that reserved nothing (an unmetered account, a free
	// model), an id just as unique that names no hold. In the same
	// transaction it deletes the hold settleID (if there is one) and
	// charges e.Cost in full, never capped: not at the hold's amount, and
	// not at what the account's other live reservations leave once the
	// hold has lapsed. The work was done, so it is paid for; if that takes
	// the balance below zero or below others' holds, admission refuses the
	// account until it is topped up. Retried with the same settleID it
	// returns the first row; a request id that another settlement already
	// used (a client reusing X-Request-Id) is stored as RequestID + "." +
	// settleID, so two requests are never billed, or recorded, as one.
	// With settleID "" it is Charge: idempotent on the request id alone.
	Settle(ctx context.Context, e LedgerEntry, settleID string) (LedgerEntry, Money, error)

	// Reserve stores h (a HoldMoney) if the balance minus the account's live
	// reservations at now covers h.Amount, else returns a *QuotaError.
	Reserve(ctx context.Context, h Hold, now time.Time) error
	// AdmitRate runs a.Decide with the account locked and, if it admits,
	// records its events and the HoldRun a.Run in the same transaction.
	AdmitRate(ctx context.Context, a RateAdmission) error
	// ReleaseHold deletes a hold; for a HoldRun, tokens ≥ 0 corrects its
	// token event ("t") to the tokens really used.
	ReleaseHold(ctx context.Context, id string, tokens int64) error
	// RenewHolds moves the expiry of the holds in ids that are still live at
	// now to until, and returns how many it renewed. A lapsed hold stays
	// lapsed: others may already have spent what it held.
	RenewHolds(ctx context.Context, ids []string, until, now time.Time) (int, error)
	// Holds lists openid's holds live at now, of every daemon.
	Holds(ctx context.Context, openid string, now time.Time) ([]Hold, error)
	// Sweep deletes holds lapsed and rate events out of the window at now.
	Sweep(ctx context.Context, now time.Time) error

	// PublishSuspend delivers n to every daemon listening on the database
	// (SQLite serves one daemon: it delivers nothing).
	PublishSuspend(ctx context.Context, n SuspendNotice) error
	// ListenSuspend calls fn with every notice published on the database
	// until ctx ends or the connection fails; ready is called once it
	// listens. It returns nil when ctx ended.
	ListenSuspend(ctx context.Context, ready func(), fn func(SuspendNotice)) error

	// Migrations lists the schema migrations and which are applied.
	Migrations(ctx context.Context) ([]Migration, error)
	// Migrate applies the pending ones and returns them.
	Migrate(ctx context.Context) ([]Migration, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error

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
	// Snapshot reads openid's account, totals, usage by model and the holds
	// live at now as one state of the database, so what it shows adds up
	// (Balance = TopUps − Spent = the sum of the usage costs) even while
	// settlements commit. It returns ErrAccountNotFound for an unknown openid.
	Snapshot(ctx context.Context, openid string, now time.Time) (AccountSnapshot, error)

	Close() error
}
