package models

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/engine/gguf"
)

// twoModels puts stories260K.gguf and a copy of llama-2-tiny-random.gguf
// in the models folder.
func twoModels(models string, t *testing.T) {
	copyModel(t, "stories260K.gguf", models, "stories.gguf")
	copyModel(t, "llama-2-tiny-random.gguf", models, "tiny.gguf")
}

func TestDiscovery(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireBackend(t, b.name)
			e := newEnv(t, b.load, `
defaults:
  context: 1024
models:
  story-teller:
    file: stories.gguf
    aliases: [stories]
    description: Tiny stories
    parallel: 2
`, func(models string) {
				twoModels(models, t)
				copyModel(t, "stories260K-chatml.gguf", models, "chatml.GGUF")
				if err := os.WriteFile(filepath.Join(models, "notes.txt"), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			})
			entries := e.m.Entries()
			var names []string
			for _, en := range entries {
				names = append(names, en.Name)
			}
			if got, want := strings.Join(names, ","), "chatml,story-teller,tiny"; got != want {
				t.Fatalf("entries = %s, want %s", got, want)
			}
			st, err := e.m.Lookup("stories")
			if err != nil || st.Name != "story-teller" || st.Discovered || st.Model.Description != "Tiny stories" {
				t.Errorf("Lookup(alias) = %+v, %v", st, err)
			}
			// stories260K was trained on 2048 tokens: the context follows
			// the file, capped at defaults.context.
			if st.ContextLength != 1024 || st.Model.Parallel != 2 {
				t.Errorf("context %d parallel %d, want 1024, 2", st.ContextLength, st.Model.Parallel)
			}
			tiny, err := e.m.Lookup("tiny")
			if err != nil || !tiny.Discovered || tiny.Model.Parallel != 4 || tiny.ContextLength != 1024 {
				t.Errorf("discovered entry = %+v, %v", tiny, err)
			}
			if tiny.Created.IsZero() {
				t.Error("Created not set")
			}
			_, err = e.m.Lookup("story-teler")
			var nf *NotFoundError
			if !errors.As(err, &nf) || len(nf.Suggestions) == 0 || nf.Suggestions[0] != "story-teller" {
				t.Errorf("Lookup(typo) = %v, want NotFoundError suggesting story-teller", err)
			}
			if _, err := e.m.Lookup("STORIES"); err != nil {
				t.Errorf("case-insensitive lookup: %v", err)
			}
			for _, s := range e.m.Statuses() {
				if s.State != StateUnloaded {
					t.Errorf("%s is %s before any request", s.Name, s.State)
				}
			}
			// Loading maps the settings to the engine.
			l := e.acquire("stories")
			defer l.Release()
			if l.Entry().Name != "story-teller" {
				t.Errorf("lease entry %s", l.Entry().Name)
			}
			o := e.loads.lastOpts("stories.gguf")
			if o.ContextLength != 1024 || o.Parallel != 2 || o.QueueDepth != 64 {
				t.Errorf("load options %+v", o)
			}
			if b.name == "engine" {
				if l.Model() == nil || l.Model().Info().ContextLength != 1024 {
					t.Errorf("engine model not returned or wrong context")
				}
			}
		})
	}
}

func TestLazyLoadOnce(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireBackend(t, b.name)
			e := newEnv(t, b.load, "", func(models string) { twoModels(models, t) })
			e.loads.mu.Lock()
			e.loads.gate = make(chan struct{})
			gate := e.loads.gate
			e.loads.mu.Unlock()

			const n = 8
			var wg sync.WaitGroup
			leases := make([]*Lease, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					leases[i], errs[i] = e.m.Acquire(context.Background(), "stories")
				}()
			}
			waitFor(t, 5*time.Second, "state loading", func() bool { return e.state("stories") == StateLoading })
			close(gate)
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("Acquire %d: %v", i, errs[i])
				}
				if leases[i].Loaded() != leases[0].Loaded() {
					t.Error("leases hold different models")
				}
			}
			if c := e.loads.count("stories.gguf"); c != 1 {
				t.Errorf("%d loads for %d concurrent first requests, want 1", c, n)
			}
			if c := e.loads.count("tiny.gguf"); c != 0 {
				t.Errorf("tiny loaded %d times without a request", c)
			}
			s, _ := e.m.Status("stories")
			if s.State != StateLoaded || s.Progress != 1 || s.MemoryBytes == 0 || s.LoadedAt.IsZero() {
				t.Errorf("status %+v", s)
			}
			for _, l := range leases {
				l.Release()
				l.Release() // twice is harmless
			}
		})
	}
}

