package accounts

import (
	"context"
	"sync"
)

// Tracker registers running and queued generations by (openid, userid) so an
// account can stop its own work, as the original provider's
// suspend_current_generate does.
type Tracker struct {
	mu     sync.Mutex
	next   uint64
	byUser map[trackKey]map[uint64]context.CancelCauseFunc
}

type trackKey struct{ openid, userid string }

// NewTracker returns an empty registry.
func NewTracker() *Tracker {
	return &Tracker{byUser: map[trackKey]map[uint64]context.CancelCauseFunc{}}
}

// Track registers cancel under (openid, userid) until untrack is called.
// untrack is safe to call more than once.
func (t *Tracker) Track(openid, userid string, cancel context.CancelCauseFunc) (untrack func()) {
	k := trackKey{openid, userid}
	t.mu.Lock()
	t.next++
	id := t.next
	if t.byUser[k] == nil {
		t.byUser[k] = map[uint64]context.CancelCauseFunc{}
	}
	t.byUser[k][id] = cancel
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if m := t.byUser[k]; m != nil {
			delete(m, id)
			if len(m) == 0 {
				delete(t.byUser, k)
			}
		}
	}
}

// Suspend cancels, with cause ErrSuspended, every generation of userid in
// openid, or of the whole account when userid is "". It returns how many it
// stopped. The generations untrack themselves as they end.
func (t *Tracker) Suspend(openid, userid string) int {
	var cancels []context.CancelCauseFunc
	t.mu.Lock()
	for k, m := range t.byUser {
		if k.openid != openid || (userid != "" && k.userid != userid) {
			continue
		}
		for id, c := range m {
			cancels = append(cancels, c)
			delete(m, id) // a generation is counted once even if suspended twice
		}
		delete(t.byUser, k)
	}
	t.mu.Unlock()
	// Cancel outside the lock: cancel funcs may run arbitrary AfterFuncs.
	for _, c := range cancels {
		c(ErrSuspended)
	}
	return len(cancels)
}

// StopAll cancels every tracked generation with cause and returns how many.
func (t *Tracker) StopAll(cause error) int {
	t.mu.Lock()
	var cancels []context.CancelCauseFunc
	for k, m := range t.byUser {
		for _, c := range m {
			cancels = append(cancels, c)
		}
		delete(t.byUser, k)
	}
	t.mu.Unlock()
	for _, c := range cancels {
		c(cause)
	}
	return len(cancels)
}
