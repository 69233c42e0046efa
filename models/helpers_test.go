package models

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/engine/gguf"
	"github.com/ggufd/ggufd/internal/sharedtest"
)

// copyModel copies a shared test model into dir under name.
func copyModel(t *testing.T, src, dir, name string) string {
	t.Helper()
	in, err := os.Open(sharedtest.Model(t, src))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, name)
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// fakeModel stands in for *engine.Model in fast tests.
type fakeModel struct {
	path   string
	opts   engine.LoadOptions
	closed atomic.Bool
}

func (f *fakeModel) Info() engine.Info {
	return engine.Info{Path: f.path, ContextLength: f.opts.ContextLength, Parallel: f.opts.Parallel, MemoryBytes: 1 << 20}
}
func (f *fakeModel) Stats() engine.Stats { return engine.Stats{Slots: f.opts.Parallel} }
func (f *fakeModel) Close() error {
	if f.closed.Swap(true) {
		return errors.New("closed twice")
	}
	return nil
}

// loadCounter wraps a Loader, counting loads per model file and optionally
// holding each load until gate is closed.
type loadCounter struct {
	next  Loader
	mu    sync.Mutex
	loads map[string]int
	opts  map[string]engine.LoadOptions
	gate  chan struct{}
}

func newLoadCounter(next Loader) *loadCounter {
	return &loadCounter{next: next, loads: map[string]int{}, opts: map[string]engine.LoadOptions{}}
}

func (c *loadCounter) load(ctx context.Context, path string, opts engine.LoadOptions) (LoadedModel, error) {
	c.mu.Lock()
	c.loads[filepath.Base(path)]++
	c.opts[filepath.Base(path)] = opts
	gate := c.gate
	c.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return c.next(ctx, path, opts)
}

func (c *loadCounter) count(file string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loads[file]
}

func (c *loadCounter) lastOpts(file string) engine.LoadOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opts[file]
}

// fakeLoad validates the file as the engine would (a truncated GGUF fails)
// and returns a fakeModel.
func fakeLoad(ctx context.Context, path string, opts engine.LoadOptions) (LoadedModel, error) {
	if _, err := gguf.Open(path); err != nil {
		return nil, &engine.LoadError{Path: path, Err: err}
	}
	if opts.Progress != nil {
		opts.Progress(0.5)
		opts.Progress(1)
	}
	return &fakeModel{path: path, opts: opts}, nil
}

// backends are the loaders every lifecycle test runs against: a fake for
// speed, and the real engine (skipped while engine.Load is a skeleton).
var backends = []struct {
	name string
	load Loader
}{
	{"fake", fakeLoad},
	{"engine", EngineLoader},
}

var engineCheck struct {
	once sync.Once
	err  error
}

// requireBackend skips engine subtests when engine.Load cannot load a
// known-good model yet.
func requireBackend(t *testing.T, name string) {
	t.Helper()
	if name != "engine" {
		return
	}
	engineCheck.once.Do(func() {
		m, err := engine.Load(context.Background(), sharedtest.Model(t, "stories260K.gguf"), engine.LoadOptions{ContextLength: 128, Parallel: 1})
		if err == nil {
			m.Close()
		}
		engineCheck.err = err
	})
	if engineCheck.err != nil {
		if strings.Contains(engineCheck.err.Error(), "not implemented") {
			t.Skipf("engine.Load not implemented yet: %v", engineCheck.err)
		}
		t.Fatalf("engine cannot load stories260K.gguf: %v", engineCheck.err)
	}
}

