package models

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/engine/gguf"
)

const mib = 1 << 20

// gpuShape is a model of 8 blocks and an output layer of 1000MiB each
// (800MiB of weights, 200MiB of KV cache a block), a 500MiB compute graph
// on each device that runs layers, 100MiB of input weights and a 10MiB
// output buffer: 9610MiB on the CPU alone. Whole on one GPU it takes
// 9 × 1000 + 500 = 9500MiB there and 110MiB of system memory.
func gpuShape() gguf.Estimate {
	e := gguf.Estimate{InputWeights: 100 * mib, OutputWeights: 1000 * mib, Graph: 500 * mib, OutputBuffer: 10 * mib}
	for range 8 {
		e.Layers = append(e.Layers, gguf.LayerEstimate{Weights: 800 * mib, KVCache: 200 * mib})
		e.KVCache += 200 * mib
	}
	e.Weights = e.InputWeights + 8*800*mib + e.OutputWeights
	e.Compute = e.Graph + e.OutputBuffer
	e.Total = e.Weights + e.KVCache + e.Compute
	return e
}

// fakeGPUs stands in for ggml's devices: loads allocate on them what the
// tensor split asks (1000MiB a layer plus a 500MiB graph on each GPU used,
// as gpuShape says) and fail like an out-of-memory GPU when that is more
// than is free, so a wrong admission fails the test.
type fakeGPUs struct {
	mu    sync.Mutex
	total []uint64
	used  []uint64
	hold  chan struct{} // see holdCloses
}

func newFakeGPUs(totalMiB ...uint64) *fakeGPUs {
	g := &fakeGPUs{used: make([]uint64, len(totalMiB))}
	for _, t := range totalMiB {
		g.total = append(g.total, t*mib)
	}
	return g
}

func (g *fakeGPUs) probe() []DeviceMemory {
	g.mu.Lock()
	defer g.mu.Unlock()
	devs := []DeviceMemory{{ID: "CPU", Kind: "cpu", TotalBytes: 1 << 40, FreeBytes: 1 << 40}}
	for i := range g.total {
		devs = append(devs, DeviceMemory{ID: fmt.Sprintf("CUDA%d", i), Description: "Fake GPU", Kind: "gpu",
			TotalBytes: g.total[i], FreeBytes: g.total[i] - g.used[i]})
	}
	return devs
}

func (g *fakeGPUs) usedMiB() []uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]uint64, len(g.used))
	for i, u := range g.used {
		out[i] = u / mib
	}
	return out
}

func (g *fakeGPUs) load(ctx context.Context, path string, opts engine.LoadOptions) (LoadedModel, error) {
	alloc := make([]uint64, len(g.total))
	for i, layers := range opts.TensorSplit {
		if layers > 0 {
			alloc[i] = uint64(layers)*1000*mib + 500*mib
		}
	}
	g.mu.Lock()
	for i, a := range alloc {
		if g.used[i]+a > g.total[i] {
			g.mu.Unlock()
			return nil, fmt.Errorf("CUDA%d: out of memory allocating %dMiB", i, a/mib)
		}
	}
	for i, a := range alloc {
		g.used[i] += a
	}
	g.mu.Unlock()
	lm, err := fakeLoad(ctx, path, opts)
	if err != nil {
		g.free(alloc)
		return nil, err
	}
	return &gpuModel{LoadedModel: lm, g: g, free: func() { g.free(alloc) }}, nil
}

// holdCloses makes models closed from now on keep their memory until
// release is called (or the test ends), as a big model's Close (freeing
// its buffers, unmapping its file) takes a moment.
func (g *fakeGPUs) holdCloses(t *testing.T) (release func()) {
	hold := make(chan struct{})
	g.mu.Lock()
	g.hold = hold
	g.mu.Unlock()
	release = sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release) // before the manager's Close, which waits for them
	return release
}

func (g *fakeGPUs) free(alloc []uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, a := range alloc {
		g.used[i] -= a
	}
}

type gpuModel struct {
	LoadedModel
	g    *fakeGPUs
	free func()
}

func (m *gpuModel) Close() error {
	m.g.mu.Lock()
	hold := m.g.hold
	m.g.mu.Unlock()
	if hold != nil {
		<-hold
	}
	m.free()
	return m.LoadedModel.Close()
}

