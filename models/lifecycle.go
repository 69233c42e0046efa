package models

import (
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/models/placement"
)

// runner is one model's lifecycle state. Every field except progress is
// owned by the manager loop.
type runner struct {
	item *item // settings in force (as loaded, while loaded)
	next *item // changed load settings, applied at the next (re)load

	state    State
	model    LoadedModel
	err      error
	progress atomic.Uint32 // float32 bits, written by the loader's callback

	leases  int
	waiters []*waiter // requests waiting for the model to (re)load

	loadedAt  time.Time
	lastUsed  time.Time
	expiresAt time.Time
	stopTimer func() bool
	timerSeq  uint64           // invalidates keep-alive timers that fired late
	keepAlive *config.Duration // a client's keep_alive, until unloaded
	speed     Speed            // the last measured speed, kept across unloads (see Manager.Speed)

	gen     uint64         // bumped on every load and unload
	place   placement.Plan // where the model is (or goes, while loading): memory committed per device
	closing chan struct{}  // closed when an unload's Close has returned

	drain      bool // unload once the last lease is released
	removed    bool // gone from the catalog; unload and forget
	admitting  bool // in loopState.pending
	unloadWait []chan struct{}
}

func (r *runner) name() string { return r.item.Name }

// acquire serves a request for the model called name.
func (m *Manager) acquire(name string, w *waiter) {
	if m.st.closed {
		w.ch <- acquireResult{err: ErrClosed}
		return
	}
	r := m.st.runners[name]
	if r == nil {
		// Removed by a reload between Lookup and now.
		_, err := m.catalog.Load().lookup(name)
		if err == nil {
			err = &NotFoundError{Name: name}
		}
		w.ch <- acquireResult{err: err}
		return
	}
	w.r = r
	if r.state == StateLoaded && !r.drain {
		m.grant(r, w)
		return
	}
	r.waiters = append(r.waiters, w)
	if r.state == StateUnloaded || r.state == StateFailed {
		m.startLoad(r)
	}
	// Loading, unloading, or draining for a reload: served when that ends.
}

func (m *Manager) grant(r *runner, w *waiter) {
	r.leases++
	m.cancelTimer(r)
	e := r.item.Entry
	if w.entry.Instance() == r.name() && w.entry.Name != r.name() {
		e = w.entry // a variant: its own settings over the shared instance
	}
	w.ch <- acquireResult{lease: &Lease{m: m, r: r, model: r.model, entry: e}}
}

// dropWaiter removes a waiter whose request gave up; false when it was
// already answered.
func (m *Manager) dropWaiter(w *waiter) bool {
	r := w.r
	if r == nil {
		return false
	}
	i := slices.Index(r.waiters, w)
	if i < 0 {
		return false
	}
	r.waiters = slices.Delete(r.waiters, i, i+1)
	if len(r.waiters) == 0 && r.admitting {
		// Nobody wants it any more: do not keep it queued for memory.
		m.removePending(r)
		r.state = StateUnloaded
	}
	return true
}

func (m *Manager) release(r *runner, at time.Time, keepAlive *config.Duration) {
	if keepAlive != nil {
		r.keepAlive = keepAlive
	}
	r.leases--
	if at.After(r.lastUsed) {
		r.lastUsed = at
	}
	if r.leases == 0 {
		m.idle(r)
		m.retryPending()
	}
}

// startLoad begins loading r for its waiters.
func (m *Manager) startLoad(r *runner) {
	if r.next != nil {
		r.item, r.next = r.next, nil
		r.speed = Speed{} // other settings (threads, GPU layers): another speed
	}
	r.drain = false
	r.state = StateLoading
	r.err = nil
	r.progress.Store(0)
	r.gen++
	if r.item.prepErr != nil {
		m.loadFailed(r, &LoadFailedError{Model: r.name(), Err: r.item.prepErr})
		return
	}
	if r.item.estErr != nil {
		// The Go reader refused the file (or its estimate overflows): it is
		// not handed to llama.cpp's parser, nor loaded with a 0 B estimate
		// that bypasses admission. The error is the reader's; a changed
		// file is read again at the reload its change triggers.
		m.loadFailed(r, &LoadFailedError{Model: r.name(), Err: r.item.estErr})
		return
	}
	m.admit(r)
}

type verdict int

const (
	fits  verdict = iota // load now (after the listed evictions)
	wait                 // fits once busy models finish or unloading ones close
	never                // cannot fit even with every other model unloaded
)

// admit loads r now if it fits, queues it until busy models finish or
// unloading ones close if that would make room, or fails its waiters.
func (m *Manager) admit(r *runner) {
	p, evict, v, err := m.plan(r)
	switch v {
	case fits:
		m.removePending(r)
		m.launch(r, p, evict)
	case wait:
		if !r.admitting {
			r.admitting = true
			m.st.pending = append(m.st.pending, r)
			m.log.Info("model waits for memory or a free model slot", "model", r.name())
		}
	case never:
		m.removePending(r)
		m.loadFailed(r, err)
	}
}

