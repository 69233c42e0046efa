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

// Memory is the machine's system memory.
type Memory struct {
	Total uint64
	// Available is what the OS can give to new allocations now.
	Available uint64
}

// MemoryProbe reads the machine's system memory.
type MemoryProbe func() (Memory, error)

// SystemMemory is the default MemoryProbe.
func SystemMemory() (Memory, error) {
	vm, err := mem.VirtualMemory()
	if err != nil {
		return Memory{}, err
	}
	return Memory{Total: vm.Total, Available: vm.Available}, nil
}

// DeviceMemory is an accelerator as ggml reports it (engine.Devices gives
// the same fields).
type DeviceMemory struct {
	ID          string // e.g. "CUDA0"
	Name        string
	Description string // e.g. "NVIDIA H200"
	Kind        string // "cpu", "gpu" or "igpu"
	TotalBytes  uint64
	FreeBytes   uint64
}

// DeviceProbe lists the devices with their free memory now, in ggml's
// order (the order llama.cpp offloads to). CPU devices are ignored: system
// memory comes from the MemoryProbe.
type DeviceProbe func() []DeviceMemory

// EngineDevices is the DeviceProbe of a real daemon: the devices ggml
// reports through the engine.
func EngineDevices() []DeviceMemory {
	var out []DeviceMemory
	for _, d := range engine.Devices() {
		out = append(out, DeviceMemory{ID: d.ID, Name: d.Name, Description: d.Description, Kind: d.Kind, TotalBytes: d.TotalBytes, FreeBytes: d.FreeBytes})
	}
	return out
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

type options struct {
	loader   Loader
	probe    MemoryProbe
	devices  DeviceProbe
	estimate Estimator
	clock    Clock
	debounce time.Duration
	// modelsDir replaces the config's models_dir, on every reload too.
	modelsDir string
	// afterWatchReload runs in the watcher between a reload it made and the
	// watches it then sets up (tests change folders in that window).
	afterWatchReload func()
}

// Option customises a Manager.
type Option func(*options)

// WithLoader replaces engine.Load (tests count or fake loads with it).
func WithLoader(l Loader) Option { return func(o *options) { o.loader = l } }

// WithMemoryProbe replaces the OS's memory figures.
func WithMemoryProbe(p MemoryProbe) Option { return func(o *options) { o.probe = p } }

// WithDevices gives the GPUs models may be placed on. Without it every
// model runs on the CPU.
func WithDevices(p DeviceProbe) Option { return func(o *options) { o.devices = p } }

// WithEstimator replaces the GGUF-metadata memory estimate.
func WithEstimator(e Estimator) Option { return func(o *options) { o.estimate = e } }

// WithClock replaces the wall clock of keep-alive timers.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithModelsDir serves the GGUF files of dir instead of the config's
// models_dir, also after the config file is reloaded (ggufd serve
// --models-dir). A relative dir is relative to the working directory.
func WithModelsDir(dir string) Option { return func(o *options) { o.modelsDir = dir } }

// WithDebounce sets how long file events settle before a reload (default
// 150ms): editors and copies emit bursts of events for one change.
func WithDebounce(d time.Duration) Option { return func(o *options) { o.debounce = d } }

func ggufEstimate(path string, p gguf.EstimateParams) (gguf.Estimate, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return gguf.Estimate{}, err
	}
	return f.Estimate(p)
}
