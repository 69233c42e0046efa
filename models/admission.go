package models

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/models/placement"
)

// Admission: system memory and each GPU's memory are separate budgets. A
// load is placed (models/placement) on what is free now; if it falls short
// of the best placement it could get, or of memory, least recently used
// idle models that hold memory where it is short are unloaded first. Models
// already unloading count as gone for that best placement: their memory is
// back as soon as their Close returns, so a load that needs it waits for it.

// DeviceUsage is what a model holds on one device.
type DeviceUsage struct {
	Device string `json:"device"` // "CPU" or the GPU's id, e.g. "CUDA0"
	Name   string `json:"name"`   // "system memory" or the GPU's description
	Kind   string `json:"kind"`   // "cpu", "gpu" or "igpu"
	Layers int    `json:"layers"` // layers on the device (the output layer counts as one)
	Bytes  uint64 `json:"bytes"`  // weights, KV cache and compute buffers
}

// usage lists where a plan puts a model: the CPU first, then each GPU that
// holds any of it; nil for an empty plan.
func usage(p placement.Plan) []DeviceUsage {
	if p.CPU.Bytes == 0 && p.Layers() == 0 {
		return nil
	}
	var out []DeviceUsage
	for _, u := range append([]placement.Usage{p.CPU}, p.GPUs...) {
		if u.Device.Kind != placement.KindCPU && u.Layers == 0 && u.Bytes == 0 {
			continue
		}
		out = append(out, DeviceUsage{Device: u.Device.ID, Name: u.Device.Name, Kind: u.Device.Kind, Layers: u.Layers, Bytes: u.Bytes})
	}
	return out
}

// total is every byte a plan places.
func total(p placement.Plan) uint64 {
	n := p.CPU.Bytes
	for _, g := range p.GPUs {
		n += g.Bytes
	}
	return n
}

// ramOf is what a plan takes from system memory: the CPU's share, and what
// an integrated GPU holds (its memory is system memory).
func ramOf(p placement.Plan) uint64 {
	n := p.CPU.Bytes
	for _, g := range p.GPUs {
		if g.Device.Kind == placement.KindIGPU {
			n += g.Bytes
		}
	}
	return n
}

// onDevice is what a plan holds on the GPU called id.
func onDevice(p placement.Plan, id string) uint64 {
	for _, g := range p.GPUs {
		if g.Device.ID == id {
			return g.Bytes
		}
	}
	return 0
}

// holdsGPU reports whether a plan holds anything on one of gpus.
func holdsGPU(p placement.Plan, gpus []placement.Device) bool {
	for _, d := range gpus {
		if onDevice(p, d.ID) > 0 {
			return true
		}
	}
	return false
}

// gpuDevices is the probe's accelerators (CPU devices dropped), or none.
func (o options) gpuDevices() []DeviceMemory {
	if o.devices == nil {
		return nil
	}
	var out []DeviceMemory
	for _, d := range o.devices() {
		if d.Kind != placement.KindCPU {
			out = append(out, d)
		}
	}
	return out
}

// gpuTotal is the memory of the GPUs a model may also use. Integrated GPUs
// share system memory and add nothing.
func (o options) gpuTotal() uint64 {
	var gpu uint64
	for _, d := range o.gpuDevices() {
		if d.Kind == placement.KindGPU {
			gpu += d.TotalBytes
		}
	}
	return gpu
}

// checkMemory refuses a config with a model that can never fit on this
// machine, citing the config file's line, and logs the models that do not
// fit in the memory available now. items are cfg's, built with their
// estimates. Startup and every reload go through it (apply).
func (m *Manager) checkMemory(cfg *config.Config, items []*item) error {
	sys, err := m.opts.probe()
	if err != nil {
		m.log.Warn("cannot read the machine's memory; config not checked against it", "err", err)
		return nil
	}
	byName := make(map[string]*item, len(items))
	for _, it := range items {
		if !it.Discovered {
			byName[it.Name] = it
		}
	}
	warnings, err := cfg.CheckMemory(config.Machine{Total: sys.Total, Available: sys.Available, GPU: m.opts.gpuTotal()},
		func(mm config.Model) (uint64, error) {
			it := byName[mm.Name]
			if it.estErr != nil {
				return 0, it.estErr
			}
			return it.est.Total, nil
		})
	for _, w := range warnings {
		m.log.Warn("config", "warning", w.Error())
	}
	return err
}

// budgets is the memory a new load may take now, before evictions.
type budgets struct {
	ram  float64            // system memory
	gpus []placement.Device // in the probe's order
	// gpuFree is each GPU's free memory less headroom and loads in
	// progress; below zero when those take more than is free.
	gpuFree []float64
}

// with returns the GPUs with what this load may use after evicting freed.
func (b budgets) with(freed []*runner) []placement.Device {
	out := slices.Clone(b.gpus)
	for i := range out {
		free := b.gpuFree[i]
		for _, v := range freed {
			free += float64(onDevice(v.place, out[i].ID))
		}
		out[i].Free = uint64(max(free, 0))
	}
	return out
}

// ramWith is system memory after evicting freed.
func (b budgets) ramWith(freed []*runner) float64 {
	free := b.ram
	for _, v := range freed {
		free += float64(ramOf(v.place))
	}
	return free
}