// launch evicts, then loads r as placed in its own goroutine once the
// evicted models have closed.
func (m *Manager) launch(r *runner, p placement.Plan, evict []*runner) {
	var waits []chan struct{}
	for _, v := range evict {
		m.log.Info("unloading least recently used idle model to make room", "model", v.name(), "for", r.name())
		m.beginUnload(v)
		waits = append(waits, v.closing)
	}
	r.place = p
	gen, it := r.gen, r.item
	opts := it.opts
	opts.GPULayers, opts.TensorSplit = p.GPULayers, p.TensorSplit
	opts.Progress = func(p float32) { r.progress.Store(math.Float32bits(p)) }
	m.log.Info("loading model", "model", r.name(), "path", it.Path, "context", it.ContextLength,
		"parallel", it.Model.Parallel, "estimate", config.FormatBytes(it.est.Total),
		"gpu_layers", it.gpuLayers.String(), "placement", placementString(p))
	go func() {
		for _, c := range waits {
			select {
			case <-c:
			case <-m.loadCtx.Done():
			}
		}
		start := time.Now()
		lm, err := m.opts.loader(m.loadCtx, it.Path, opts)
		took := time.Since(start)
		if !m.send(func() { m.loaded(r, gen, lm, err, took) }) && lm != nil {
			lm.Close()
		}
	}()
}

func (m *Manager) loaded(r *runner, gen uint64, lm LoadedModel, err error, took time.Duration) {
	if r.gen != gen || r.state != StateLoading {
		if lm != nil {
			go lm.Close()
		}
		return
	}
	if err != nil {
		m.loadFailed(r, &LoadFailedError{Model: r.name(), Err: err})
		m.retryPending()
		return
	}
	now := m.opts.clock.Now()
	r.state = StateLoaded
	r.model = lm
	r.loadedAt, r.lastUsed = now, now
	r.progress.Store(math.Float32bits(1))
	// Account the larger of estimate and actual: the estimate is what was
	// admitted, and a lazily mapped file may report less than it will use.
	// The engine reports one figure for all devices, so this holds only
	// for a model wholly on the CPU.
	if r.place.GPULayers == 0 {
		r.place.CPU.Bytes = max(r.place.CPU.Bytes, lm.Info().MemoryBytes)
	}
	m.log.Info("model loaded", "model", r.name(), "took_ms", took.Milliseconds(),
		"memory", config.FormatBytes(total(r.place)), "placement", placementString(r.place))
	m.watchersMu.Lock()
	onLoad := m.loadWatchers
	m.watchersMu.Unlock()
	for _, f := range onLoad {
		f(r.name(), took)
	}
	if m.st.closed {
		m.beginUnload(r)
		return
	}
	ws := r.waiters
	r.waiters = nil
	for _, w := range ws {
		m.grant(r, w)
	}
	if r.leases == 0 {
		m.idle(r)
	}
	m.retryPending()
}

func (m *Manager) loadFailed(r *runner, err error) {
	r.state = StateFailed
	r.err = err
	r.model = nil
	r.place = placement.Plan{}
	m.log.Error("model failed to load", "model", r.name(), "err", err)
	for _, w := range r.waiters {
		w.ch <- acquireResult{err: err}
	}
	r.waiters = nil
	// Nothing is loaded, so an admin Unload asked for during the load
	// (of a model still in the catalog or removed meanwhile) is done;
	// unloaded() is never coming to end it.
	r.unloadDone()
	if r.removed {
		delete(m.st.detached, r)
	}
}

// unloadDone ends a drain and answers the admin Unloads waiting for r,
// once r holds no model.
func (r *runner) unloadDone() {
	r.drain = false
	for _, c := range r.unloadWait {
		close(c)
	}
	r.unloadWait = nil
}

// idle handles a loaded model whose last lease was released: unload it now
// (draining, removed, or keep_alive 0) or arm its keep-alive timer.
func (m *Manager) idle(r *runner) {
	m.cancelTimer(r)
	if r.state != StateLoaded || r.leases > 0 {
		return
	}
	if r.drain || r.removed || len(r.waiters) > 0 || m.st.closed {
		m.beginUnload(r)
		return
	}
	ka := m.keepAliveOf(r)
	if ka.IsNever() {
		return
	}
	now := m.opts.clock.Now()
	r.expiresAt = r.lastUsed.Add(ka.Std())
	d := r.expiresAt.Sub(now)
	if d <= 0 {
		m.beginUnload(r)
		return
	}
	r.timerSeq++
	seq := r.timerSeq
	r.stopTimer = m.opts.clock.AfterFunc(d, func() {
		m.send(func() { m.expire(r, seq) })
	})
}

