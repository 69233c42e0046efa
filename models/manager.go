// Package models keeps the catalog of servable models and their lifecycle:
// it discovers GGUF files, applies config edits live, loads a model on first
// use, unloads it when idle, and admits a load only when it fits in memory,
// unloading the least recently used idle models to make room.
//
// One goroutine (the manager loop) owns every model's state; public methods
// and background work (loads, unloads, timers) send it closures to run.
// Nothing slow runs on the loop: loads and unloads happen in their own
// goroutines and report back, and file reads happen before a reload's
// result is handed to the loop. Reloads take turns (see reloadTurn), so
// that they apply configs, and run the OnConfig hooks, in the order the
// file was read.
package models

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine"
)

// State is where a model is in its lifecycle.
type State string

// Model states.
const (
	StateUnloaded  State = "unloaded"
	StateLoading   State = "loading" // includes waiting for memory or for evictions
	StateLoaded    State = "loaded"
	StateUnloading State = "unloading"
	StateFailed    State = "failed" // the last load failed; Error says why
)

// Status is a model's entry with its runtime state.
type Status struct {
	Entry
	State       State
	Progress    float32 // load progress in [0,1] while loading
	Error       string  // why the last load failed (state failed)
	MemoryBytes uint64  // held while loaded (all devices); the estimate while loading
	// Placement is where the model is (planned, while loading): layers and
	// bytes on the CPU and on each GPU that holds part of it.
	Placement  []DeviceUsage
	BusySlots  int
	QueueDepth int
	// Threads the model's last decode step ran on, of MaxThreads, and why
	// (the engine lowers the count while other processes compete for cores).
	Threads       int
	MaxThreads    int
	ThreadsReason string
	// Decode steps since the load, and those on fewer threads than
	// MaxThreads (while other processes competed).
	DecodeSteps, FewerThreadSteps uint64
	// Engine counts since the model loaded: requests run, prompt tokens
	// decoded (prompt-cache hits excluded, so against the billed prompt
	// tokens they show what the cache saves), tokens generated, images
	// run through the vision encoder.
	Requests, PromptTokensDecoded, TokensGenerated, ImagesEncoded uint64
	LoadedAt                                                      time.Time
	ExpiresAt                                                     time.Time // when it unloads if it stays idle; zero: not scheduled
}

// Manager serves the models of a configuration. Create it with New, call
// Start, and Close it when done.
type Manager struct {
	log               *slog.Logger
	configPath        string
	modelsDirOverride string
	opts              options

	ops  chan func()
	quit chan struct{} // closed to stop the loop
	done chan struct{} // closed when the loop has stopped

	// loadCtx is cancelled when Close gives up waiting, to abort loads.
	loadCtx     context.Context
	cancelLoads context.CancelFunc

	catalog atomic.Pointer[catalog]

	// reloadTurn holds a token while a reload runs, from reading the file
	// to the last OnConfig hook: with reloads at once (the file watcher's
	// and POST /admin/reload), one that read the file earlier would
	// otherwise apply it, or run the hooks with it, after one that read it
	// later, leaving the old config in force; and the hooks, which keep
	// state of their own, would run concurrently. A channel rather than a
	// mutex, so a reload waiting for its turn still ends with its context
	// or with Close.
	reloadTurn chan struct{}
	builder    *catalogBuilder // used only while holding reloadTurn
	baseCfg    *config.Config  // the config used when there is no config file; set by New only

	watchersMu   sync.Mutex
	watchers     []func(*config.Config)                   // see OnConfig
	loadWatchers []func(model string, took time.Duration) // see OnLoad

	watchCancel context.CancelFunc
	watchDone   chan struct{}
	watchReady  chan struct{}
	startOnce   sync.Once
	closeOnce   sync.Once

	// st is owned by the loop goroutine.
	st loopState
}

type loopState struct {
	cfg      *config.Config
	runners  map[string]*runner // by model name, the current catalog
	detached map[*runner]bool   // removed from the catalog, still unloading
	pending  []*runner          // loads waiting for memory or a model slot
	closed   bool
	drained  chan struct{} // closed once closed and every model is unloaded
}

