package accounts

import "time"

// HoldKind tells what a hold keeps for a request in flight.
type HoldKind string

const (
	// HoldMoney reserves Amount of the balance until the request settles.
	HoldMoney HoldKind = "money"
	// HoldRun is a running request: it takes a concurrency slot, tells
	// Suspend where the user's generations run, and owns the request's rate
	// events so their token count can be corrected when it ends.
	HoldRun HoldKind = "run"
)

// Hold is a request's claim on an account, stored in the database so that
// every daemon on it sees every other's. It lapses at Expires unless its
// daemon renews it: a daemon that dies releases its holds by doing nothing.
type Hold struct {
	ID      string    `json:"id"`
	Kind    HoldKind  `json:"kind"`
	OpenID  string    `json:"openid"`
	UserID  string    `json:"userid,omitempty"`
	Daemon  string    `json:"daemon"`
	Amount  Money     `json:"amount,omitempty"`
	Started time.Time `json:"started"`
	Expires time.Time `json:"expires"`
}

// RateEvent is one admitted request's weight in one per-minute window of an
// account: Scope is "r" (requests), "t" (tokens) or "m:"+model (the model's
// requests).
type RateEvent struct {
	Scope string
	At    time.Time
	N     int64
}

// RateSummary sums one scope's events in the window.
type RateSummary struct {
	Sum   int64
	Count int
	Last  time.Time // the newest event
}

// RateWindows are an account's rate windows at an admission: a summary per
// scope, and a scope's events (oldest first) on demand, which only a
// refusal needs, to say when to retry.
type RateWindows struct {
	Summaries map[string]RateSummary
	Events    func(scope string) ([]RateEvent, error)
}

// RateAdmission asks the store to admit a request against the account's
// rate windows and running requests, atomically across daemons.
type RateAdmission struct {
	// Run is the HoldRun to insert when the request is admitted.
	Run Hold
	// Now is the admission time: holds expired by then are not counted, and
	// only events after Now−RateWindow are in the windows.
	Now time.Time
	// Decide runs inside the store's transaction, with the account locked,
	// given its rate windows and its live running requests. It returns the
	// events to record, or an error that refuses the request (nothing is
	// then written).
	Decide func(w RateWindows, running int) ([]RateEvent, error)
}

// SuspendNotice asks every daemon to stop openid's generations (userid's
// only, when set). Origin is the daemon that sent it.
type SuspendNotice struct {
	OpenID string `json:"openid"`
	UserID string `json:"userid,omitempty"`
	Origin string `json:"origin"`
}
