package models

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ggufd/ggufd/config"
)

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("models: manager is closed")

// NotFoundError is a name that is neither a model nor an alias.
type NotFoundError struct {
	Name string
	// Suggestions are close names (edit distance or shared prefix), best
	// first; empty when nothing is close.
	Suggestions []string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("model %q not found", e.Name)
	if len(e.Suggestions) > 0 {
		msg += "; did you mean " + strings.Join(e.Suggestions, ", ") + "?"
	}
	return msg
}

// InsufficientMemoryError is a model that does not fit in memory even after
// every other model that could be unloaded is: in system memory, or on a
// GPU when its gpu_layers asks for layers there.
type InsufficientMemoryError struct {
	Model string
	// Device is the GPU that is short (e.g. "CUDA0"); "" for system
	// memory, or when GPULayers > 0, for asking layers of a machine
	// without GPU.
	Device     string
	DeviceName string // the GPU's description
	GPULayers  int    // layers asked for on GPUs; 0 for system memory
	Needed     uint64 // bytes the model needs on the device (estimate)
	Available  uint64 // bytes it could get there at most
}

func (e *InsufficientMemoryError) Error() string {
	need, avail := config.FormatBytes(e.Needed), config.FormatBytes(e.Available)
	switch {
	case e.GPULayers == 0:
		return fmt.Sprintf("model %s needs about %s of system memory but at most %s is available", e.Model, need, avail)
	case e.Device == "":
		return fmt.Sprintf("model %s: gpu_layers asks for %d layers on GPUs, but there is no GPU; use gpu_layers auto or 0",
			e.Model, e.GPULayers)
	}
	dev := e.Device
	if e.DeviceName != "" {
		dev += " (" + e.DeviceName + ")"
	}
	return fmt.Sprintf("model %s: %d layers on GPUs need about %s on %s but at most %s is free there; lower gpu_layers or use auto",
		e.Model, e.GPULayers, need, dev, avail)
}

// LoadFailedError is a model whose file could not be loaded (corrupt or
// truncated file, out of memory...). The next Acquire tries again.
type LoadFailedError struct {
	Model string
	Err   error
}

func (e *LoadFailedError) Error() string {
	return fmt.Sprintf("model %s failed to load: %v", e.Model, e.Err)
}

func (e *LoadFailedError) Unwrap() error { return e.Err }
