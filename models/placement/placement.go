// Package placement decides where a model runs: how many of its layers go
// to each GPU and what stays on the CPU, from the GPUs' free memory and the
// model's per-layer sizes. Place is a pure function of its inputs, so every
// case (no GPU, one GPU, several, does not fit) is testable without a GPU.
//
// It follows how llama.cpp places a model given n_gpu_layers and a tensor
// split (llama-model.cpp, load_tensors): the input layer (token embeddings)
// stays on the CPU; the last n repeating layers are offloaded, the output
// layer counting as one more layer after the last block, so it is offloaded
// only when every block is; the offloaded layers go to the GPUs in device
// order in contiguous runs sized by the split; each layer's KV cache lives
// with the layer. Every device that runs layers reserves a compute buffer.
package placement

import (
	"fmt"
	"math"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine/gguf"
)

// Device kinds, as ggml reports them.
const (
	KindCPU  = "cpu"
	KindGPU  = "gpu"
	KindIGPU = "igpu" // integrated: its memory is system memory
)

// CPU is the device that holds what is not offloaded, in system memory.
var CPU = Device{ID: "CPU", Name: "system memory", Kind: KindCPU}

// Device is a GPU a model may be placed on.
type Device struct {
	ID   string // stable name, e.g. "CUDA0"
	Name string // for people, e.g. "NVIDIA H200"
	Kind string // KindGPU or KindIGPU (a KindCPU device is ignored)
	// Free is what this load may use on the device now: free memory less
	// headroom and less what other loads in progress will take.
	Free uint64
}

func (d Device) String() string {
	if d.Name == "" || d.Name == d.ID {
		return d.ID
	}
	return d.ID + " (" + d.Name + ")"
}

// Usage is what a model puts on one device.
type Usage struct {
	Device  Device
	Layers  int    // layers on the device; the output layer counts as one
	Bytes   uint64 // weights, KV cache and compute buffers
	Weights uint64 // of Bytes, the model weights
}

// Plan is where a model goes.
type Plan struct {
	// GPULayers is llama.cpp's n_gpu_layers: the layers offloaded.
	GPULayers int
	// TensorSplit is the layers each GPU of GPUs takes, in order; nil when
	// nothing is offloaded.
	TensorSplit []float32
	// CPU is what stays in system memory.
	CPU Usage
	// GPUs are the devices llama.cpp offloads to, in its order: the
	// discrete GPUs, or the integrated ones when there is none (llama.cpp's
	// rule). A GPU that takes no layers has a zero Usage.
	GPUs []Usage
}

// Layers is every layer of the model (blocks plus output), wherever it is.
func (p Plan) Layers() int {
	n := p.CPU.Layers
	for _, g := range p.GPUs {
		n += g.Layers
	}
	return n
}

// NoFitError is a requested offload that does not fit a GPU.
type NoFitError struct {
	Device Device // zero when there is no GPU at all
	Layers int    // layers asked for on GPUs
	Needed uint64 // bytes the device would need
	Free   uint64 // bytes it has for this load
}

func (e *NoFitError) Error() string {
	if e.Device.ID == "" {
		return fmt.Sprintf("%d layers asked for on GPUs, but there is no GPU (use gpu_layers auto or 0)", e.Layers)
	}
	return fmt.Sprintf("%d layers on GPUs need %s on %s, but %s is free there",
		e.Layers, config.FormatBytes(e.Needed), e.Device, config.FormatBytes(e.Free))
}

// Place splits a model (est, from gguf.File.Estimate) over devs as req asks:
//
//   - auto: as many layers as fit in the GPUs' free memory, the rest on the
//     CPU; no GPU (or too little memory for one layer) means CPU only;
//   - 0: CPU only;
//   - -1: every layer on GPUs, or a *NoFitError;
//   - n: n layers on GPUs (the last n blocks; n = blocks + 1 adds the
//     output layer, more is the same), or a *NoFitError.
//
// Several GPUs split the offloaded layers in proportion to their free
// memory, each taking at most what it has. An estimate without per-layer
// sizes (the file could not be read) is placed on the CPU whole.
func Place(devs []Device, est gguf.Estimate, req config.GPULayers) (Plan, error) {
	gpus := usable(devs)
	p := Plan{CPU: Usage{Device: CPU}, GPUs: make([]Usage, len(gpus))}
	for i, d := range gpus {
		p.GPUs[i].Device = d
	}
	if len(est.Layers) == 0 {
		p.CPU.Bytes, p.CPU.Weights = est.Total, est.Weights
		return p, nil
	}
	m := model{est: est}
	n := 0
	switch {
	case req == config.GPULayersAuto:
		n = m.mostThatFit(gpus)
	case req < 0:
		n = m.layers()
	default:
		n = min(int(req), m.layers())
	}
	if n > 0 && len(gpus) == 0 {
		return Plan{}, &NoFitError{Layers: n, Needed: m.offloadBytes(n, 1)}
	}
	var counts []int
	if n > 0 {
		var err error
		if counts, err = m.split(gpus, n); err != nil {
			return Plan{}, err
		}
	}
	m.fill(&p, counts, n)
	return p, nil
}

// usable is the GPUs llama.cpp offloads to, in order: discrete GPUs, or
// integrated ones when there are no discrete ones.
func usable(devs []Device) []Device {
	var gpus, igpus []Device
	for _, d := range devs {
		switch d.Kind {
		case KindGPU:
			gpus = append(gpus, d)
		case KindIGPU:
			igpus = append(igpus, d)
		}
	}
	if len(gpus) > 0 {
		return gpus
	}
	return igpus
}

// model answers size questions about est in llama.cpp's layer numbering:
// layer i < len(est.Layers) is block i, layer len(est.Layers) the output.
type model struct{ est gguf.Estimate }

