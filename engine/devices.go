package engine

import (
	"fmt"
	"strings"

	"github.com/shirou/gopsutil/v4/mem"

	"github.com/ggufd/ggufd/engine/internal/llamacpp"
)

// Device is a device models can be placed on, with its memory now: a GPU's
// as its ggml backend reports it (it changes as models load), the CPU's the
// system's total and available memory.
type Device struct {
	ID          string `json:"id"`
	Name        string `json:"name"` // ggml's name, e.g. "CUDA0", "CPU"
	Description string `json:"description"`
	Kind        string `json:"kind"` // "cpu", "gpu" or "igpu"
	TotalBytes  uint64 `json:"total_bytes"`
	FreeBytes   uint64 `json:"free_bytes"`
}

// Devices lists the devices llama.cpp can use: GPUs first (in the order it
// assigns layers to them), then the one CPU device it computes on. When a
// CPU variant library is loaded, the binary's built-in CPU backend is a
// second CPU device that llama.cpp does not use; it is left out, as are
// accelerator devices (BLAS), which hold no memory of their own.
func Devices() []Device {
	var out []Device
	seenCPU := false
	for _, d := range llamacpp.Devices() {
		kind := ""
		switch d.Kind {
		case llamacpp.DeviceGPU:
			kind = "gpu"
		case llamacpp.DeviceIGPU:
			kind = "igpu"
		case llamacpp.DeviceCPU:
			if seenCPU {
				continue
			}
			seenCPU, kind = true, "cpu"
			// ggml reports all of the machine's memory as free on Linux;
			// the kernel's estimate of available memory is what can be used.
			if vm, err := mem.VirtualMemory(); err == nil {
				d.Free = min(vm.Available, d.Total)
			}
		default:
			continue
		}
		out = append(out, Device{ID: d.ID, Name: d.Name, Description: d.Description, Kind: kind, TotalBytes: d.Total, FreeBytes: d.Free})
	}
	return out
}

// Backends says which backend libraries were loaded at startup and from where.
type Backends struct {
	// Dir is the one folder backend libraries are loaded from
	// (<prefix>/lib/ggufd beside <prefix>/bin/ggufd).
	Dir string `json:"dir"`
	// Loaded are the library files ggml registered.
	Loaded []string `json:"loaded"`
	// Problems say why the folder or a library in it was not used.
	Problems []string `json:"problems,omitempty"`
	// CPUFeatures are the instruction-set features of the CPU backend in
	// use (which variant library was chosen, or what the binary was built for).
	CPUFeatures []string `json:"cpu_features"`
}

// LoadedBackends reports what was loaded (loading it on first use).
func LoadedBackends() Backends {
	s := llamacpp.Backends()
	return Backends{Dir: s.Dir, Loaded: s.Loaded, Problems: s.Problems, CPUFeatures: llamacpp.CPUFeatures()}
}

// CPUOnlyReason says why no GPU serves, or "" when one does.
func CPUOnlyReason(devs []Device, b Backends) string {
	for _, d := range devs {
		if d.Kind != "cpu" {
			return ""
		}
	}
	if len(b.Problems) > 0 {
		return strings.Join(b.Problems, "; ")
	}
	var gpuLibs []string
	for _, l := range b.Loaded {
		if !strings.HasPrefix(l, "libggml-cpu") {
			gpuLibs = append(gpuLibs, l)
		}
	}
	if len(gpuLibs) == 0 {
		return fmt.Sprintf("no GPU backend library in %s (build one with `make cuda`)", b.Dir)
	}
	return fmt.Sprintf("%s loaded but found no usable device: no GPU, or no driver (its own message is logged above)", strings.Join(gpuLibs, ", "))
}
