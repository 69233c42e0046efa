package accounts

import (
	"errors"
	"fmt"
	"time"
)

// Error classes. Each specific error below wraps one of them, so the HTTP
// layer maps with errors.Is on the class and still logs the specific reason.
var (
	// ErrUnauthenticated → 401 invalid_api_key.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden → 403.
	ErrForbidden = errors.New("forbidden")
)

var (
	ErrKeyMissing   = fmt.Errorf("%w: no API key provided", ErrUnauthenticated)
	ErrKeyInvalid   = fmt.Errorf("%w: incorrect API key provided", ErrUnauthenticated)
	ErrKeyRevoked   = fmt.Errorf("%w: API key has been revoked", ErrUnauthenticated)
	ErrKeyExpired   = fmt.Errorf("%w: API key has expired", ErrUnauthenticated)
	ErrUnknownOwner = fmt.Errorf("%w: unknown account", ErrUnauthenticated)
	// ErrAccountMismatch: a valid key of another account than the URL's.
	ErrAccountMismatch = fmt.Errorf("%w: API key does not belong to this account", ErrForbidden)
	// ErrModelNotAllowed: the model is outside the key's allow-list.
	ErrModelNotAllowed = fmt.Errorf("%w: API key may not use this model", ErrForbidden)
	// ErrAdminKey: the admin key is missing or wrong (→ 401).
	ErrAdminKey = fmt.Errorf("%w: admin key required", ErrUnauthenticated)
)

var (
	ErrAccountNotFound = errors.New("account not found")
	ErrAccountExists   = errors.New("account already exists")
	ErrKeyNotFound     = errors.New("API key not found")
	// ErrInsufficientBalance → 429 insufficient_quota.
	ErrInsufficientBalance = errors.New("insufficient balance")
	// ErrSettled: the reservation was already settled or released.
	ErrSettled = errors.New("reservation already settled")
	// ErrSuspended is the cancel cause of a suspended generation. The server
	// ends such requests with finish_reason "stop" and bills what was done.
	ErrSuspended = errors.New("generation suspended by the account")
	// ErrInvalidArgument marks a bad argument of an admin operation (→ 400).
	ErrInvalidArgument = errors.New("invalid argument")
)

// ErrBalanceLimit refuses a top-up (or opening balance) that would take a
// balance beyond ±MaxBalance (→ 400).
var ErrBalanceLimit = fmt.Errorf("%w: a balance must stay within ±%s (the limit of one account); this top-up would exceed it",
	ErrInvalidArgument, MaxBalance)

// QuotaError is ErrInsufficientBalance with the figures, for the message.
type QuotaError struct {
	Needed, Available Money
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("insufficient balance: request may cost up to %s, available %s", e.Needed, e.Available)
}

func (e *QuotaError) Unwrap() error { return ErrInsufficientBalance }

// Rate-limit scopes, as reported in RateLimitError.Scope.
const (
	ScopeModelRequests   = "model_requests"   // the model's rate_limit, per account
	ScopeAccountRequests = "account_requests" // the account's requests/minute
	ScopeAccountTokens   = "account_tokens"   // the account's tokens/minute
	ScopeConcurrency     = "concurrency"      // the account's concurrent requests
)

// ErrRateLimited is the class of RateLimitError (→ 429 rate_limit_exceeded).
var ErrRateLimited = errors.New("rate limit exceeded")

// RateLimitError says which limit refused a request and when to retry. The
// embedded headers carry OpenAI's x-ratelimit-* values.
type RateLimitError struct {
	Scope      string
	Limit      int
	RetryAfter time.Duration
	Headers    RateHeaders
}

func (e *RateLimitError) Error() string {
	if e.Scope == ScopeConcurrency {
		return fmt.Sprintf("too many concurrent requests (limit %d); retry after %s", e.Limit, e.RetryAfter.Round(time.Millisecond))
	}
	return fmt.Sprintf("rate limit exceeded (%s: %d per minute); retry after %s", e.Scope, e.Limit, e.RetryAfter.Round(time.Millisecond))
}

func (e *RateLimitError) Unwrap() error { return ErrRateLimited }