// env is a manager on a temporary folder with a config file.
type env struct {
	t       *testing.T
	dir     string // config folder
	models  string // models_dir
	cfgPath string
	m       *Manager
	loads   *loadCounter
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newEnv writes config (with models_dir: models prepended) into a temp
// folder after setup has put model files in place, then starts a manager.
func newEnv(t *testing.T, load Loader, cfgBody string, setup func(models string), opts ...Option) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.models = filepath.Join(e.dir, "models")
	if err := os.MkdirAll(e.models, 0o755); err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(e.models)
	}
	e.cfgPath = filepath.Join(e.dir, "ggufd.yaml")
	e.writeConfig(cfgBody)
	cfg, err := config.Load(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	e.loads = newLoadCounter(load)
	opts = append([]Option{WithLoader(e.loads.load), WithDebounce(50 * time.Millisecond)}, opts...)
	e.m, err = New(cfg, e.cfgPath, testLogger(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	startUntilCleanup(t, e.m)
	return e
}

// startUntilCleanup starts m and closes it when the test ends.
func startUntilCleanup(t *testing.T, m *Manager) {
	t.Helper()
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// writeConfig replaces the config the way editors do: write a temporary
// file, then rename it over the config.
func (e *env) writeConfig(body string) {
	e.t.Helper()
	tmp := filepath.Join(e.dir, ".ggufd.yaml.tmp")
	if err := os.WriteFile(tmp, []byte("models_dir: models\n"+body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, e.cfgPath); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) acquire(name string) *Lease {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := e.m.Acquire(ctx, name)
	if err != nil {
		e.t.Fatalf("Acquire(%s): %v", name, err)
	}
	return l
}

func (e *env) state(name string) State {
	e.t.Helper()
	s, err := e.m.Status(name)
	if err != nil {
		e.t.Fatalf("Status(%s): %v", name, err)
	}
	return s.State
}

// pending reports whether name's load waits for memory or a model slot.
func (e *env) pending(name string) bool {
	e.t.Helper()
	var p bool
	e.m.call(func() {
		r := e.m.st.runners[name]
		p = r != nil && r.admitting
	})
	return p
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fixedEstimate pins every model's estimate, for memory tests.
func fixedEstimate(total uint64) Option {
	return WithEstimator(func(string, gguf.EstimateParams) (gguf.Estimate, error) {
		return gguf.Estimate{Weights: total / 2, Total: total}, nil
	})
}

// plentyOfMemory makes admission independent of the test machine.
func plentyOfMemory() Option {
	return WithMemoryProbe(func() (Memory, error) { return Memory{Total: 1 << 40, Available: 1 << 40}, nil })
}

// testConfig is the no-file default configuration serving dir.
func testConfig(dir string) *config.Config {
	c := config.Default()
	c.ModelsDir = dir
	return c
}

// edit writes config (as writeConfig) and reloads it at once, without
// waiting for the watcher.
func (e *env) edit(body string) {
	e.t.Helper()
	e.writeConfig(body)
	if err := e.m.Reload(context.Background()); err != nil {
		e.t.Fatalf("Reload: %v", err)
	}
}

// acquireAsync asks for name in its own goroutine; the answer arrives on
// the channel. At the end of the test (before the manager closes, which
// would wait for it) the request stops waiting, and a lease the test did
// not take is released.
func (e *env) acquireAsync(name string) <-chan acquireResult {
	ch := make(chan acquireResult, 1)
	sent := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		l, err := e.m.Acquire(ctx, name)
		ch <- acquireResult{lease: l, err: err}
		close(sent)
	}()
	e.t.Cleanup(func() {
		cancel()
		<-sent
		select {
		case res := <-ch:
			if res.lease != nil {
				res.lease.Release()
			}
		default: // the test took it
		}
	})
	return ch
}

// waiting is how many requests wait for name's model to (re)load.
func (e *env) waiting(name string) (n int) {
	e.t.Helper()
	e.onRunner(name, func(r *runner) { n = len(r.waiters) })
	return n
}

// unloadAsked reports whether an admin Unload of name waits for it.
func (e *env) unloadAsked(name string) (asked bool) {
	e.t.Helper()
	e.onRunner(name, func(r *runner) { asked = len(r.unloadWait) > 0 })
	return asked
}

// onRunner runs f on the manager's loop with name's runner, if it has one.
func (e *env) onRunner(name string, f func(*runner)) {
	e.m.call(func() {
		if r := e.m.st.runners[name]; r != nil {
			f(r)
		}
	})
}

// withAfterWatchReload runs f in the watcher after each reload it makes,
// before it sets up its watches again.
func withAfterWatchReload(f func()) Option {
	return func(o *options) { o.afterWatchReload = f }
}