// keepAliveOf is the client's keep_alive when one was set, else the
// configured one, capped by max_keep_alive either way.
func (m *Manager) keepAliveOf(r *runner) config.Duration {
	if r.keepAlive != nil {
		return m.st.cfg.CapKeepAlive(*r.keepAlive)
	}
	return m.st.cfg.KeepAliveFor(r.item.Model)
}

func (m *Manager) expire(r *runner, seq uint64) {
	if r.timerSeq != seq || r.state != StateLoaded || r.leases > 0 {
		return
	}
	m.log.Info("unloading idle model", "model", r.name(), "keep_alive", m.keepAliveOf(r).String())
	m.beginUnload(r)
}

func (m *Manager) cancelTimer(r *runner) {
	r.timerSeq++
	if r.stopTimer != nil {
		r.stopTimer()
		r.stopTimer = nil
	}
	r.expiresAt = time.Time{}
}

// beginUnload closes r's model in its own goroutine; r.closing is closed
// when the memory is free.
func (m *Manager) beginUnload(r *runner) {
	m.cancelTimer(r)
	r.state = StateUnloading
	r.gen++
	gen, lm := r.gen, r.model
	closing := make(chan struct{})
	r.closing = closing
	go func() {
		st := lm.Stats()
		sp, measured := measuredSpeed(st.PromptTokenCost, st.GenTokenCost)
		err := lm.Close()
		close(closing)
		m.send(func() {
			if measured {
				r.speed = sp // the next load reserves from it
			}
			m.unloaded(r, gen, err)
		})
	}()
}

func (m *Manager) unloaded(r *runner, gen uint64, err error) {
	if r.gen != gen {
		return
	}
	if err != nil {
		m.log.Warn("closing model", "model", r.name(), "err", err)
	}
	r.state = StateUnloaded
	r.model = nil
	r.place = placement.Plan{}
	r.loadedAt, r.expiresAt = time.Time{}, time.Time{}
	r.keepAlive = nil // a client's keep_alive lasts one load
	r.progress.Store(0)
	r.unloadDone()
	m.log.Info("model unloaded", "model", r.name())
	if r.removed {
		delete(m.st.detached, r)
		for _, w := range r.waiters {
			w.ch <- acquireResult{err: &NotFoundError{Name: r.name()}}
		}
		r.waiters = nil
	} else if len(r.waiters) > 0 && !m.st.closed {
		m.startLoad(r) // requests queued during a reload or admin unload
	}
	m.retryPending()
}

// retryPending re-plans the loads waiting for memory, oldest first.
func (m *Manager) retryPending() {
	for _, r := range slices.Clone(m.st.pending) {
		if !r.admitting {
			continue
		}
		if len(r.waiters) == 0 {
			m.removePending(r)
			r.state = StateUnloaded
			continue
		}
		m.admit(r)
	}
}

func (m *Manager) removePending(r *runner) {
	if !r.admitting {
		return
	}
	r.admitting = false
	if i := slices.Index(m.st.pending, r); i >= 0 {
		m.st.pending = slices.Delete(m.st.pending, i, i+1)
	}
}

// allRunners is the catalog's runners plus removed ones still unloading.
func (m *Manager) allRunners() []*runner {
	out := make([]*runner, 0, len(m.st.runners)+len(m.st.detached))
	for _, r := range m.st.runners {
		out = append(out, r)
	}
	for r := range m.st.detached {
		out = append(out, r)
	}
	return out
}

// unloadRequest unloads name once idle; the channel closes when it is.
func (m *Manager) unloadRequest(name string) (chan struct{}, error) {
	if m.st.closed {
		return nil, ErrClosed
	}
	r := m.st.runners[name]
	if r == nil {
		return nil, &NotFoundError{Name: name}
	}
	switch r.state {
	case StateUnloaded, StateFailed:
		return nil, nil
	case StateLoading:
		if r.admitting {
			return nil, nil // nothing loaded yet; its waiters still want it
		}
	}
	c := make(chan struct{})
	r.unloadWait = append(r.unloadWait, c)
	if r.state == StateLoaded && r.leases == 0 {
		m.beginUnload(r)
	} else if r.state != StateUnloading {
		r.drain = true
	}
	return c, nil
}