func TestIdleUnload(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireBackend(t, b.name)
			clock := newManualClock()
			e := newEnv(t, b.load, "keep_alive: 300ms\n", func(models string) { twoModels(models, t) }, WithClock(clock))
			l := e.acquire("stories")
			fm, _ := l.Loaded().(*fakeModel)
			// Held well past keep_alive: never unloaded under a lease.
			clock.Advance(time.Hour)
			if s := e.state("stories"); s != StateLoaded {
				t.Fatalf("state %s while a lease is held, want loaded", s)
			}
			released := clock.Now()
			l.Release()
			s, _ := e.m.Status("stories")
			if want := released.Add(300 * time.Millisecond); !s.ExpiresAt.Equal(want) {
				t.Errorf("ExpiresAt %v after release, want %v", s.ExpiresAt, want)
			}
			clock.Advance(299 * time.Millisecond)
			if s := e.state("stories"); s != StateLoaded {
				t.Fatalf("state %s 299ms after release, keep_alive is 300ms", s)
			}
			clock.Advance(time.Millisecond)
			waitFor(t, 5*time.Second, "idle unload", func() bool { return e.state("stories") == StateUnloaded })
			if fm != nil && !fm.closed.Load() {
				t.Error("model not closed")
			}
			// The next request loads it again.
			e.acquire("stories").Release()
			if c := e.loads.count("stories.gguf"); c != 2 {
				t.Errorf("%d loads, want 2", c)
			}
		})
	}
}

func TestKeepAliveZeroAndNever(t *testing.T) {
	clock := newManualClock()
	e := newEnv(t, fakeLoad, `
keep_alive: 0
models:
  stories: {file: stories.gguf}
  tiny: {file: tiny.gguf, keep_alive: -1}
`, func(models string) { twoModels(models, t) }, WithClock(clock))
	e.acquire("stories").Release()
	waitFor(t, 2*time.Second, "unload at once", func() bool { return e.state("stories") == StateUnloaded })
	e.acquire("tiny").Release()
	clock.Advance(365 * 24 * time.Hour)
	if s, _ := e.m.Status("tiny"); s.State != StateLoaded || !s.ExpiresAt.IsZero() {
		t.Errorf("keep_alive -1: %s expires %v", s.State, s.ExpiresAt)
	}
}

func TestLRUEviction(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireBackend(t, b.name)
			// Each model is estimated at 100MiB; the budget holds one.
			clock := newManualClock()
			e := newEnv(t, b.load, "memory_limit: 150MiB\nmemory_headroom: 0\n", func(models string) {
				twoModels(models, t)
				copyModel(t, "stories260K.gguf", models, "third.gguf")
			}, fixedEstimate(100<<20), plentyOfMemory(), WithClock(clock))

			e.acquire("stories").Release()
			clock.Advance(time.Second) // distinct last-use times
			// tiny does not fit next to stories: stories (idle) goes.
			e.acquire("tiny").Release()
			if s := e.state("stories"); s != StateUnloading && s != StateUnloaded {
				t.Errorf("stories is %s, want evicted", s)
			}
			waitFor(t, 5*time.Second, "stories unloaded", func() bool { return e.state("stories") == StateUnloaded })
			if s := e.state("tiny"); s != StateLoaded {
				t.Errorf("tiny is %s", s)
			}

			// A busy model is not evicted: the next load waits for it.
			hold := e.acquire("tiny")
			got := make(chan error, 1)
			go func() {
				l, err := e.m.Acquire(context.Background(), "third")
				if err == nil {
					l.Release()
				}
				got <- err
			}()
			waitFor(t, 5*time.Second, "third waiting for memory", func() bool { return e.pending("third") })
			if s := e.state("tiny"); s != StateLoaded {
				t.Fatalf("busy tiny is %s", s)
			}
			if s := e.state("third"); s != StateLoading {
				t.Errorf("third is %s while waiting for memory", s)
			}
			select {
			case err := <-got:
				t.Fatalf("Acquire(third) returned %v while tiny was busy", err)
			default:
			}
			hold.Release()
			select {
			case err := <-got:
				if err != nil {
					t.Fatalf("Acquire(third): %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("third never loaded after tiny was released")
			}
			waitFor(t, 5*time.Second, "tiny evicted", func() bool { return e.state("tiny") == StateUnloaded })
		})
	}
}

