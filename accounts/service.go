package accounts

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// AuthMode is the config's auth.mode.
type AuthMode string

const (
	// ModeNone: single-user local use; every request is the local account.
	ModeNone AuthMode = "none"
	// ModeKey: a valid Bearer key is required and decides the account.
	ModeKey AuthMode = "key"
	// ModeOpenID: /llm_api/{openid}/{userid}/... names the account; a Bearer
	// key, if sent, must belong to it.
	ModeOpenID AuthMode = "openid"
)

// ParseAuthMode validates a configured mode; "" means none.
func ParseAuthMode(s string) (AuthMode, error) {
	switch m := AuthMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return ModeNone, nil
	case ModeNone, ModeKey, ModeOpenID:
		return m, nil
	default:
		return "", fmt.Errorf("auth.mode %q: want none, key or openid", s)
	}
}

// DefaultLocalOpenID names the account of auth mode none.
const DefaultLocalOpenID = "local"

// Config configures a Service.
type Config struct {
	Mode AuthMode
	// Currency is the label of the money unit (e.g. "元", "USD"); display only.
	Currency string
	// AdminKey guards the admin API; see NewAdminKey.
	AdminKey AdminKey
	// LocalOpenID is the account of mode none; "" means DefaultLocalOpenID.
	LocalOpenID string
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
}

// Service is the accounts API the server and the CLI use. It is safe for
// concurrent use. Reservations and rate-limit windows live in it, so one
// daemon must own one Service; the CLI may open its own on the same database
// because it neither reserves nor rate-limits.
type Service struct {
	store   Store
	cfg     Config
	now     func() time.Time
	limiter *Limiter
	tracker *Tracker

	// mu makes "read balance, compare with reservations, reserve" atomic.
	mu       sync.Mutex
	reserved map[string]Money // openid → outstanding reservations
}

// NewService wraps store. The Service does not own the store: close it
// yourself after the last use.
func NewService(store Store, cfg Config) *Service {
	if cfg.Mode == "" {
		cfg.Mode = ModeNone
	}
	if cfg.LocalOpenID == "" {
		cfg.LocalOpenID = DefaultLocalOpenID
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{
		store:    store,
		cfg:      cfg,
		now:      now,
		limiter:  NewLimiter(now),
		tracker:  NewTracker(),
		reserved: map[string]Money{},
	}
}

// Mode is the configured auth mode.
func (s *Service) Mode() AuthMode { return s.cfg.Mode }

// Currency is the configured currency label.
func (s *Service) Currency() string { return s.cfg.Currency }

// Store is the underlying store.
func (s *Service) Store() Store { return s.store }

// CheckAdminKey returns ErrAdminKey unless presented is the admin key.
func (s *Service) CheckAdminKey(presented string) error {
	if !s.cfg.AdminKey.Matches(presented) {
		return ErrAdminKey
	}
	return nil
}

// AdminEnabled reports whether an admin key is configured.
func (s *Service) AdminEnabled() bool { return s.cfg.AdminKey.Enabled() }

// Admit counts a request against the model's rate limit (per account) and
// the account's own limits. tokens is prompt plus max_tokens. Call
// Permit.Done when the request ends.
func (s *Service) Admit(id Identity, model string, modelRPM, tokens int) (*Permit, error) {
	return s.limiter.Admit(LimitRequest{OpenID: id.OpenID, Model: model, ModelRPM: modelRPM, Limits: id.Limits, Tokens: tokens})
}

// Track registers a generation so Suspend can cancel it.
func (s *Service) Track(openid, userid string, cancel context.CancelCauseFunc) (untrack func()) {
	return s.tracker.Track(openid, userid, cancel)
}

// Suspend cancels the generations of userid in openid (userid "": all of the
// account's) with cause ErrSuspended and returns how many.
func (s *Service) Suspend(openid, userid string) int {
	return s.tracker.Suspend(openid, userid)
}
