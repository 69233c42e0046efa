package config

import (
	"fmt"

	"github.com/ggufd/ggufd/engine/gguf"
)

// Machine is the memory a configuration's models are checked against.
type Machine struct {
	Total     uint64 // system memory
	Available uint64 // system memory available now
	// GPU is the total memory of the GPUs models may be offloaded to (0:
	// none). Integrated GPUs share system memory and add nothing.
	GPU uint64
}

// CheckMemory flags the configured models that can never fit on mach (an
// error: the operator asked for more context × parallel than the machine
// has) and those that do not fit in what is available now (warnings: other
// programs may exit). need estimates a model's memory loaded (weights + KV
// cache for context × parallel + compute buffers); it gets the model with
// the defaults applied. A model that may be offloaded (gpu_layers other
// than 0) can use the GPUs' memory as well; how it splits is decided when
// it loads. Errors and warnings cite the file and line like Parse's.
func (c *Config) CheckMemory(mach Machine, need func(Model) (uint64, error)) (warnings []*Error, err error) {
	ramBudget := mach.Total
	ramWhat := "the machine's memory"
	if c.MemoryLimit > 0 && uint64(c.MemoryLimit) < ramBudget {
		ramBudget = uint64(c.MemoryLimit)
		ramWhat = "memory_limit"
	}
	var errs []*Error
	for _, m := range c.Models {
		if m.IsVariant() {
			continue // its base's instance is the one that loads
		}
		mm := c.WithDefaults(m)
		budget, what, avail := ramBudget, ramWhat, mach.Available
		if mach.GPU > 0 && *mm.GPULayers != 0 {
			budget += mach.GPU
			what += " plus the GPUs'"
			avail += mach.GPU
		}
		f := "models." + m.Name
		n, err := need(mm)
		switch {
		case err != nil:
			// Not fatal here: the file may be mid-copy, and loading it
			// reports the problem on the model itself.
			warnings = append(warnings, c.src.errorAt(f+".file", fmt.Sprintf("cannot estimate memory: %v", err)))
		case n > budget:
			errs = append(errs, c.src.errorAt(f, fmt.Sprintf(
				"needs about %s loaded (context %s × parallel %d), more than %s (%s); lower context or parallel, or use kv_cache_type q8_0",
				FormatBytes(n), ctxString(mm.Context), mm.Parallel, what, FormatBytes(budget))))
		case n+uint64(c.MemoryHeadroom) > avail:
			warnings = append(warnings, c.src.errorAt(f, fmt.Sprintf(
				"needs about %s loaded, but only %s is available now (memory_headroom %s); it loads only if memory frees up",
				FormatBytes(n), FormatBytes(avail), c.MemoryHeadroom)))
		}
	}
	if len(errs) > 0 {
		return warnings, &ValidationError{Errors: errs}
	}
	return warnings, nil
}

func ctxString(n int) string {
	if n == 0 {
		return "default"
	}
	return fmt.Sprint(n)
}

// ContextFor is the context length m loads with, given the file's trained
// length (0 when unknown): the model's own context as set, else the trained
// length capped at defaults.context (DefaultContext when that is unset) —
// a default far above what the file was trained on would only waste KV
// cache.
func (c *Config) ContextFor(m Model, trained int) int {
	if m.Context > 0 {
		return m.Context
	}
	limit := c.Defaults.Context
	if limit <= 0 {
		limit = DefaultContext
	}
	if trained <= 0 || trained > limit {
		return limit
	}
	return trained
}

// EstimateParams are the gguf estimate parameters for m (after
// WithDefaults) given the file's trained context length.
func (c *Config) EstimateParams(m Model, trained int) gguf.EstimateParams {
	return gguf.EstimateParams{
		ContextLength:  c.ContextFor(m, trained),
		Parallel:       max(m.Parallel, 1),
		KVCacheType:    m.KVCacheType,
		Embeddings:     m.Embeddings,
		FlashAttention: m.FlashAttention == "on",
	}
}
