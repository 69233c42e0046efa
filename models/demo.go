package models

import (
	"fmt"
	"path/filepath"

	"github.com/ggufd/ggufd/engine/gguf"
)

// VisionDemoName is the vision demo model written beside the demo model:
// the "vision-demo" preset, a tiny model with a projector (random weights),
// so that image input can be tried on first run too.
const VisionDemoName = "demo-vision-random"

// writeDemoModel writes the "demo" preset (a tiny llama with random weights
// and a ChatML template) to path, and the vision demo (VisionDemoName, with
// its projector) beside it.
func writeDemoModel(path string) error {
	for _, d := range []struct{ preset, path string }{
		{"demo", path},
		{"vision-demo", filepath.Join(filepath.Dir(path), VisionDemoName+".gguf")},
	} {
		spec, err := gguf.Preset(d.preset)
		if err != nil {
			return fmt.Errorf("demo model: %w", err)
		}
		if err := gguf.Synthesize(d.path, spec); err != nil {
			return fmt.Errorf("demo model: %w", err)
		}
	}
	return nil
}
