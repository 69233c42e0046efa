package placement

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine/gguf"
)

const mib = 1 << 20

// shape is a model of 10 blocks of 100MiB weights and 20MiB KV cache each
// (120MiB a layer), 50MiB of input and 60MiB of output weights, a 40MiB
// compute graph (5MiB when the CPU only embeds the input) and a 2MiB
// output buffer: 1352MiB on the CPU alone.
func shape() gguf.Estimate {
	e := gguf.Estimate{
		InputWeights: 50 * mib, OutputWeights: 60 * mib,
		Graph: 40 * mib, HostGraph: 5 * mib, OutputBuffer: 2 * mib,
	}
	for range 10 {
		e.Layers = append(e.Layers, gguf.LayerEstimate{Weights: 100 * mib, KVCache: 20 * mib})
		e.Weights += 100 * mib
		e.KVCache += 20 * mib
	}
	e.Weights += e.InputWeights + e.OutputWeights
	e.Compute = e.Graph + e.OutputBuffer
	e.Total = e.Weights + e.KVCache + e.Compute
	return e
}

// tied is shape with its head tied to the 50MiB token embeddings: the
// output layer is the 60MiB head on a GPU, 10MiB (the norm) on the CPU.
func tied() gguf.Estimate {
	e := shape()
	e.TiedOutput = 50 * mib
	e.Weights -= e.TiedOutput
	e.Total -= e.TiedOutput
	return e
}

func gpu(id string, free uint64) Device {
	return Device{ID: id, Name: "Test GPU", Kind: KindGPU, Free: free * mib}
}