// budgets reads what each device has free for a new load.
func (m *Manager) budgets() budgets {
	b := budgets{ram: m.freeMemory()}
	headroom := float64(m.st.cfg.GPUMemoryHeadroom)
	for _, d := range m.opts.gpuDevices() {
		// Loaded models' memory is already gone from what the driver
		// reports; loads in progress have not allocated all of theirs.
		free := float64(d.FreeBytes) - headroom
		for _, o := range m.allRunners() {
			if o.state == StateLoading && !o.admitting {
				free -= float64(onDevice(o.place, d.ID))
			}
		}
		name := d.Description
		if name == "" {
			name = d.Name
		}
		b.gpus = append(b.gpus, placement.Device{ID: d.ID, Name: name, Kind: d.Kind})
		b.gpuFree = append(b.gpuFree, free)
	}
	return b
}

// freeMemory is the system memory a new load may use now: the OS's
// available memory minus headroom and minus what admitted models will still
// take, and within memory_limit when one is set.
func (m *Manager) freeMemory() float64 {
	cfg := m.st.cfg
	sys := math.Inf(1)
	if mem, err := m.opts.probe(); err != nil {
		m.log.Warn("cannot read available memory; admitting loads without a memory check", "err", err)
	} else {
		sys = float64(mem.Available) - float64(cfg.MemoryHeadroom)
	}
	var committed float64
	for _, o := range m.allRunners() {
		if o.admitting {
			continue
		}
		ram := float64(ramOf(o.place))
		switch o.state {
		case StateLoading:
			// Not allocated yet (or only partly): reserve all of it.
			sys -= ram
			committed += ram
		case StateLoaded, StateUnloading:
			// Mapped weights are page cache, which the OS counts as
			// available; the KV cache and buffers are not.
			sys -= float64(o.place.CPU.Weights)
			committed += ram
		}
	}
	if cfg.MemoryLimit == 0 {
		return sys
	}
	return min(sys, float64(cfg.MemoryLimit)-committed)
}

// plan places r and decides whether it loads now (after evicting the
// returned models), waits for busy models to finish or unloading ones to
// close, or can never load.
//
// The target is the placement r would get with every idle and unloading
// model gone (for gpu_layers auto: the most layers on GPUs that memory
// allows beside the busy models). Idle models are then unloaded least
// recently used first, but only those holding memory r is short of — on a
// GPU while r has fewer layers there than the target, system memory while
// that is short, any while max_loaded_models is reached — until r fits with
// the target. If it does not fit until the unloading models are gone too,
// r waits for them rather than failing or taking fewer layers for as long
// as it stays loaded: their memory is back once their Close returns, and
// unloaded then plans the pending loads again.
func (m *Manager) plan(r *runner) (placement.Plan, []*runner, verdict, error) {
	cfg := m.st.cfg
	count := 0
	var idle, busy, unloading []*runner
	for _, o := range m.allRunners() {
		if o == r || o.admitting {
			continue // other queued loads hold nothing yet
		}
		switch o.state {
		case StateUnloading:
			// Its memory is still held (neither the driver nor the OS
			// reports it free) but comes back once its Close returns.
			unloading = append(unloading, o)
		case StateLoading:
			count++
			busy = append(busy, o)
		case StateLoaded:
			count++
			if o.leases == 0 && len(o.waiters) == 0 {
				idle = append(idle, o)
			} else {
				busy = append(busy, o)
			}
		}
	}
	sort.Slice(idle, func(i, j int) bool { return idle[i].lastUsed.Before(idle[j].lastUsed) })

	b := m.budgets()
	place := func(freed []*runner) (placement.Plan, error) {
		return placement.Place(b.with(freed), r.item.est, r.item.gpuLayers)
	}
	limit := cfg.MaxLoadedModels
	best, _ := place(slices.Concat(idle, unloading))
	var evict []*runner
	rest := slices.Clone(idle)
	for {
		p, err := place(evict)
		gpuShort := err != nil || p.GPULayers < best.GPULayers
		ramShort := err == nil && float64(ramOf(p)) > b.ramWith(evict)
		slotShort := limit > 0 && count-len(evict) >= limit
		if !gpuShort && !ramShort && !slotShort {
			return p, evict, fits, nil
		}
		i := slices.IndexFunc(rest, func(o *runner) bool {
			return slotShort || (ramShort && ramOf(o.place) > 0) || (gpuShort && holdsGPU(o.place, b.gpus))
		})
		if i < 0 {
			break
		}
		evict = append(evict, rest[i])
		rest = slices.Delete(rest, i, i+1)
	}
	// It does not fit beside the busy and unloading models: it may once
	// they finish.
	all := slices.Concat(idle, busy, unloading)
	p, err := place(all)
	if err != nil {
		return placement.Plan{}, nil, never, noFit(r.name(), err)
	}
	if need, free := ramOf(p), b.ramWith(all); float64(need) > free {
		return placement.Plan{}, nil, never, &InsufficientMemoryError{Model: r.name(), Needed: need, Available: uint64(max(free, 0))}
	}
	return placement.Plan{}, nil, wait, nil
}

// noFit words a placement error as the manager's memory error.
func noFit(model string, err error) error {
	var nf *placement.NoFitError
	if !errors.As(err, &nf) {
		return &LoadFailedError{Model: model, Err: err}
	}
	return &InsufficientMemoryError{Model: model, Device: nf.Device.ID, DeviceName: nf.Device.Name,
		GPULayers: nf.Layers, Needed: nf.Needed, Available: nf.Free}
}

// placementString is a plan for a log line: "CPU 3 layers 1.2GiB, CUDA0 30
// layers 7.5GiB".
func placementString(p placement.Plan) string {
	var b strings.Builder
	for i, u := range usage(p) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d layers %s", u.Device, u.Layers, config.FormatBytes(u.Bytes))
	}
	return b.String()
}