// shapes gives every model gpuShape except the ones named small, which
// have no GPU-sized layers (100MiB, all on the CPU unless offloaded).
func shapes() Option {
	return WithEstimator(func(path string, _ gguf.EstimateParams) (gguf.Estimate, error) {
		if strings.HasPrefix(filepath.Base(path), "small") {
			e := gguf.Estimate{Weights: 60 * mib, InputWeights: 10 * mib, OutputWeights: 10 * mib, Graph: 20 * mib, OutputBuffer: mib}
			e.Layers = []gguf.LayerEstimate{{Weights: 40 * mib, KVCache: 19 * mib}}
			e.KVCache, e.Compute = 19*mib, 21*mib
			e.Total = e.Weights + e.KVCache + e.Compute
			return e, nil
		}
		return gpuShape(), nil
	})
}

// gpuEnv is a manager over models big, big2 (gpuShape) and small with the
// given fake GPUs.
func gpuEnv(t *testing.T, gpus *fakeGPUs, cfg string, opts ...Option) *env {
	t.Helper()
	opts = append([]Option{WithDevices(gpus.probe), shapes(), plentyOfMemory()}, opts...)
	return newEnv(t, gpus.load, "gpu_memory_headroom: 0\n"+cfg, func(models string) {
		for _, n := range []string{"big", "big2", "small"} {
			copyModel(t, "stories260K.gguf", models, n+".gguf")
		}
	}, opts...)
}

