package engine

import (
	"strings"
	"testing"
)

func TestCPUOnlyReason(t *testing.T) {
	cpu := Device{Name: "CPU", Kind: "cpu"}
	gpu := Device{Name: "CUDA0", Kind: "gpu"}
	cases := []struct {
		name string
		devs []Device
		b    Backends
		want string // substring; "" means no reason (a GPU serves)
	}{
		{"a GPU serves", []Device{gpu, cpu}, Backends{Dir: "/x", Loaded: []string{"libggml-cuda.so"}}, ""},
		{"an integrated GPU serves", []Device{{Kind: "igpu"}, cpu}, Backends{Loaded: []string{"libggml-vulkan.so"}}, ""},
		{"no library", []Device{cpu}, Backends{Dir: "/opt/ggufd/lib/ggufd"}, "no GPU backend library in /opt/ggufd/lib/ggufd"},
		{"only a CPU variant", []Device{cpu}, Backends{Dir: "/d", Loaded: []string{"libggml-cpu-haswell.so"}}, "no GPU backend library in /d"},
		{"GPU library but no device or driver", []Device{cpu}, Backends{Dir: "/d", Loaded: []string{"libggml-cpu-icelake.so", "libggml-cuda.so"}}, "libggml-cuda.so loaded but found no usable device"},
		{"folder refused", []Device{cpu}, Backends{Dir: "/d", Problems: []string{"refused: /d is writable by group or others"}}, "writable by group or others"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := CPUOnlyReason(c.devs, c.b)
			if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
				t.Errorf("CPUOnlyReason = %q, want %q", got, c.want)
			}
		})
	}
}

// TestDevicesListsOneCPU: the binary's own CPU backend is always there, once,
// with the machine's memory.
func TestDevicesListsOneCPU(t *testing.T) {
	var cpus []Device
	for _, d := range Devices() {
		if d.Kind == "cpu" {
			cpus = append(cpus, d)
		}
	}
	if len(cpus) != 1 {
		t.Fatalf("CPU devices = %+v, want exactly one", cpus)
	}
	if d := cpus[0]; d.TotalBytes == 0 || d.FreeBytes == 0 || d.FreeBytes > d.TotalBytes || d.Name == "" {
		t.Errorf("CPU device = %+v, want a name and 0 < free <= total", d)
	}
	if len(LoadedBackends().CPUFeatures) == 0 {
		t.Error("no CPU features reported")
	}
}
