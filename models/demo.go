package models

import (
	"fmt"

	"github.com/ggufd/ggufd/engine/gguf"
)

// writeDemoModel writes the "demo" preset (a tiny llama with random weights
// and a ChatML template) to path.
func writeDemoModel(path string) error {
	spec, err := gguf.Preset("demo")
	if err != nil {
		return fmt.Errorf("demo model: %w", err)
	}
	if err := gguf.Synthesize(path, spec); err != nil {
		return fmt.Errorf("demo model: %w", err)
	}
	return nil
}