func TestPlace(t *testing.T) {
	auto, all := config.GPULayersAuto, config.GPULayersAll
	igpu := Device{ID: "Vulkan0", Kind: KindIGPU, Free: 8000 * mib}
	tests := []struct {
		name  string
		devs  []Device
		est   gguf.Estimate
		req   config.GPULayers
		split []float32 // layers per usable GPU; nil: none offloaded
		gpuMB []uint64  // bytes per usable GPU, MiB
		cpuMB uint64    // bytes on the CPU, MiB
		err   string    // substring of the error; "" when it fits
	}{
		{name: "no GPU", est: shape(), req: auto, cpuMB: 1352},
		{name: "CPU device only", devs: []Device{{ID: "CPU", Kind: KindCPU, Free: 1 << 40}}, est: shape(), req: auto, cpuMB: 1352},
		// 10 × 120 + 60 output + 40 graph; the CPU keeps the input, its
		// small graph and the output buffer.
		{name: "one GPU, all fits", devs: []Device{gpu("CUDA0", 2000)}, est: shape(), req: auto,
			split: []float32{11}, gpuMB: []uint64{1300}, cpuMB: 50 + 5 + 2},
		// 40 + 3 × 120 = 400: three blocks, the last three.
		{name: "one GPU, partial", devs: []Device{gpu("CUDA0", 500)}, est: shape(), req: auto,
			split: []float32{3}, gpuMB: []uint64{400}, cpuMB: 50 + 7*120 + 60 + 40 + 2},
		// Every block fits but not the output layer too.
		{name: "one GPU, all blocks but the output", devs: []Device{gpu("CUDA0", 1299)}, est: shape(), req: auto,
			split: []float32{10}, gpuMB: []uint64{1240}, cpuMB: 50 + 60 + 40 + 2},
		{name: "GPU too small for one layer", devs: []Device{gpu("CUDA0", 100)}, est: shape(), req: auto, cpuMB: 1352,
			gpuMB: []uint64{0}},
		{name: "tied head copied to the GPU", devs: []Device{gpu("CUDA0", 2000)}, est: tied(), req: auto,
			split: []float32{11}, gpuMB: []uint64{1300}, cpuMB: 50 + 5 + 2},
		{name: "tied head stays shared on the CPU", devs: []Device{gpu("CUDA0", 500)}, est: tied(), req: auto,
			split: []float32{3}, gpuMB: []uint64{400}, cpuMB: 50 + 7*120 + 10 + 40 + 2},
		// Whole model on two GPUs: 45MiB of overhead each (graph plus
		// pipeline copies); 5 blocks (645) and 5 + output (705) is the
		// most even split.
		{name: "two equal GPUs", devs: []Device{gpu("CUDA0", 1000), gpu("CUDA1", 1000)}, est: shape(), req: auto,
			split: []float32{5, 6}, gpuMB: []uint64{645, 705}, cpuMB: 57},
		// 3000 and 1000 free: 8 blocks (1005) and 2 + output (345) use
		// the same share, about a third, of each.
		{name: "two GPUs by free memory", devs: []Device{gpu("CUDA0", 3000), gpu("CUDA1", 1000)}, est: shape(), req: auto,
			split: []float32{8, 3}, gpuMB: []uint64{1005, 345}, cpuMB: 57},
		// Partial on two: 40 + 3 × 120 = 400 on each.
		{name: "two GPUs, partial", devs: []Device{gpu("CUDA0", 400), gpu("CUDA1", 400)}, est: shape(), req: auto,
			split: []float32{3, 3}, gpuMB: []uint64{400, 400}, cpuMB: 50 + 4*120 + 60 + 40 + 2},
		{name: "a full GPU takes nothing", devs: []Device{gpu("CUDA0", 0), gpu("CUDA1", 2000)}, est: shape(), req: all,
			split: []float32{0, 11}, gpuMB: []uint64{0, 1305}, cpuMB: 57},
		{name: "integrated GPU ignored beside a discrete one", devs: []Device{igpu, gpu("CUDA0", 500)}, est: shape(), req: auto,
			split: []float32{3}, gpuMB: []uint64{400}, cpuMB: 992},
		{name: "integrated GPU alone is used", devs: []Device{igpu}, est: shape(), req: auto,
			split: []float32{11}, gpuMB: []uint64{1300}, cpuMB: 57},
		{name: "0 is CPU only", devs: []Device{gpu("CUDA0", 2000)}, est: shape(), req: 0, gpuMB: []uint64{0}, cpuMB: 1352},
		{name: "a number is honoured", devs: []Device{gpu("CUDA0", 2000)}, est: shape(), req: 4,
			split: []float32{4}, gpuMB: []uint64{520}, cpuMB: 50 + 6*120 + 60 + 40 + 2},
		{name: "more than the model has", devs: []Device{gpu("CUDA0", 2000)}, est: shape(), req: 50,
			split: []float32{11}, gpuMB: []uint64{1300}, cpuMB: 57},
		{name: "-1 fits", devs: []Device{gpu("CUDA0", 1300)}, est: shape(), req: all,
			split: []float32{11}, gpuMB: []uint64{1300}, cpuMB: 57},
		{name: "-1 does not fit", devs: []Device{gpu("CUDA0", 1000)}, est: shape(), req: all,
			err: "11 layers on GPUs need 1.3GiB on CUDA0 (Test GPU), but 1000MiB is free there"},
		{name: "a number does not fit", devs: []Device{gpu("CUDA0", 300)}, est: shape(), req: 4,
			err: "4 layers on GPUs need 520MiB on CUDA0 (Test GPU), but 300MiB is free there"},
		// Split evenly the second GPU needs 705 of its 600.
		{name: "-1 does not fit two GPUs", devs: []Device{gpu("CUDA0", 600), gpu("CUDA1", 600)}, est: shape(), req: all,
			err: "need 705MiB on CUDA1 (Test GPU), but 600MiB is free there"},
		{name: "-1 without a GPU", est: shape(), req: all, err: "11 layers asked for on GPUs, but there is no GPU"},
		{name: "no GPU has memory", devs: []Device{gpu("CUDA0", 0)}, est: shape(), req: all,
			err: "need 1.3GiB on CUDA0 (Test GPU), but 0B is free there"},
		{name: "no per-layer sizes", devs: []Device{gpu("CUDA0", 2000)}, est: gguf.Estimate{Weights: 7, Total: 9}, req: auto,
			gpuMB: []uint64{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Place(tt.devs, tt.est, tt.req)
			if tt.err != "" {
				var nf *NoFitError
				if !errors.As(err, &nf) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want a NoFitError with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.TensorSplit, tt.split) {
				t.Errorf("tensor split %v, want %v", p.TensorSplit, tt.split)
			}
			var gpuLayers int
			for _, c := range tt.split {
				gpuLayers += int(c)
			}
			if p.GPULayers != gpuLayers {
				t.Errorf("GPULayers %d, want %d", p.GPULayers, gpuLayers)
			}
			if len(p.GPUs) != len(tt.gpuMB) {
				t.Fatalf("%d GPUs in the plan, want %d", len(p.GPUs), len(tt.gpuMB))
			}
			for i, u := range p.GPUs {
				if u.Bytes != tt.gpuMB[i]*mib {
					t.Errorf("%s holds %.1fMiB, want %dMiB", u.Device.ID, float64(u.Bytes)/mib, tt.gpuMB[i])
				}
				if u.Bytes > u.Device.Free {
					t.Errorf("%s holds %d bytes of its %d free", u.Device.ID, u.Bytes, u.Device.Free)
				}
				if tt.split != nil && u.Layers != int(tt.split[i]) {
					t.Errorf("%s has %d layers, split says %v", u.Device.ID, u.Layers, tt.split[i])
				}
			}
			if tt.cpuMB == 0 {
				tt.cpuMB = tt.est.Total / mib
			}
			if p.CPU.Bytes != tt.cpuMB*mib && !(len(tt.est.Layers) == 0 && p.CPU.Bytes == tt.est.Total) {
				t.Errorf("CPU holds %.1fMiB, want %dMiB", float64(p.CPU.Bytes)/mib, tt.cpuMB)
			}
			if len(tt.est.Layers) == 0 {
				return
			}
			if p.Layers() != len(tt.est.Layers)+1 || p.CPU.Layers != p.Layers()-p.GPULayers {
				t.Errorf("layers: %d in all, %d on the CPU, %d on GPUs", p.Layers(), p.CPU.Layers, p.GPULayers)
			}
			// Every weight is somewhere once; a tied head offloaded is a copy.
			weights := p.CPU.Weights
			for _, u := range p.GPUs {
				weights += u.Weights
			}
			want := tt.est.Weights
			if p.GPULayers == p.Layers() {
				want += tt.est.TiedOutput
			}
			if weights != want {
				t.Errorf("weights placed %d, model has %d", weights, want)
			}
		})
	}
}
