package accounts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ErrHoldsLapsed is the cancel cause of generations stopped because their
// daemon's holds lapsed before it renewed them: the database was out of
// reach for a whole HoldTTL, or the daemon itself stalled that long (a VM
// pause, SIGSTOP, a host suspend). Other daemons may by then have spent
// what the holds kept, and the concurrency slots are free. It is a kind of
// suspension, so the server ends such responses normally and bills what
// they used.
var ErrHoldsLapsed = fmt.Errorf("%w: the request's reservation lapsed before this daemon could renew it", ErrSuspended)

// storeTimeout bounds the clean-up writes that run after a request ended,
// on a context of their own (the request's is gone by then).
const storeTimeout = 10 * time.Second

// leases are this daemon's live holds, which Run renews, each with the
// expiry the database has for it as far as this daemon knows: the one it
// was stored with, then each renewal's. A hold leaves the set when its
// request ends, whether or not its delete reached the database: one that
// did not simply lapses. It also leaves when it is found lapsed.
type leases struct {
	mu      sync.Mutex
	expires map[string]time.Time
}

func newLeases() *leases {
	return &leases{expires: map[string]time.Time{}}
}

func (l *leases) add(id string, expires time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expires[id] = expires
}

func (l *leases) drop(id string) {
	if id == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.expires, id)
}

// takeLapsed removes the holds whose expiry has passed at now, and returns
// how many there were. Taking them out of the set reports each lapse once:
// their requests may take a while to end after being stopped.
func (l *leases) takeLapsed(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for id, exp := range l.expires {
		if !exp.After(now) {
			delete(l.expires, id)
			n++
		}
	}
	return n
}

func (l *leases) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.expires))
	for id := range l.expires {
		out = append(out, id)
	}
	return out
}

// renewed records that the holds in ids, all live when the renewal ran,
// now expire at until; those whose requests ended meanwhile stay out.
func (l *leases) renewed(ids []string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if _, ok := l.expires[id]; ok {
			l.expires[id] = until
		}
	}
}

func (s *Service) newHold(kind HoldKind, id Identity, amount Money, now time.Time) Hold {
	return Hold{
		ID: newUniqueID("hold_"), Kind: kind, OpenID: id.OpenID, UserID: id.UserID, Daemon: s.daemon,
		Amount: amount, Started: now, Expires: now.Add(s.ttl),
	}
}

// newUniqueID has 96 random bits after prefix: hold and settlement ids
// stay unique across daemons and across the ledger's history, where they
// disambiguate reused request ids.
func newUniqueID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func defaultDaemonID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "ggufd"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// endHold deletes a hold when its request ends. It runs on a context of its
// own because the request's has usually ended; a failure only means the
// hold lapses at its expiry.
func (s *Service) endHold(id string, tokens int64) {
	if id == "" {
		return
	}
	s.leases.drop(id)
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := s.store.ReleaseHold(ctx, id, tokens); err != nil {
		s.log.Warn("release hold; it lapses at its expiry", "hold", id, "err", err)
	}
}

// Run keeps this daemon's holds alive and stops the generations other
// daemons ask it to suspend, until ctx ends. ready (nil: none) is called
// once the suspend listener is up, or has failed its first try (the daemon
// then serves, and suspends sent elsewhere reach it once it reconnects).
// A daemon must run it for as long as requests may be in flight: holds not
// renewed lapse after HoldTTL.
func (s *Service) Run(ctx context.Context, ready func()) {
	var once sync.Once
	signal := func() {
		if ready != nil {
			once.Do(ready)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.listen(ctx, signal)
	}()
	tick := time.NewTicker(s.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case <-tick.C:
			s.renew(ctx)
		}
	}
}

// renew extends the expiry of this daemon's holds and sweeps what has
// lapsed anywhere. A hold whose expiry passed before it was renewed has
// lapsed, whether renewals failed for a whole HoldTTL or the daemon stalled
// that long between two (then the next renewal succeeds, renewing none of
// them): the generations it covered are stopped, as they are no longer
// reserved for, hold no concurrency slot, and would run on unaccounted.
// They are billed for what they used, as any suspended generation is.
//
// Lapses are found from the expiries this daemon set, not from how many
// holds RenewHolds renewed: a request that ends between the snapshot and
// the renewal deletes its hold too, so a short count proves nothing.
// The tracker does not tie generations to holds, so, as README promises
// for a daemon that lost the database, every generation of the daemon is
// stopped.
func (s *Service) renew(ctx context.Context) {
	now := s.now()
	if lapsed := s.leases.takeLapsed(now); lapsed > 0 {
		n := s.tracker.StopAll(ErrHoldsLapsed)
		s.log.Error("holds lapsed before this daemon renewed them: stopped its generations",
			"holds", lapsed, "stopped", n, "ttl", s.ttl)
	}
	if ids := s.leases.snapshot(); len(ids) > 0 {
		until := now.Add(s.ttl)
		if _, err := s.store.RenewHolds(ctx, ids, until, now); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("renew holds", "holds", len(ids), "err", err)
			}
			return
		}
		s.leases.renewed(ids, until)
	}
	if err := s.store.Sweep(ctx, now); err != nil && ctx.Err() == nil {
		s.log.Warn("sweep lapsed holds", "err", err)
	}
}

// listen delivers other daemons' suspends to this one's tracker, and
// reconnects (backing off up to listenBackoffMax) when the connection drops.
func (s *Service) listen(ctx context.Context, ready func()) {
	backoff := listenBackoffMin
	for {
		up := false
		err := s.store.ListenSuspend(ctx, func() { up = true; ready() }, s.onSuspendNotice)
		if ctx.Err() != nil {
			return
		}
		ready()
		if up {
			backoff = listenBackoffMin
		}
		if err == nil {
			err = errors.New("listener ended")
		}
		s.log.Warn("suspend listener; suspends sent to other daemons do not reach this one until it reconnects", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

const (
	listenBackoffMin = 500 * time.Millisecond
	listenBackoffMax = 15 * time.Second
)

func (s *Service) onSuspendNotice(n SuspendNotice) {
	if n.Origin == s.daemon {
		return // stopped already, by Suspend itself
	}
	if stopped := s.tracker.Suspend(n.OpenID, n.UserID); stopped > 0 {
		s.log.Info("suspended on another daemon's request", "openid", n.OpenID, "userid", n.UserID, "from", n.Origin, "stopped", stopped)
	}
}