// New creates a manager for cfg. configPath is the file cfg came from ("" if
// none); hot reload re-reads it. New does not touch the models folder: Start
// does.
func New(cfg *config.Config, configPath string, logger *slog.Logger, opts ...Option) (*Manager, error) {
	if cfg == nil {
		return nil, errors.New("models: nil config")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := options{
		loader:   EngineLoader,
		probe:    SystemMemory,
		estimate: ggufEstimate,
		clock:    realClock{},
		debounce: 150 * time.Millisecond,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if configPath != "" {
		abs, err := filepath.Abs(configPath)
		if err != nil {
			return nil, fmt.Errorf("models: config path: %w", err)
		}
		configPath = abs
	}
	if o.modelsDir != "" {
		c := *cfg
		c.ModelsDir = o.modelsDir
		cfg = &c
	}
	cfg, err := absolutePaths(cfg)
	if err != nil {
		return nil, err
	}
	var modelsDirOverride string
	if o.modelsDir != "" {
		modelsDirOverride = cfg.ModelsDir // absolute now; reloads keep it
	}
	m := &Manager{
		modelsDirOverride: modelsDirOverride,
		log:               logger,
		configPath:        configPath,
		opts:              o,
		ops:               make(chan func(), 64),
		quit:              make(chan struct{}),
		done:              make(chan struct{}),
		reloadTurn:        make(chan struct{}, 1),
		builder:           newCatalogBuilder(o.estimate),
		baseCfg:           cfg,
		st: loopState{
			cfg:      cfg,
			runners:  map[string]*runner{},
			detached: map[*runner]bool{},
			drained:  make(chan struct{}),
		},
	}
	m.loadCtx, m.cancelLoads = context.WithCancel(context.Background())
	m.catalog.Store(newCatalog(nil, nil))
	go m.loop()
	return m, nil
}

// absolutePaths returns cfg with ModelsDir (and the files of its models)
// absolute: Default() leaves them relative to the working directory.
func absolutePaths(cfg *config.Config) (*config.Config, error) {
	c := *cfg
	dir, err := filepath.Abs(c.ModelsDir)
	if err != nil {
		return nil, fmt.Errorf("models: models_dir: %w", err)
	}
	c.ModelsDir = dir
	c.Models = append([]config.Model(nil), cfg.Models...)
	for i := range c.Models {
		if c.Models[i].File != "" && !filepath.IsAbs(c.Models[i].File) {
			c.Models[i].File = filepath.Join(dir, c.Models[i].File)
		}
	}
	return &c, nil
}

func (m *Manager) loop() {
	defer close(m.done)
	for {
		select {
		case f := <-m.ops:
			f()
			if m.st.closed {
				m.checkDrained()
			}
		case <-m.quit:
			return
		}
	}
}

// send queues f to run on the loop; false once the loop has stopped.
func (m *Manager) send(f func()) bool {
	select {
	case m.ops <- f:
		return true
	case <-m.done:
		return false
	}
}

// call runs f on the loop and waits for it; false if the loop stopped first.
func (m *Manager) call(f func()) bool {
	ran := make(chan struct{})
	if !m.send(func() { f(); close(ran) }) {
		return false
	}
	select {
	case <-ran:
		return true
	case <-m.done:
		select {
		case <-ran:
			return true
		default:
			return false
		}
	}
}

// Start prepares the models folder (writing the demo model when it holds no
// GGUF file), reads the catalog, starts preloads and the file watcher.
func (m *Manager) Start(ctx context.Context) error {
	err := errors.New("models: Start called twice")
	m.startOnce.Do(func() { err = m.start(ctx) })
	return err
}

func (m *Manager) start(ctx context.Context) error {
	cfg := m.currentConfig()
	if err := os.MkdirAll(cfg.ModelsDir, 0o755); err != nil {
		return fmt.Errorf("models: create models_dir: %w", err)
	}
	if err := m.ensureDemo(cfg); err != nil {
		// Not fatal: the server still starts and says how to add models.
		m.log.Warn("could not write the demo model", "dir", cfg.ModelsDir, "err", err)
	}

	// Watch before the first scan so that no change falls in between.
	wctx, cancel := context.WithCancel(context.Background())
	m.watchCancel = cancel
	m.watchDone = make(chan struct{})
	m.watchReady = make(chan struct{})
	if w, err := fsnotify.NewWatcher(); err != nil {
		m.log.Error("cannot watch for config and model changes; use the reload endpoint", "err", err)
		close(m.watchDone)
	} else {
		go m.watch(wctx, w, cfg)
		<-m.watchReady
	}
	if err := m.firstReload(ctx); err != nil {
		return err
	}

	for _, e := range m.Entries() {
		if !e.Model.Preload {
			continue
		}
		go func(name string) {
			if err := m.Load(m.loadCtx, name); err != nil {
				m.log.Error("preload failed", "model", name, "err", err)
			}
		}(e.Name)
	}
	return nil
}

// firstReload reads the catalog at Start, falling back on the config given
// to New, in one turn so that a reload of the watcher cannot come between.
func (m *Manager) firstReload(ctx context.Context) error {
	if err := m.takeReloadTurn(ctx); err != nil {
		return err
	}
	defer m.endReloadTurn()
	err := m.reload()
	if err == nil || m.configPath == "" {
		return err
	}
	// The file was parsed by the caller before New; failing now means it
	// changed in between, or a model of it can never fit in memory
	// (checked here, not by config.Parse). Serve the one we were given
	// unless that fails too.
	if aerr := m.apply(m.baseCfg); aerr != nil {
		return aerr
	}
	m.log.Error("config not applied; serving the one given at startup", "err", err)
	return nil
}

// ensureDemo writes the demo model when models_dir has no GGUF and the
// config names none, so a first run has something to talk to.
func (m *Manager) ensureDemo(cfg *config.Config) error {
	if len(cfg.Models) > 0 || cfg.ConfiguredOnly {
		return nil // with configured_only the demo would not be served
	}
	has, err := hasGGUF(cfg.ModelsDir)
	if err != nil || has {
		return err
	}
	path := filepath.Join(cfg.ModelsDir, DemoName+".gguf")
	if err := writeDemoModel(path); err != nil {
		return err
	}
	m.log.Info("no GGUF files found: wrote a demo model with random weights (its output is gibberish); put real GGUF files in the models folder to serve them",
		"models_dir", cfg.ModelsDir, "demo", path)
	return nil
}

func (m *Manager) currentConfig() *config.Config {
	var c *config.Config
	if !m.call(func() { c = m.st.cfg }) {
		return m.baseCfg
	}
	return c
}

// Reload re-reads the config file (when there is one) and models_dir and
// applies the result. An invalid config is not applied: the last good one
// keeps serving and the error is returned. Reloads run one at a time, in
// turn; ctx bounds the wait for this one's turn.
func (m *Manager) Reload(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.takeReloadTurn(ctx); err != nil {
		return err
	}
	defer m.endReloadTurn()
	return m.reload()
}

// takeReloadTurn waits until no other reload runs; endReloadTurn lets the
// next one run.
func (m *Manager) takeReloadTurn(ctx context.Context) error {
	select {
	case m.reloadTurn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("reload: waiting for the reload before it: %w", ctx.Err())
	case <-m.done:
		return ErrClosed
	}
}

func (m *Manager) endReloadTurn() { <-m.reloadTurn }

// reload is Reload in the caller's turn: the file is read in the turn too,
// so the last reload to apply is the last to have read it.
func (m *Manager) reload() error {
	cfg := m.baseCfg
	if m.configPath != "" {
		c, err := config.Load(m.configPath)
		if err != nil {
			// Keep the last good config, but still pick up GGUF files
			// added to or removed from models_dir.
			if aerr := m.apply(m.currentConfig()); aerr != nil {
				return aerr
			}
			return fmt.Errorf("reload config: %w", err)
		}
		for _, w := range c.Warnings {
			m.log.Warn("config", "warning", w.Error())
		}
		if m.modelsDirOverride != "" {
			c.ModelsDir = m.modelsDirOverride
		}
		cfg = c
	}
	if err := m.apply(cfg); err != nil {
		return err
	}
	m.watchersMu.Lock()
	watchers := m.watchers
	m.watchersMu.Unlock()
	for _, f := range watchers {
		f(cfg)
	}
	return nil
}

// OnConfig registers f to be called with every configuration a reload
// applies, so the parts of the daemon that own other settings (the HTTP
// server's limits) follow edits of the file too. A config that fails
// validation is never passed. f runs on the reloading goroutine, in that
// reload's turn: hooks are never called concurrently, and see the configs
// in the order they were applied. f may call the manager's other methods,
// but must not block or call Reload, which would wait for f's own turn.
func (m *Manager) OnConfig(f func(*config.Config)) {
	m.watchersMu.Lock()
	defer m.watchersMu.Unlock()
	m.watchers = append(m.watchers, f)
}

// OnLoad registers f to be called after every load that succeeds, with how
// long it took (reading the file, placing it, warming it up), so the HTTP
// server's metrics can show load times. f runs on the manager's goroutine
// and must not block.
func (m *Manager) OnLoad(f func(model string, took time.Duration)) {
	m.watchersMu.Lock()
	defer m.watchersMu.Unlock()
	m.loadWatchers = append(m.loadWatchers, f)
}

// apply installs cfg and the models folder as they are now, unless a model
// of cfg can never fit in memory. The caller holds the reload turn.
func (m *Manager) apply(cfg *config.Config) error {
	items, variants, warnings := m.builder.build(cfg)
	if err := m.checkMemory(cfg, items); err != nil {
		return err
	}
	for _, w := range warnings {
		m.log.Warn("models", "warning", w)
	}
	if !m.call(func() { m.applyLoop(cfg, items, variants) }) {
		return ErrClosed
	}
	return nil
}

// Config returns the configuration in force (the last one applied).
func (m *Manager) Config() *config.Config { return m.currentConfig() }

// Lookup resolves a model name or alias without loading it.
func (m *Manager) Lookup(name string) (Entry, error) {
	return m.catalog.Load().lookup(name)
}

// Entries lists every configured and discovered model, sorted by name.
func (m *Manager) Entries() []Entry {
	return append([]Entry(nil), m.catalog.Load().entries...)
}

// Lease is a loaded model kept loaded until Release.
type Lease struct {
	m     *Manager
	r     *runner
	model LoadedModel
	entry Entry
	once  sync.Once
	// keepAlive is a client's keep_alive, applied at Release.
	keepAlive atomic.Pointer[config.Duration]
}

// Model returns the engine model (nil when a test loader returned a fake;
// see Loaded).
func (l *Lease) Model() *engine.Model {
	em, _ := l.model.(*engine.Model)
	return em
}

// Loaded returns the model as the loader returned it.
func (l *Lease) Loaded() LoadedModel { return l.model }

// Entry returns the model's settings as loaded.
func (l *Lease) Entry() Entry { return l.entry }

// SetKeepAlive records a keep_alive the client asked for: from this lease's
// release on, the model stays loaded that long when idle (capped by
// max_keep_alive; negative: never unload; 0: unload when idle) instead of its
// configured keep_alive, until it is unloaded. Call it before Release.
func (l *Lease) SetKeepAlive(d time.Duration) {
	v := config.Duration(d)
	if d < 0 {
		v = config.Never
	}
	l.keepAlive.Store(&v)
}

// Release gives the model back. The keep-alive timer starts when the last
// lease of a model is released. Calling it more than once is harmless.
func (l *Lease) Release() {
	l.once.Do(func() {
		// The keep-alive counts from the end of the request, not from
		// whenever the manager gets to the release.
		ka, at := l.keepAlive.Load(), l.m.opts.clock.Now()
		l.m.send(func() { l.m.release(l.r, at, ka) })
	})
}

type acquireResult struct {
	lease *Lease
	err   error
}

type waiter struct {
	ch    chan acquireResult // buffered: the loop never blocks on it
	r     *runner
	entry Entry // what was asked for: a variant is served by its base's runner
}

// Acquire returns the named model loaded, loading it first if needed.
// Concurrent first requests share one load, and so do the variants of one
// base: they acquire the base's instance. Cancelling ctx stops waiting but
// not the load, which later requests will use.
func (m *Manager) Acquire(ctx context.Context, name string) (*Lease, error) {
	e, err := m.Lookup(name)
	if err != nil {
		return nil, err
	}
	w := &waiter{ch: make(chan acquireResult, 1), entry: e}
	if !m.send(func() { m.acquire(e.Instance(), w) }) {
		return nil, ErrClosed
	}
	select {
	case res := <-w.ch:
		return res.lease, res.err
	case <-m.done:
		return nil, ErrClosed
	case <-ctx.Done():
	}
	var dropped bool
	m.call(func() { dropped = m.dropWaiter(w) })
	if !dropped {
		// The result was sent before the waiter could be removed.
		select {
		case res := <-w.ch:
			if res.lease != nil {
				res.lease.Release()
			}
		default:
		}
	}
	return nil, ctx.Err()
}

// Load loads a model now (admin, preload) and starts its keep-alive.
func (m *Manager) Load(ctx context.Context, name string) error {
	l, err := m.Acquire(ctx, name)
	if err != nil {
		return err
	}
	l.Release()
	return nil
}

// Unload unloads a model once its in-flight requests finish (admin).
// Requests that arrive meanwhile wait and load it again afterwards.
func (m *Manager) Unload(ctx context.Context, name string) error {
	e, err := m.Lookup(name)
	if err != nil {
		return err
	}
	var done chan struct{}
	if !m.call(func() { done, err = m.unloadRequest(e.Instance()) }) {
		return ErrClosed
	}
	if err != nil || done == nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-m.done:
		return ErrClosed
	}
}

// Statuses reports every model of the catalog, sorted by name; a variant
// has the runtime state of its base's instance.
func (m *Manager) Statuses() []Status {
	var snaps []snapshot
	if !m.call(func() { snaps = m.snapshots("") }) {
		return nil
	}
	byInstance := make(map[string]snapshot, len(snaps))
	for _, s := range snaps {
		byInstance[s.Name] = s
	}
	for _, e := range m.Entries() {
		if s, ok := byInstance[e.Instance()]; ok && e.Instance() != e.Name {
			s.Entry = e
			snaps = append(snaps, s)
		}
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].Name < snaps[j].Name })
	return finishSnapshots(snaps)
}