func TestInsufficientMemory(t *testing.T) {
	e := newEnv(t, fakeLoad, "memory_headroom: 1GiB\n", func(models string) { twoModels(models, t) },
		fixedEstimate(3<<30), WithMemoryProbe(func() (Memory, error) { return Memory{Total: 8 << 30, Available: 2 << 30}, nil }))
	_, err := e.m.Acquire(context.Background(), "stories")
	var im *InsufficientMemoryError
	if !errors.As(err, &im) || im.Needed != 3<<30 || im.Available != 1<<30 {
		t.Fatalf("err = %v, want InsufficientMemoryError needing 3GiB with 1GiB available", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "3GiB") || !strings.Contains(msg, "1GiB") {
		t.Errorf("message %q does not name both sizes", msg)
	}
	s, _ := e.m.Status("stories")
	if s.State != StateFailed || !strings.Contains(s.Error, "memory") {
		t.Errorf("status %s %q", s.State, s.Error)
	}
	if e.loads.count("stories.gguf") != 0 {
		t.Error("loader called for a model that cannot fit")
	}
}

func TestMaxLoadedModels(t *testing.T) {
	e := newEnv(t, fakeLoad, "max_loaded_models: 1\n", func(models string) { twoModels(models, t) }, plentyOfMemory())
	e.acquire("stories").Release()
	e.acquire("tiny").Release()
	waitFor(t, 2*time.Second, "stories evicted", func() bool { return e.state("stories") == StateUnloaded })
	if e.state("tiny") != StateLoaded {
		t.Error("tiny not loaded")
	}
}

func TestTruncatedModel(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireBackend(t, b.name)
			e := newEnv(t, b.load, "", func(models string) {
				twoModels(models, t)
				data, err := os.ReadFile(filepath.Join(models, "stories.gguf"))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(models, "broken.gguf"), data[:len(data)/2], 0o644); err != nil {
					t.Fatal(err)
				}
			})
			good := e.acquire("stories")
			defer good.Release()
			for range 2 { // the second Acquire retries and fails again
				_, err := e.m.Acquire(context.Background(), "broken")
				var lf *LoadFailedError
				if !errors.As(err, &lf) || lf.Model != "broken" || !errors.Is(err, gguf.ErrTruncated) {
					t.Fatalf("err = %v, want LoadFailedError with the reader's ErrTruncated", err)
				}
			}
			// The reader's error stands: the file never reaches llama.cpp,
			// where it would have loaded with a 0 B estimate.
			if c := e.loads.count("broken.gguf"); c != 0 {
				t.Errorf("%d load attempts of a file the reader refuses, want 0", c)
			}
			s, _ := e.m.Status("broken")
			if s.State != StateFailed || s.Error == "" {
				t.Errorf("status %s %q", s.State, s.Error)
			}
			if e.state("stories") != StateLoaded {
				t.Error("the good model was affected")
			}
			e.acquire("stories").Release()
		})
	}
}