// applyLoop installs a new catalog: unchanged models keep running with
// their new non-load settings, changed ones reload once their requests
// finish, removed ones unload once idle, and new ones wait for first use.
func (m *Manager) applyLoop(cfg *config.Config, items []*item, variants []Entry) {
	old := m.st.runners
	m.st.cfg = cfg
	m.st.runners = make(map[string]*runner, len(items))
	for _, it := range items {
		r := old[it.Name]
		if r == nil {
			r = &runner{item: it, state: StateUnloaded}
			m.st.runners[it.Name] = r
			continue
		}
		delete(old, it.Name)
		m.st.runners[it.Name] = r
		m.update(r, it)
	}
	for _, r := range old {
		m.remove(r)
	}
	m.catalog.Store(newCatalog(items, variants))
	// keep_alive or limits may have changed.
	for _, r := range m.st.runners {
		if r.state == StateLoaded && r.leases == 0 {
			m.idle(r)
		}
	}
	m.retryPending()
}

func (m *Manager) update(r *runner, it *item) {
	cur := r.item
	if r.next != nil {
		cur = r.next
	}
	if it.spec == r.item.spec {
		// Same load settings as in force: take the other settings now, and
		// forget a reload that an earlier edit asked for (an edit that was
		// reverted), with the drain it started, or the model would keep
		// turning requests away and then reload unchanged.
		r.item, r.next = it, nil
		if r.drain && len(r.unloadWait) == 0 { // no admin Unload wants the drain
			r.drain = false
			if r.state == StateLoaded {
				// Requests that queued behind the drain: the model as
				// loaded has the settings in force.
				ws := r.waiters
				r.waiters = nil
				for _, w := range ws {
					m.grant(r, w)
				}
			}
		}
		return
	}
	if it.spec == cur.spec {
		r.next = it
		return
	}
	switch {
	case r.state == StateUnloaded || r.state == StateFailed:
		r.item, r.next = it, nil
		if r.state == StateFailed {
			// New file or settings: the old failure no longer applies.
			r.state, r.err = StateUnloaded, nil
		}
	case r.state == StateLoading && r.admitting:
		r.item = it // not started yet: plan with the new estimate
	default:
		m.log.Info("model settings changed; reloading once its requests finish", "model", r.name())
		r.next = it
		r.drain = true
		if r.state == StateLoaded && r.leases == 0 {
			m.beginUnload(r)
		}
	}
}

func (m *Manager) remove(r *runner) {
	r.removed = true
	m.cancelTimer(r)
	switch r.state {
	case StateUnloaded, StateFailed:
		for _, w := range r.waiters {
			w.ch <- acquireResult{err: &NotFoundError{Name: r.name()}}
		}
		r.waiters = nil
		return
	case StateLoading:
		if r.admitting {
			m.removePending(r)
			for _, w := range r.waiters {
				w.ch <- acquireResult{err: &NotFoundError{Name: r.name()}}
			}
			r.waiters = nil
			r.state = StateUnloaded
			return
		}
	}
	m.log.Info("model removed; unloading once its requests finish", "model", r.name())
	m.st.detached[r] = true
	if r.state == StateLoaded && r.leases == 0 {
		m.beginUnload(r)
	}
}

// snapshots returns the status of one model, or of all when name is "".
func (m *Manager) snapshots(name string) []snapshot {
	var rs []*runner
	if name != "" {
		if r := m.st.runners[name]; r != nil {
			rs = append(rs, r)
		}
	} else {
		rs = m.st.sortedRunners()
	}
	out := make([]snapshot, 0, len(rs))
	for _, r := range rs {
		e := r.item.Entry
		if r.next != nil {
			e = r.next.Entry
		}
		s := snapshot{Status: Status{
			Entry:       e,
			State:       r.state,
			MemoryBytes: total(r.place),
			Placement:   usage(r.place),
			LoadedAt:    r.loadedAt,
			ExpiresAt:   r.expiresAt,
		}}
		switch r.state {
		case StateLoading:
			s.Progress = math.Float32frombits(r.progress.Load())
			if s.MemoryBytes == 0 {
				s.MemoryBytes = r.item.est.Total
			}
		case StateLoaded:
			s.Progress = 1
			s.model = r.model
		case StateFailed:
			s.Error = r.err.Error()
		}
		out = append(out, s)
	}
	return out
}

// shutdown stops new work and unloads idle models; with force, models still
// serving requests are closed too.
func (m *Manager) shutdown(force bool) {
	m.st.closed = true
	for _, r := range m.allRunners() {
		for _, w := range r.waiters {
			w.ch <- acquireResult{err: ErrClosed}
		}
		r.waiters = nil
		m.removePending(r)
		if r.state == StateLoading && r.admitting {
			r.state = StateUnloaded
		}
		if r.state == StateLoaded && (r.leases == 0 || force) {
			m.beginUnload(r)
		}
	}
	m.checkDrained()
}

// checkDrained closes st.drained once shutting down and nothing is loaded.
func (m *Manager) checkDrained() {
	select {
	case <-m.st.drained:
		return
	default:
	}
	for _, r := range m.allRunners() {
		if r.state == StateLoading || r.state == StateLoaded || r.state == StateUnloading {
			return
		}
	}
	close(m.st.drained)
}
