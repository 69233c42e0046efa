package models

import (
	"context"
	"time"

	"github.com/shirou/gopsutil/v4/mem"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/engine/gguf"
)

// LoadedModel is what the manager itself needs from a loaded model.
// *engine.Model implements it; tests load fakes through WithLoader.
type LoadedModel interface {
	Info() engine.Info
	Stats() engine.Stats
	Close() error
}

// Loader loads the GGUF file at path.
type Loader func(ctx context.Context, path string, opts engine.LoadOptions) (LoadedModel, error)

// EngineLoader loads through engine.Load; it is the default Loader.
func EngineLoader(ctx context.Context, path string, opts engine.LoadOptions) (LoadedModel, error) {
	m, err := engine.Load(ctx, path, opts)
	if err != nil {
		return nil, err // not a typed nil inside the interface
	}
	return m, nil
}

// MemoryProbe returns the memory the OS can give to new allocations now.
type MemoryProbe func() (available uint64, err error)

// SystemMemory is the default MemoryProbe.
func SystemMemory() (uint64, error) {
	vm, err := mem.VirtualMemory()
	if err != nil {
		return 0, err
	}
	return vm.Available, nil
}

// Estimator estimates the memory a model file takes loaded.
type Estimator func(path string, p gguf.EstimateParams) (gguf.Estimate, error)

// Clock is the time source of keep-alive timers.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d; stop cancels it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// DemoGenerator writes a small demo model to path.
type DemoGenerator func(path string) error

type options struct {
	loader   Loader
	probe    MemoryProbe
	estimate Estimator
	clock    Clock
	demo     DemoGenerator
	debounce time.Duration
}

// Option customises a Manager.
type Option func(*options)

// WithLoader replaces engine.Load (tests count or fake loads with it).
func WithLoader(l Loader) Option { return func(o *options) { o.loader = l } }

// WithMemoryProbe replaces the OS's available-memory figure.
func WithMemoryProbe(p MemoryProbe) Option { return func(o *options) { o.probe = p } }

// WithEstimator replaces the GGUF-metadata memory estimate.
func WithEstimator(e Estimator) Option { return func(o *options) { o.estimate = e } }

// WithClock replaces the wall clock of keep-alive timers.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithDemoGenerator replaces how the first-run demo model is written.
func WithDemoGenerator(g DemoGenerator) Option { return func(o *options) { o.demo = g } }

// WithDebounce sets how long file events settle before a reload (default
// 150ms): editors and copies emit bursts of events for one change.
func WithDebounce(d time.Duration) Option { return func(o *options) { o.debounce = d } }

func ggufEstimate(path string, p gguf.EstimateParams) (gguf.Estimate, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return gguf.Estimate{}, err
	}
	return f.Estimate(p), nil
}