func TestAcquireCancelKeepsLoading(t *testing.T) {
	e := newEnv(t, fakeLoad, "", func(models string) { twoModels(models, t) })
	e.loads.mu.Lock()
	e.loads.gate = make(chan struct{})
	gate := e.loads.gate
	e.loads.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := e.m.Acquire(ctx, "stories"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if e.state("stories") != StateLoading {
		t.Fatal("load stopped with the request")
	}
	close(gate)
	waitFor(t, 2*time.Second, "load finished", func() bool { return e.state("stories") == StateLoaded })
	e.acquire("stories").Release()
	if c := e.loads.count("stories.gguf"); c != 1 {
		t.Errorf("%d loads", c)
	}
}

func TestAdminLoadUnload(t *testing.T) {
	e := newEnv(t, fakeLoad, "", func(models string) { twoModels(models, t) })
	ctx := context.Background()
	if err := e.m.Load(ctx, "tiny"); err != nil {
		t.Fatal(err)
	}
	l := e.acquire("tiny")
	done := make(chan error, 1)
	go func() { done <- e.m.Unload(ctx, "tiny") }()
	waitFor(t, 5*time.Second, "unload requested", func() bool {
		var asked bool
		e.m.call(func() { asked = len(e.m.st.runners["tiny"].unloadWait) > 0 })
		return asked
	})
	// Requested with a request in flight: the model stays until it ends.
	if s := e.state("tiny"); s != StateLoaded {
		t.Fatalf("tiny is %s with a request in flight", s)
	}
	select {
	case err := <-done:
		t.Fatalf("Unload returned %v with a request in flight", err)
	default:
	}
	l.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if e.state("tiny") != StateUnloaded {
		t.Error("not unloaded")
	}
	if err := e.m.Unload(ctx, "nope"); err == nil {
		t.Error("Unload of an unknown model succeeded")
	}
}

// An admin Unload asked for while a load runs waits for that load; when the
// load fails nothing is loaded, so the Unload is done, whether the model is
// still in the catalog or a reload removed it meanwhile.
func TestUnloadDuringALoadThatFails(t *testing.T) {
	for _, tt := range []struct {
		name    string
		removed bool
	}{
		{"in the catalog", false},
		{"removed by a reload", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			failing := func(context.Context, string, engine.LoadOptions) (LoadedModel, error) {
				return nil, errors.New("out of memory (simulated)")
			}
			e := newEnv(t, failing, "", func(models string) { twoModels(models, t) }, plentyOfMemory(), WithDebounce(time.Hour))
			gate := make(chan struct{})
			e.loads.mu.Lock()
			e.loads.gate = gate
			e.loads.mu.Unlock()
			req := e.acquireAsync("stories")
			waitFor(t, 5*time.Second, "load started", func() bool { return e.loads.count("stories.gguf") == 1 })
			unloaded := make(chan error, 1)
			go func() { unloaded <- e.m.Unload(context.Background(), "stories") }()
			waitFor(t, 5*time.Second, "unload requested", func() bool { return e.unloadAsked("stories") })
			if tt.removed {
				if err := os.Remove(filepath.Join(e.models, "stories.gguf")); err != nil {
					t.Fatal(err)
				}
				if err := e.m.Reload(context.Background()); err != nil {
					t.Fatal(err)
				}
				if _, err := e.m.Lookup("stories"); err == nil {
					t.Fatal("stories still in the catalog after its file was removed")
				}
			}

			close(gate) // the load fails
			if res := <-req; res.err == nil {
				res.lease.Release()
				t.Fatal("the load did not fail")
			}
			select {
			case err := <-unloaded:
				if err != nil {
					t.Fatalf("Unload: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Unload still waits for a load that failed")
			}
			if !tt.removed {
				if s := e.state("stories"); s != StateFailed {
					t.Errorf("stories is %s, want %s", s, StateFailed)
				}
			}
		})
	}
}

func TestCloseWaitsForLeases(t *testing.T) {
	dir := t.TempDir()
	copyModel(t, "stories260K.gguf", dir, "stories.gguf")
	cfg := testConfig(dir)
	m, err := New(cfg, "", testLogger(t), WithLoader(fakeLoad))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := m.Acquire(context.Background(), "stories")
	if err != nil {
		t.Fatal(err)
	}
	fm := l.Loaded().(*fakeModel)
	closed := make(chan error, 1)
	go func() { closed <- m.Close(context.Background()) }()
	waitFor(t, 5*time.Second, "Close to stop new work", func() bool {
		var c bool
		m.call(func() { c = m.st.closed })
		return c
	})
	if s, err := m.Status("stories"); err != nil || s.State != StateLoaded {
		t.Fatalf("stories is %s (%v) under a lease during Close, want loaded", s.State, err)
	}
	if _, err := m.Acquire(context.Background(), "stories"); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire during Close: %v", err)
	}
	l.Release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if !fm.closed.Load() {
		t.Error("model not closed")
	}

	// A shutdown deadline closes models that are still busy.
	m2, _ := New(cfg, "", testLogger(t), WithLoader(fakeLoad))
	if err := m2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	l2, err := m2.Acquire(context.Background(), "stories")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := m2.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close past its deadline: %v", err)
	}
	if !l2.Loaded().(*fakeModel).closed.Load() {
		t.Error("busy model not closed at the deadline")
	}
	l2.Release()
}

