package llamacpp

/*
#include "ggml-backend.h"

static struct ggml_backend_feature *ggufd_features(void *fn, ggml_backend_reg_t reg) {
	return ((ggml_backend_get_features_t)fn)(reg);
}
static struct ggml_backend_feature *ggufd_next_feature(struct ggml_backend_feature *f) { return f + 1; }
*/
import "C"

import "unsafe"

// DeviceKind is ggml's device type.
type DeviceKind int

const (
	DeviceCPU DeviceKind = iota
	DeviceGPU
	DeviceIGPU
	DeviceAccel // e.g. BLAS: computes for the CPU device, holds no memory of its own
)

// Device is one ggml device as its backend reports it.
type Device struct {
	Name, Description, ID string
	Kind                  DeviceKind
	Total, Free           uint64
}

// Devices lists ggml's devices in registry order (best backend score first,
// which is the order llama.cpp picks them in); it calls Init. Memory is read
// now: a GPU's free memory changes as models load.
func Devices() []Device {
	Init()
	n := int(C.ggml_backend_dev_count())
	out := make([]Device, 0, n)
	for i := range n {
		d := C.ggml_backend_dev_get(C.size_t(i))
		var p C.struct_ggml_backend_dev_props
		C.ggml_backend_dev_get_props(d, &p)
		var free, total C.size_t
		C.ggml_backend_dev_memory(d, &free, &total)
		dev := Device{
			Name:        C.GoString(p.name),
			Description: C.GoString(p.description),
			Kind:        deviceKind(p._type),
			Total:       uint64(total),
			Free:        uint64(free),
		}
		// Ollama's ggml sets id (a GPU's UUID or index); upstream's field is
		// the PCI bus id. Either names the device more stably than its index.
		switch {
		case p.id != nil && C.GoString(p.id) != "":
			dev.ID = C.GoString(p.id)
		case p.device_id != nil:
			dev.ID = C.GoString(p.device_id)
		default:
			dev.ID = dev.Name
		}
		out = append(out, dev)
	}
	return out
}

func deviceKind(t C.enum_ggml_backend_dev_type) DeviceKind {
	switch t {
	case C.GGML_BACKEND_DEVICE_TYPE_GPU:
		return DeviceGPU
	case C.GGML_BACKEND_DEVICE_TYPE_IGPU:
		return DeviceIGPU
	case C.GGML_BACKEND_DEVICE_TYPE_ACCEL:
		return DeviceAccel
	default:
		return DeviceCPU
	}
}

// CPUFeatures lists the instruction-set features the CPU backend llama.cpp
// computes with was built for and found (e.g. "AVX2", "AVX512"): with CPU
// variant libraries it shows which variant was chosen.
func CPUFeatures() []string {
	Init()
	d := C.ggml_backend_dev_by_type(C.GGML_BACKEND_DEVICE_TYPE_CPU)
	if d == nil {
		return nil
	}
	reg := C.ggml_backend_dev_backend_reg(d)
	fn := withCString("ggml_backend_get_features", func(p *C.char) unsafe.Pointer { return C.ggml_backend_reg_get_proc_address(reg, p) })
	if fn == nil {
		return nil
	}
	var out []string
	for f := C.ggufd_features(fn, reg); f != nil && f.name != nil; f = C.ggufd_next_feature(f) {
		if v := C.GoString(f.value); v == "1" {
			out = append(out, C.GoString(f.name))
		} else {
			out = append(out, C.GoString(f.name)+"="+v)
		}
	}
	return out
}