// Status reports one model (by name or alias).
func (m *Manager) Status(name string) (Status, error) {
	e, err := m.Lookup(name)
	if err != nil {
		return Status{}, err
	}
	var snaps []snapshot
	if !m.call(func() { snaps = m.snapshots(e.Instance()) }) {
		return Status{}, ErrClosed
	}
	if len(snaps) == 0 {
		return Status{}, &NotFoundError{Name: name}
	}
	if e.Instance() != e.Name {
		snaps[0].Entry = e
	}
	return finishSnapshots(snaps)[0], nil
}

type snapshot struct {
	Status
	model LoadedModel
}

// finishSnapshots asks loaded models for their slot statistics outside the
// loop: an engine may take a moment to answer while it decodes.
func finishSnapshots(snaps []snapshot) []Status {
	out := make([]Status, len(snaps))
	for i, s := range snaps {
		if s.model != nil {
			st := s.model.Stats()
			s.BusySlots, s.QueueDepth = st.BusySlots, st.QueueDepth
			s.Threads, s.MaxThreads, s.ThreadsReason = st.Threads, st.MaxThreads, st.ThreadsReason
			s.DecodeSteps, s.FewerThreadSteps = st.DecodeSteps, st.FewerThreadSteps
			s.Requests, s.PromptTokensDecoded, s.TokensGenerated, s.ImagesEncoded = st.Requests, st.TokensIn, st.TokensOut, st.ImagesIn
		}
		out[i] = s.Status
	}
	return out
}

// Close stops watching, then unloads every model once its in-flight work
// ends. When ctx ends first, models are closed anyway (their requests are
// cancelled) and ctx's error is returned.
func (m *Manager) Close(ctx context.Context) error {
	err := ErrClosed
	m.closeOnce.Do(func() { err = m.close(ctx) })
	return err
}

func (m *Manager) close(ctx context.Context) error {
	if m.watchCancel != nil {
		m.watchCancel()
		<-m.watchDone
	}
	var drained chan struct{}
	m.call(func() {
		m.shutdown(false)
		drained = m.st.drained
	})
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = ctx.Err()
		m.log.Warn("shutdown timeout: closing models with requests still running")
		m.cancelLoads()
		m.call(func() { m.shutdown(true) })
		select {
		case <-drained:
		case <-time.After(10 * time.Second):
			m.log.Error("models did not close in time")
		}
	}
	m.cancelLoads()
	close(m.quit)
	<-m.done
	return err
}

// sortedRunners returns the catalog's runners sorted by name.
func (s *loopState) sortedRunners() []*runner {
	rs := make([]*runner, 0, len(s.runners))
	for _, r := range s.runners {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].item.Name < rs[j].item.Name })
	return rs
}
