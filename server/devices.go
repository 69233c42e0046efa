package server

import "github.com/ggufd/ggufd/engine"

// DeviceInfo is what /health shows about the compute devices.
type DeviceInfo struct {
	Devices []engine.Device `json:"devices"`
	// CPUOnlyReason says why no GPU serves; empty when one does.
	CPUOnlyReason string `json:"cpu_only_reason,omitempty"`
}

// WithDevices makes /health list the devices; f is called per request, so
// free memory is current.
func WithDevices(f func() DeviceInfo) Option { return func(s *Server) { s.devices = f } }

// EngineDevices reads the engine's devices and why it runs on the CPU, if it does.
func EngineDevices() DeviceInfo {
	devs := engine.Devices()
	return DeviceInfo{Devices: devs, CPUOnlyReason: engine.CPUOnlyReason(devs, engine.LoadedBackends())}
}
