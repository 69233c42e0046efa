package main

import (
	"log/slog"
	"strings"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine"
)

// logDevices loads the backend libraries (so their problems are logged
// before any model load) and logs one line per device, and one line saying
// why ggufd computes on the CPU only when it does.
func logDevices(logger *slog.Logger) {
	devs := engine.Devices()
	backends := engine.LoadedBackends()
	for _, d := range devs {
		attrs := []any{"name", d.Name, "kind", d.Kind, "description", d.Description, "id", d.ID,
			"total", config.FormatBytes(d.TotalBytes), "free", config.FormatBytes(d.FreeBytes)}
		if d.Kind == "cpu" {
			attrs = append(attrs, "features", strings.Join(backends.CPUFeatures, ","))
		}
		logger.Info("device", attrs...)
	}
	if why := engine.CPUOnlyReason(devs, backends); why != "" {
		logger.Info("running on the CPU only", "reason", why)
	}
}