// placementOf is a model's placement as "DEVICE:layers:MiB" items.
func placementOf(t *testing.T, e *env, name string) []string {
	t.Helper()
	s, err := e.m.Status(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range s.Placement {
		out = append(out, fmt.Sprintf("%s:%d:%d", u.Device, u.Layers, u.Bytes/mib))
	}
	return out
}

func TestGPUPlacementOnLoad(t *testing.T) {
	tests := []struct {
		name   string
		gpus   []uint64 // total MiB per GPU
		cfg    string
		split  []float32 // what the engine is asked for
		layers int
		want   []string // placement reported
		used   []uint64 // MiB allocated per GPU
	}{
		{"auto, whole model on one GPU", []uint64{16000}, "", []float32{9}, 9,
			[]string{"CPU:0:110", "CUDA0:9:9500"}, []uint64{9500}},
		// 500 + 3 × 1000 fit in 4000: the last three blocks.
		{"auto, partly on one GPU", []uint64{4000}, "", []float32{3}, 3,
			[]string{"CPU:6:6610", "CUDA0:3:3500"}, []uint64{3500}},
		{"auto, GPU too small for a layer", []uint64{1000}, "", nil, 0,
			[]string{"CPU:9:9610"}, []uint64{0}},
		// Two equal GPUs split by free memory: 5 + 4 layers.
		{"auto, two GPUs", []uint64{6000, 6000}, "", []float32{5, 4}, 9,
			[]string{"CPU:0:110", "CUDA0:5:5500", "CUDA1:4:4500"}, []uint64{5500, 4500}},
		{"auto, GPUs by free memory", []uint64{12000, 4000}, "", []float32{7, 2}, 9,
			[]string{"CPU:0:110", "CUDA0:7:7500", "CUDA1:2:2500"}, []uint64{7500, 2500}},
		{"0 is CPU only", []uint64{16000}, "defaults: {gpu_layers: 0}\n", nil, 0,
			[]string{"CPU:9:9610"}, []uint64{0}},
		{"a number is honoured", []uint64{16000}, "defaults: {gpu_layers: 2}\n", []float32{2}, 2,
			[]string{"CPU:7:7610", "CUDA0:2:2500"}, []uint64{2500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gpus := newFakeGPUs(tt.gpus...)
			e := gpuEnv(t, gpus, tt.cfg)
			e.acquire("big").Release()
			o := e.loads.lastOpts("big.gguf")
			if o.GPULayers != tt.layers || !slices.Equal(o.TensorSplit, tt.split) {
				t.Errorf("engine asked for %d layers split %v, want %d split %v", o.GPULayers, o.TensorSplit, tt.layers, tt.split)
			}
			if got := placementOf(t, e, "big"); !slices.Equal(got, tt.want) {
				t.Errorf("placement %v, want %v", got, tt.want)
			}
			if got := gpus.usedMiB(); !slices.Equal(got, tt.used) {
				t.Errorf("GPU memory in use %v MiB, want %v", got, tt.used)
			}
			var sum uint64
			for _, u := range e.mustStatus("big").Placement {
				sum += u.Bytes
			}
			if s := e.mustStatus("big"); s.MemoryBytes != sum {
				t.Errorf("memory %d is not the sum of the placement %d", s.MemoryBytes, sum)
			}
		})
	}
}

func (e *env) mustStatus(name string) Status {
	e.t.Helper()
	s, err := e.m.Status(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// A model needing the GPU unloads the least recently used idle model that
// holds memory there, not an older one that is only on the CPU.
func TestGPUEvictsIdleModelOnThatDevice(t *testing.T) {
	gpus := newFakeGPUs(12000)
	e := gpuEnv(t, gpus, "models:\n  small: {gpu_layers: 0}\n  big: {}\n  big2: {}\n")
	e.acquire("small").Release() // least recently used, CPU only
	e.acquire("big").Release()
	if got := gpus.usedMiB(); got[0] != 9500 {
		t.Fatalf("big uses %dMiB of the GPU, want 9500", got[0])
	}
	e.acquire("big2").Release()
	waitFor(t, 5*time.Second, "big unloaded", func() bool { return e.state("big") == StateUnloaded })
	if s := e.state("small"); s != StateLoaded {
		t.Errorf("small (CPU only, older) is %s: it holds nothing on the GPU and should stay", s)
	}
	if got := placementOf(t, e, "big2"); !slices.Equal(got, []string{"CPU:0:110", "CUDA0:9:9500"}) {
		t.Errorf("big2 placed %v, want whole on CUDA0", got)
	}
}

// A busy model is not evicted: auto loads the next model now, with the
// layers that fit beside it, instead of waiting.
func TestGPUAutoBesideBusyModel(t *testing.T) {
	gpus := newFakeGPUs(12000)
	e := gpuEnv(t, gpus, "")
	hold := e.acquire("big")
	defer hold.Release()
	e.acquire("big2").Release()
	// 2500MiB left: the graph and two layers.
	if got := placementOf(t, e, "big2"); !slices.Equal(got, []string{"CPU:7:7610", "CUDA0:2:2500"}) {
		t.Errorf("big2 placed %v", got)
	}
	if e.state("big") != StateLoaded {
		t.Error("busy big was unloaded")
	}
}

// gpu_layers -1 waits for a busy model holding the GPU and loads once it is
// idle, unloading it.
func TestGPUAllWaitsForBusyModel(t *testing.T) {
	gpus := newFakeGPUs(12000)
	e := gpuEnv(t, gpus, "models:\n  big: {}\n  big2: {gpu_layers: -1}\n")
	hold := e.acquire("big")
	got := make(chan error, 1)
	go func() {
		l, err := e.m.Acquire(context.Background(), "big2")
		if err == nil {
			l.Release()
		}
		got <- err
	}()
	waitFor(t, 5*time.Second, "big2 waiting", func() bool { return e.state("big2") == StateLoading })
	select {
	case err := <-got:
		t.Fatalf("big2 returned %v while big held the GPU", err)
	default:
	}
	hold.Release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if s := e.state("big"); s != StateUnloaded && s != StateUnloading {
		t.Errorf("big is %s, want evicted", s)
	}
	if got := placementOf(t, e, "big2"); !slices.Equal(got, []string{"CPU:0:110", "CUDA0:9:9500"}) {
		t.Errorf("big2 placed %v", got)
	}
}

// A load that needs memory a model being unloaded still holds (keep-alive
// expiry, admin unload, reload, eviction) waits for that model's Close and
// then loads as it would with the model gone: not refused as though it could
// never fit, nor placed on what is free meanwhile for as long as it stays
// loaded. One that would not fit even then is refused at once, as before.
func TestLoadWaitsForModelsUnloading(t *testing.T) {
	tests := []struct {
		name string
		gpus []uint64 // total MiB per GPU
		cfg  string
		want []string // big2's placement once big has closed; nil: refused at once
		err  string   // what the refusal says
	}{
		// 2500MiB of the GPU free while big (9500MiB) unloads.
		{"-1 waits for the GPU", []uint64{12000}, "models:\n  big: {}\n  big2: {gpu_layers: -1}\n",
			[]string{"CPU:0:110", "CUDA0:9:9500"}, ""},
		{"auto waits for the whole GPU, not two layers", []uint64{12000}, "",
			[]string{"CPU:0:110", "CUDA0:9:9500"}, ""},
		// 630MiB of the limit left while big (9610MiB) unloads.
		{"system memory", nil, "memory_limit: 10GiB\nmemory_headroom: 0\ndefaults: {gpu_layers: 0}\n",
			[]string{"CPU:9:9610"}, ""},
		// big gets 8 layers (8500MiB) of the 9000MiB GPU; big2 needs 9500MiB
		// there, more than the whole GPU once big is gone.
		{"-1 larger than the GPU is refused", []uint64{9000}, "models:\n  big: {}\n  big2: {gpu_layers: -1}\n",
			nil, "need about 9.3GiB on CUDA0 (Fake GPU) but at most 8.8GiB is free"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gpus := newFakeGPUs(tt.gpus...)
			e := gpuEnv(t, gpus, tt.cfg)
			e.acquire("big").Release()
			release := gpus.holdCloses(t)
			unloaded := make(chan error, 1)
			go func() { unloaded <- e.m.Unload(context.Background(), "big") }()
			waitFor(t, 5*time.Second, "big unloading", func() bool { return e.state("big") == StateUnloading })

			got := e.acquireAsync("big2")
			waitFor(t, 5*time.Second, "big2 answered or waiting for memory", func() bool { return len(got) > 0 || e.pending("big2") })
			if tt.want == nil {
				select {
				case res := <-got:
					if res.err == nil || !strings.Contains(res.err.Error(), tt.err) {
						t.Errorf("err = %v, want one saying %q", res.err, tt.err)
					}
				default:
					t.Fatal("big2 waits for memory it cannot get even once big has closed")
				}
				if n := e.loads.count("big2.gguf"); n != 0 {
					t.Errorf("loader called %d times for a model that cannot fit", n)
				}
				return
			}
			select {
			case res := <-got:
				if res.lease != nil {
					res.lease.Release()
				}
				t.Fatalf("big2 answered while big was unloading (lease %v, err %v), want it to wait", res.lease != nil, res.err)
			default:
			}
			release() // big's Close returns: its memory is free
			if err := <-unloaded; err != nil {
				t.Fatal(err)
			}
			select {
			case res := <-got:
				if res.err != nil {
					t.Fatalf("big2 after big closed: %v", res.err)
				}
				defer res.lease.Release()
			case <-time.After(5 * time.Second):
				t.Fatal("big2 not loaded after big closed")
			}
			if p := placementOf(t, e, "big2"); !slices.Equal(p, tt.want) {
				t.Errorf("big2 placed %v, want %v", p, tt.want)
			}
			if n := e.loads.count("big2.gguf"); n != 1 {
				t.Errorf("big2 loaded %d times, want once", n)
			}
		})
	}
}

func TestGPUDoesNotFit(t *testing.T) {
	tests := []struct {
		name string
		gpus []uint64
		want []string // substrings of the error
		dev  string
	}{
		{"-1 larger than the GPU", []uint64{8000}, []string{"9 layers on GPUs need about 9.3GiB on CUDA0 (Fake GPU)", "at most 7.8GiB is free"}, "CUDA0"},
		// Split evenly, 5 layers (5500MiB) on CUDA0 and 4 (4500MiB) on CUDA1:
		// CUDA0 is short by the most.
		{"-1 larger than two GPUs", []uint64{4000, 4000}, []string{"need about 5.4GiB on CUDA0 (Fake GPU)", "at most 3.9GiB is free"}, "CUDA0"},
		{"-1 without a GPU", nil, []string{"asks for 9 layers on GPUs, but there is no GPU"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gpus := newFakeGPUs(tt.gpus...)
			e := gpuEnv(t, gpus, "defaults: {gpu_layers: -1}\n")
			_, err := e.m.Acquire(context.Background(), "big")
			var im *InsufficientMemoryError
			if !errors.As(err, &im) || im.Device != tt.dev || im.GPULayers != 9 {
				t.Fatalf("err = %v, want InsufficientMemoryError on %q", err, tt.dev)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if e.loads.count("big.gguf") != 0 {
				t.Error("loader called for a model that cannot fit")
			}
		})
	}
}

// System memory and GPU memory are separate budgets: a model whole on the
// GPU needs only its small CPU share of memory_limit, and a load short of
// system memory evicts a model holding system memory.
func TestGPUAndSystemMemoryBudgets(t *testing.T) {
	gpus := newFakeGPUs(10000)
	// small and big2 are discovered, not configured: the config's memory
	// check would refuse big2, which can never fit in memory_limit.
	e := gpuEnv(t, gpus, "memory_limit: 1GiB\nmemory_headroom: 0\ndefaults: {gpu_layers: 0}\nmodels:\n  big: {gpu_layers: auto}\n")
	e.acquire("big").Release() // 9.3GiB on the GPU, 110MiB of system memory
	e.acquire("small").Release()
	if e.state("big") != StateLoaded {
		t.Fatal("big was unloaded for a model on the CPU that fits beside it")
	}
	// big2 on the CPU needs 9.9GiB of system memory: more than the limit
	// even with every idle model gone.
	_, err := e.m.Acquire(context.Background(), "big2")
	var im *InsufficientMemoryError
	if !errors.As(err, &im) || im.Device != "" || !strings.Contains(err.Error(), "of system memory") {
		t.Fatalf("err = %v, want a system memory error", err)
	}
}

// With no GPU, auto runs on the CPU exactly as before: no layers, no
// split, the whole estimate in system memory.
func TestNoGPUAutoIsCPU(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireBackend(t, b.name)
			e := newEnv(t, b.load, "", func(models string) { twoModels(models, t) },
				WithDevices(func() []DeviceMemory { return []DeviceMemory{{ID: "CPU", Kind: "cpu"}} }))
			l := e.acquire("stories")
			defer l.Release()
			o := e.loads.lastOpts("stories.gguf")
			if o.GPULayers != 0 || o.TensorSplit != nil {
				t.Errorf("engine asked for %d GPU layers, split %v", o.GPULayers, o.TensorSplit)
			}
			s := e.mustStatus("stories")
			if len(s.Placement) != 1 || s.Placement[0].Device != "CPU" || s.Placement[0].Bytes != s.MemoryBytes ||
				s.Placement[0].Layers != 6 || s.MemoryBytes == 0 {
				t.Errorf("placement %+v, memory %d; want all 6 layers of stories260K on the CPU", s.Placement, s.MemoryBytes)
			}
			if b.name == "engine" {
				if info := l.Model().Info(); info.ContextLength == 0 {
					t.Error("engine model not usable")
				}
			}
		})
	}
}

