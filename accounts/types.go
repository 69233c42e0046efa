package accounts

import "time"

// Account is a tenant, identified by its openid.
type Account struct {
	OpenID string `json:"openid"`
	Name   string `json:"name,omitempty"`
	// Balance is what the account may still spend (top-ups − settled costs).
	Balance Money `json:"balance"`
	// Unmetered accounts are never refused for lack of balance and are
	// charged nothing; their usage is still recorded. The auto-created local
	// account of auth mode none is unmetered.
	Unmetered bool      `json:"unmetered"`
	Limits    Limits    `json:"limits"`
	CreatedAt time.Time `json:"created_at"`
}

// Limits are an account's own rate limits; zero means unlimited.
type Limits struct {
	RequestsPerMinute int `json:"requests_per_minute"`
	TokensPerMinute   int `json:"tokens_per_minute"`
	MaxConcurrent     int `json:"max_concurrent"`
}

// APIKey is the stored form of a key: never the key itself, only its hash.
type APIKey struct {
	ID     string `json:"id"`
	OpenID string `json:"openid"`
	Label  string `json:"label,omitempty"`
	// Hash is hex SHA-256 of the full key. Keys are 256 random bits, so a
	// plain hash is enough: there is nothing to brute-force.
	Hash string `json:"-"`
	// Hint is the first characters of the key, for humans to recognise it.
	Hint      string     `json:"hint"`
	Models    []string   `json:"models,omitempty"` // empty: every model
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// TopUp is a credit (positive) or an adjustment (negative) of a balance.
type TopUp struct {
	ID        int64     `json:"id"`
	OpenID    string    `json:"openid"`
	Amount    Money     `json:"amount"`
	Note      string    `json:"note,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Usage is what a request consumed, reported by the server when it ends.
type Usage struct {
	PromptTokens     int
	CachedTokens     int // prompt tokens served from the KV cache
	CompletionTokens int
	// Processing is prompt evaluation plus generation time, never loading.
	Processing   time.Duration
	FinishReason string
	HTTPStatus   int
}

// LedgerEntry is one settled request. It holds counts and money, never content.
type LedgerEntry struct {
	ID               int64     `json:"id"`
	Time             time.Time `json:"time"`
	RequestID        string    `json:"request_id"`
	OpenID           string    `json:"openid"`
	UserID           string    `json:"userid"`
	KeyID            string    `json:"key_id"`
	Model            string    `json:"model"`
	PromptTokens     int       `json:"prompt_tokens"`
	CachedTokens     int       `json:"cached_tokens"`
	CompletionTokens int       `json:"completion_tokens"`
	ProcessingMS     int64     `json:"processing_ms"`
	Cost             Money     `json:"cost"`
	FinishReason     string    `json:"finish_reason"`
	HTTPStatus       int       `json:"http_status"`
}

// LedgerFilter selects ledger rows; zero fields match everything.
type LedgerFilter struct {
	OpenID string
	UserID string
	Model  string
	Since  time.Time // inclusive
	Until  time.Time // exclusive
	Limit  int       // 0: DefaultLedgerLimit
	Offset int
}

// DefaultLedgerLimit bounds a ledger query that names no limit.
const DefaultLedgerLimit = 1000

// ModelUsage sums an account's ledger for one model.
type ModelUsage struct {
	Model            string  `json:"model"`
	Requests         int64   `json:"requests"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CachedTokens     int64   `json:"cached_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Seconds          float64 `json:"seconds"`
	Cost             Money   `json:"cost"`
}

// AccountSnapshot is one account as of one moment (Store.Snapshot).
type AccountSnapshot struct {
	Account Account
	Totals  Totals
	Usage   []ModelUsage
	Holds   []Hold
}

// Totals are an account's money sums, for the balance invariant and Info.
type Totals struct {
	TopUps Money `json:"top_ups"`
	Spent  Money `json:"spent"`
}