func (m model) layers() int { return len(m.est.Layers) + 1 }

// offloaded is the layers [from, to) that n offloaded layers are: the last
// n blocks, or with n = every layer, the blocks and the output.
func (m model) offloaded(n int) (from, to int) {
	blocks := len(m.est.Layers)
	if n >= m.layers() {
		return 0, blocks + 1
	}
	return blocks - n, blocks
}

// bytes is what layer i takes on a GPU (the output layer: its weights, a
// tied head copied).
func (m model) bytes(i int) uint64 {
	if i == len(m.est.Layers) {
		return m.est.OutputWeights
	}
	return m.est.Layers[i].Bytes()
}

// overhead is what a GPU that runs layers reserves besides them: a compute
// buffer, and with the whole model on several GPUs llama.cpp's pipeline
// parallelism keeps more copies of the activations that cross devices
// (GGML_SCHED_MAX_COPIES = 4: three more batch × embedding inputs, which is
// what HostGraph sizes). Unmeasured on a GPU here; chosen on the safe side.
func (m model) overhead(n, gpus int) uint64 {
	if n == m.layers() && gpus > 1 {
		return m.est.Graph + m.est.HostGraph
	}
	return m.est.Graph
}

// offloadBytes is what n offloaded layers need on one GPU.
func (m model) offloadBytes(n, gpus int) uint64 {
	b := m.overhead(n, gpus)
	from, to := m.offloaded(n)
	for i := from; i < to; i++ {
		b += m.bytes(i)
	}
	return b
}

// assign gives the last n layers to gpus in order, each taking layers while
// they fit in factor × its free memory; it returns the layers per GPU, or
// nil when they do not all fit.
func (m model) assign(gpus []Device, n int, factor float64) []int {
	counts := make([]int, len(gpus))
	over := m.overhead(n, len(gpus))
	next, to := m.offloaded(n)
	for j, d := range gpus {
		capacity := factor * float64(d.Free)
		used := uint64(0)
		for next < to {
			need := m.bytes(next)
			if counts[j] == 0 {
				need += over
			}
			if float64(used+need) > capacity {
				break
			}
			used += need
			counts[j]++
			next++
		}
	}
	if next < to {
		return nil
	}
	return counts
}

// mostThatFit is the most layers the GPUs can hold.
func (m model) mostThatFit(gpus []Device) int {
	for n := m.layers(); n > 0; n-- {
		if m.assign(gpus, n, 1) != nil {
			return n
		}
	}
	return 0
}

// split spreads n layers over gpus in proportion to their free memory: it
// finds the smallest share of every GPU's free memory that holds them all.
// When that share is over 1 the layers do not fit, and the error names the
// GPU that is short by the most.
func (m model) split(gpus []Device, n int) ([]int, error) {
	hi := 1.0
	for m.assign(gpus, n, hi) == nil {
		if hi > 1<<40 {
			// Only when no GPU has any free memory at all.
			return nil, &NoFitError{Device: gpus[0], Layers: n, Needed: m.offloadBytes(n, len(gpus)), Free: gpus[0].Free}
		}
		hi *= 2
	}
	lo := 0.0
	for range 64 {
		mid := (lo + hi) / 2
		if m.assign(gpus, n, mid) != nil {
			hi = mid
		} else {
			lo = mid
		}
	}
	counts := m.assign(gpus, n, hi)
	if hi <= 1 {
		return counts, nil
	}
	var worst *NoFitError
	ratio := 0.0
	next, _ := m.offloaded(n)
	for j, c := range counts {
		need := m.deviceUsage(next, c, n, len(gpus)).Bytes
		next += c
		r := math.Inf(1)
		if gpus[j].Free > 0 {
			r = float64(need) / float64(gpus[j].Free)
		}
		if c > 0 && need > gpus[j].Free && (worst == nil || r > ratio) {
			worst, ratio = &NoFitError{Device: gpus[j], Layers: n, Needed: need, Free: gpus[j].Free}, r
		}
	}
	return nil, worst
}

// deviceUsage is what c layers from first take on a GPU when n layers are
// offloaded over gpus devices.
func (m model) deviceUsage(first, c, n, gpus int) Usage {
	var u Usage
	if c == 0 {
		return u
	}
	u.Layers = c
	u.Bytes = m.overhead(n, gpus)
	for i := first; i < first+c; i++ {
		u.Bytes += m.bytes(i)
		if i == len(m.est.Layers) {
			u.Weights += m.est.OutputWeights
		} else {
			u.Weights += m.est.Layers[i].Weights
		}
	}
	return u
}

// fill writes the usage of every device for n layers offloaded as counts.
func (m model) fill(p *Plan, counts []int, n int) {
	e := m.est
	next, _ := m.offloaded(n)
	for j, c := range counts {
		u := m.deviceUsage(next, c, n, len(p.GPUs))
		u.Device = p.GPUs[j].Device
		p.GPUs[j] = u
		next += c
	}
	if n > 0 {
		p.GPULayers = n
		p.TensorSplit = make([]float32, len(counts))
		for j, c := range counts {
			p.TensorSplit[j] = float32(c)
		}
	}
	cpu := &p.CPU
	cpu.Layers = m.layers() - n
	cpu.Weights = e.InputWeights
	from, _ := m.offloaded(n)
	for i := 0; i < from; i++ {
		cpu.Weights += e.Layers[i].Weights
		cpu.Bytes += e.Layers[i].KVCache
	}
	if n < m.layers() {
		// The output head on the CPU shares a tied embedding's mapping.
		cpu.Weights += e.OutputWeights - e.TiedOutput
	}
	graph := e.Graph
	if cpu.Layers == 0 {
		graph = e.HostGraph
	}
	cpu.Bytes += cpu.Weights + graph + e.OutputBuffer
}