// The config's memory check knows the GPUs: big (9.4GiB) is larger than
// system memory (4GiB) but not than system memory and the GPU together, so
// it is accepted on reload, unless it may not use the GPU.
func TestConfigCheckCountsGPUs(t *testing.T) {
	gpus := newFakeGPUs(10000)
	e := gpuEnv(t, gpus, "", WithMemoryProbe(func() (Memory, error) { return Memory{Total: 4 << 30, Available: 4 << 30}, nil }))
	e.writeConfig("gpu_memory_headroom: 0\nmodels:\n  big: {context: 8192}\n")
	if err := e.m.Reload(context.Background()); err != nil {
		t.Fatalf("reload with GPUs: %v", err)
	}
	if en, err := e.m.Lookup("big"); err != nil || en.Model.Context != 8192 {
		t.Errorf("config not applied: %+v %v", en, err)
	}
	e.writeConfig("gpu_memory_headroom: 0\nmodels:\n  big: {context: 4096, gpu_layers: 0}\n")
	err := e.m.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ggufd.yaml:4:3: models.big: needs about 9.4GiB loaded") ||
		!strings.Contains(err.Error(), "more than the machine's memory (4GiB)") {
		t.Fatalf("reload of a CPU-only model larger than memory: %v", err)
	}
	if en, _ := e.m.Lookup("big"); en.Model.Context != 8192 {
		t.Errorf("the refused config was applied: context %d", en.Model.Context)
	}
}

// A load in progress has not allocated its GPU memory yet: the next load
// must count it as taken, or both would overfill the GPU.
func TestGPUReservesLoadsInProgress(t *testing.T) {
	gpus := newFakeGPUs(12000)
	e := gpuEnv(t, gpus, "")
	e.loads.mu.Lock()
	e.loads.gate = make(chan struct{})
	gate := e.loads.gate
	e.loads.mu.Unlock()
	errs := make(chan error, 2)
	acquire := func(name string) {
		l, err := e.m.Acquire(context.Background(), name)
		if err == nil {
			defer l.Release()
		}
		errs <- err
	}
	go acquire("big")
	waitFor(t, 5*time.Second, "big loading", func() bool { return e.loads.count("big.gguf") == 1 })
	go acquire("big2")
	waitFor(t, 5*time.Second, "big2 loading", func() bool { return e.loads.count("big2.gguf") == 1 })
	close(gate)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := gpus.usedMiB(); got[0] != 9500+2500 {
		t.Errorf("GPU holds %dMiB, want big whole (9500) and big2's graph and two layers (2500)", got[0])
	}
}
