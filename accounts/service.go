package accounts

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// AuthMode is the config's auth.mode.
type AuthMode string

const (
	// ModeNone: single-user local use; every request is the local account.
	ModeNone AuthMode = "none"
	// ModeKey: a valid Bearer key is required and decides the account.
	ModeKey AuthMode = "key"
	// ModeOpenID: /llm_api/{openid}/{userid}/... names the account and the
	// openid is the credential, a secret; a Bearer value that is no key is
	// ignored, a key of another account refused. Plain /v1/... routes need
	// a key.
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
	// Now is the clock (tests inject one); nil means time.Now. Holds and
	// rate windows are stamped with it, so daemons sharing a database need
	// clocks kept in step (NTP): a skew shifts their windows by as much.
	Now func() time.Time
	// DaemonID names this daemon's holds; "" picks host-pid-random, unique
	// per process start.
	DaemonID string
	// HoldTTL is how long a hold outlives its last renewal: how long a
	// daemon that died keeps its requests' reservations and concurrency
	// slots. 0 means DefaultHoldTTL. Run renews every HoldTTL/3.
	HoldTTL time.Duration
	// Logger reports what the service cannot return to a caller (failed
	// renewals, settlements retried); nil means slog.Default().
	Logger *slog.Logger
}

// AuthSettings are the settings of a Service that a config reload changes
// while it runs (see SetAuth).
type AuthSettings struct {
	Mode     AuthMode
	Currency string
	AdminKey AdminKey
}

// DefaultHoldTTL keeps a dead daemon's holds for half a minute: long enough
// that a database hiccup does not drop live holds, short enough that a
// crashed daemon's reservations come back soon.
const DefaultHoldTTL = 30 * time.Second

// Service is the accounts API the server and the CLI use. It is safe for
// concurrent use. Reservations, running requests and rate windows live in
// the store, shared with every daemon on the database; a daemon's Service
// renews its own holds while Run runs. The CLI opens its own Service on the
// same database and never holds anything.
type Service struct {
	store   Store
	cfg     Config                       // Mode, Currency and AdminKey: see auth
	auth    atomic.Pointer[AuthSettings] // replaced whole by SetAuth
	now     func() time.Time
	log     *slog.Logger
	daemon  string
	ttl     time.Duration
	tracker *Tracker
	leases  *leases
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
	if cfg.DaemonID == "" {
		cfg.DaemonID = defaultDaemonID()
	}
	if cfg.HoldTTL <= 0 {
		cfg.HoldTTL = DefaultHoldTTL
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		store:   store,
		cfg:     cfg,
		now:     now,
		log:     log,
		daemon:  cfg.DaemonID,
		ttl:     cfg.HoldTTL,
		tracker: NewTracker(),
		leases:  newLeases(),
	}
	s.SetAuth(AuthSettings{Mode: cfg.Mode, Currency: cfg.Currency, AdminKey: cfg.AdminKey})
	return s
}

// SetAuth applies an edited auth section to the running service: the next
// request authenticates in the new mode, against the new admin key, and
// sees amounts in the new currency. Requests already admitted keep going.
func (s *Service) SetAuth(a AuthSettings) {
	if a.Mode == "" {
		a.Mode = ModeNone
	}
	s.auth.Store(&a)
}

// Auth is the auth settings in force.
func (s *Service) Auth() AuthSettings { return *s.auth.Load() }

// Now is the service's clock (the CLI reckons key expiries from it).
func (s *Service) Now() time.Time { return s.now() }

// Ping checks that the accounts database answers.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// DaemonID names this daemon in the holds it stores.
func (s *Service) DaemonID() string { return s.daemon }

// Mode is the configured auth mode.
func (s *Service) Mode() AuthMode { return s.auth.Load().Mode }

// Currency is the configured currency label.
func (s *Service) Currency() string { return s.auth.Load().Currency }

// Store is the underlying store.
func (s *Service) Store() Store { return s.store }

// CheckAdminKey returns ErrAdminKey unless presented is the admin key.
func (s *Service) CheckAdminKey(presented string) error {
	if !s.auth.Load().AdminKey.Matches(presented) {
		return ErrAdminKey
	}
	return nil
}

// AdminEnabled reports whether an admin key is configured.
func (s *Service) AdminEnabled() bool { return s.auth.Load().AdminKey.Enabled() }

// Admit counts a request against the model's rate limit (per account) and
// the account's own limits, on every daemon sharing the database. tokens is
// the request's demand on a tokens-per-minute limit; when it is open (no
// max_tokens), Permit.Completion is the completion each choice was granted.
// Call Permit.Done when the request ends.
func (s *Service) Admit(ctx context.Context, id Identity, model string, modelRPM int, tokens TokenDemand) (*Permit, error) {
	now := s.now()
	r := LimitRequest{OpenID: id.OpenID, Model: model, ModelRPM: modelRPM, Limits: id.Limits, TokenDemand: tokens}
	run := s.newHold(HoldRun, id, 0, now)
	var headers RateHeaders
	var granted int
	err := s.store.AdmitRate(ctx, RateAdmission{Run: run, Now: now, Decide: func(w RateWindows, running int) ([]RateEvent, error) {
		add, h, g, err := decideRate(r, now, w, running)
		headers, granted = h, g
		return add, err
	}})
	if err != nil {
		return nil, err
	}
	s.leases.add(run.ID, run.Expires)
	return &Permit{svc: s, holdID: run.ID, Headers: headers, Completion: granted}, nil
}

// Track registers a generation so Suspend can cancel it.
func (s *Service) Track(openid, userid string, cancel context.CancelCauseFunc) (untrack func()) {
	return s.tracker.Track(openid, userid, cancel)
}

// Suspend cancels the generations of userid in openid (userid "": all of the
// account's) with cause ErrSuspended, here at once and on the other daemons
// through the store, and returns how many it stopped: here, plus the running
// requests the database lists for the other daemons.
func (s *Service) Suspend(ctx context.Context, openid, userid string) (int, error) {
	n := s.tracker.Suspend(openid, userid)
	holds, err := s.store.Holds(ctx, openid, s.now())
	if err != nil {
		return n, fmt.Errorf("suspend: %w", err)
	}
	for _, h := range holds {
		if h.Kind == HoldRun && h.Daemon != s.daemon && (userid == "" || h.UserID == userid) {
			n++
		}
	}
	if err := s.store.PublishSuspend(ctx, SuspendNotice{OpenID: openid, UserID: userid, Origin: s.daemon}); err != nil {
		return n, fmt.Errorf("suspend: %w", err)
	}
	return n, nil
}