// Several loads queued behind a busy model must not count each other as
// loaded, or they would wait for each other forever.
func TestQueuedLoadsProceedInTurn(t *testing.T) {
	e := newEnv(t, fakeLoad, "max_loaded_models: 1\n", func(models string) {
		twoModels(models, t)
		copyModel(t, "stories260K.gguf", models, "third.gguf")
	}, plentyOfMemory())
	hold := e.acquire("stories")
	errs := make(chan error, 2)
	for _, name := range []string{"tiny", "third"} {
		go func() {
			l, err := e.m.Acquire(context.Background(), name)
			if err == nil {
				l.Release()
			}
			errs <- err
		}()
	}
	waitFor(t, 5*time.Second, "both loads queued", func() bool { return e.pending("tiny") && e.pending("third") })
	hold.Release()
	for range 2 {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("queued loads never ran")
		}
	}
}

func TestClientKeepAlive(t *testing.T) {
	clock := newManualClock()
	e := newEnv(t, fakeLoad, "keep_alive: 1h\nmax_keep_alive: 300ms\n", func(models string) { twoModels(models, t) }, WithClock(clock))
	if e.m.Config().MaxKeepAlive.Std() != 300*time.Millisecond {
		t.Fatal("Config() does not return the config in force")
	}
	// A client's 0 unloads as soon as the request ends.
	l := e.acquire("stories")
	l.SetKeepAlive(0)
	l.Release()
	waitFor(t, 2*time.Second, "unload with keep_alive 0", func() bool { return e.state("stories") == StateUnloaded })

	// A client's "never" is capped by max_keep_alive (as is the config's 1h).
	l = e.acquire("tiny")
	l.SetKeepAlive(-1)
	l.Release()
	s, _ := e.m.Status("tiny")
	if d := s.ExpiresAt.Sub(clock.Now()); d != 300*time.Millisecond {
		t.Errorf("expires in %v, want max_keep_alive", d)
	}
	clock.Advance(300 * time.Millisecond)
	waitFor(t, 2*time.Second, "unload at max_keep_alive", func() bool { return e.state("tiny") == StateUnloaded })
}

// manualClock fires timers only when advanced.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	// The manager's timer functions only queue work for its loop, so they
	// run here: once Advance returns, any call through the loop (Status,
	// state) happens after the work of every timer that fired.
	for _, f := range due {
		f()
	}
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func TestKeepAliveWithClock(t *testing.T) {
	clock := newManualClock()
	e := newEnv(t, fakeLoad, "keep_alive: 5m\n", func(models string) { twoModels(models, t) }, WithClock(clock))
	e.acquire("stories").Release()
	// Release queues its work before Status's, so the expiry is set.
	if s, _ := e.m.Status("stories"); !s.ExpiresAt.Equal(clock.Now().Add(5 * time.Minute)) {
		t.Fatalf("expires at %v, want in 5 minutes", s.ExpiresAt)
	}
	clock.Advance(4 * time.Minute)
	if s := e.state("stories"); s != StateLoaded {
		t.Fatalf("%s after 4 of 5 minutes", s)
	}
	// A request in between restarts the countdown from its end.
	e.acquire("stories").Release()
	clock.Advance(2 * time.Minute)
	if s := e.state("stories"); s != StateLoaded {
		t.Fatalf("%s 2 minutes after the last request", s)
	}
	clock.Advance(3 * time.Minute)
	waitFor(t, 2*time.Second, "unload after keep_alive", func() bool { return e.state("stories") == StateUnloaded })
}
