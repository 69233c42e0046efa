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
// daemon could not renew their holds for a whole HoldTTL (the database was
// unreachable): other daemons may by then have spent what they held. It is
// a kind of suspension, so the server ends such responses normally.
var ErrHoldsLapsed = fmt.Errorf("%w: the accounts database could not be reached to keep the request's reservation", ErrSuspended)

// storeTimeout bounds the clean-up writes that run after a request ended,
// on a context of their own (the request's is gone by then).
const storeTimeout = 10 * time.Second

// leases are the ids of this daemon's live holds, which Run renews. A hold
// leaves the set when its request ends, whether or not its delete reached
// the database: one that did not simply lapses.
type leases struct {
	mu      sync.Mutex
	ids     map[string]struct{}
	renewed time.Time // the last time every hold in the set was renewed
}

func newLeases(now time.Time) *leases {
	return &leases{ids: map[string]struct{}{}, renewed: now}
}

func (l *leases) add(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids[id] = struct{}{}
}

func (l *leases) drop(id string) {
	if id == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.ids, id)
}

func (l *leases) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.ids))
	for id := range l.ids {
		out = append(out, id)
	}
	return out
}

func (l *leases) markRenewed(at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.renewed = at
}

func (l *leases) lastRenewed() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renewed
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
// lapsed anywhere. If renewals have failed for a whole HoldTTL the holds
// have lapsed, so the generations they covered are stopped: they are no
// longer reserved for, and would run on unaccounted.
func (s *Service) renew(ctx context.Context) {
	now := s.now()
	if ids := s.leases.snapshot(); len(ids) > 0 {
		if _, err := s.store.RenewHolds(ctx, ids, now.Add(s.ttl), now); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("renew holds", "holds", len(ids), "err", err)
			if now.Sub(s.leases.lastRenewed()) >= s.ttl {
				if n := s.tracker.StopAll(ErrHoldsLapsed); n > 0 {
					s.log.Error("holds lapsed: stopped this daemon's generations", "stopped", n, "ttl", s.ttl)
				}
			}
			return
		}
	}
	s.leases.markRenewed(now)
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
