package config

import (
	"fmt"
	"os"

	"github.com/shirou/gopsutil/v4/mem"

	"github.com/ggufd/ggufd/engine/gguf"
)

// memoryChecker tells how much memory a model needs loaded and how much the
// machine has. It is an interface so tests can pin both numbers.
type memoryChecker interface {
	// Need estimates the memory m takes loaded with its settings
	// (weights + KV cache for context × parallel + compute buffers).
	Need(c *Config, m Model) (uint64, error)
	// Memory returns the machine's total and currently available memory.
	Memory() (total, available uint64, err error)
	// GPUMemory is the total memory of the GPUs models may be offloaded
	// to (0: none known).
	GPUMemory() uint64
}

// memory flags models that can never fit (an error: the operator asked for
// more context × parallel than the machine has) and models that do not fit
// in what is available right now (a warning: other programs may exit). A
// model that may be offloaded (gpu_layers other than 0) can use the GPUs'
// memory as well; how it splits is decided when it loads.
func (p *parser) memory(c *Config, chk memoryChecker) {
	total, avail, err := chk.Memory()
	if err != nil {
		return // no numbers, nothing to compare against
	}
	ramBudget := total
	ramWhat := "the machine's memory"
	if c.MemoryLimit > 0 && uint64(c.MemoryLimit) < ramBudget {
		ramBudget = uint64(c.MemoryLimit)
		ramWhat = "memory_limit"
	}
	gpu := chk.GPUMemory()
	for _, m := range c.Models {
		if m.IsVariant() {
			continue // its base's instance is the one that loads
		}
		mm := c.WithDefaults(m)
		budget, what, avail := ramBudget, ramWhat, avail
		if gpu > 0 && *mm.GPULayers != 0 {
			budget += gpu
			what += " plus the GPUs'"
			avail += gpu
		}
		f := "models." + m.Name
		need, err := chk.Need(c, mm)
		if err != nil {
			// Not fatal here: the file may be mid-copy, and loading it
			// reports the problem on the model itself.
			w := &Error{File: p.file, Field: f + ".file", Msg: fmt.Sprintf("cannot estimate memory: %v", err)}
			if k := p.at(f); k != nil {
				w.Line, w.Column = k.Line, k.Column
			}
			c.Warnings = append(c.Warnings, w)
			continue
		}
		if need > budget {
			p.fieldErr(f, "needs about %s loaded (context %s × parallel %d), more than %s (%s); lower context or parallel, or use kv_cache_type q8_0",
				FormatBytes(need), ctxString(mm.Context), mm.Parallel, what, FormatBytes(budget))
			continue
		}
		if need+uint64(c.MemoryHeadroom) > avail {
			w := &Error{File: p.file, Field: f, Msg: fmt.Sprintf(
				"needs about %s loaded, but only %s is available now (memory_headroom %s); it loads only if memory frees up",
				FormatBytes(need), FormatBytes(avail), c.MemoryHeadroom)}
			if k := p.at(f); k != nil {
				w.Line, w.Column = k.Line, k.Column
			}
			c.Warnings = append(c.Warnings, w)
		}
	}
}

func ctxString(n int) string {
	if n == 0 {
		return "default"
	}
	return fmt.Sprint(n)
}

// ggufChecker estimates with the GGUF metadata of each file and reads the
// machine's memory from the OS.

type ggufChecker struct{ gpuTotal uint64 }

func (g ggufChecker) GPUMemory() uint64 { return g.gpuTotal }

func (ggufChecker) Need(c *Config, m Model) (uint64, error) {
	f, err := gguf.Open(m.File)
	if err != nil {
		return 0, err
	}
	need := f.Estimate(c.EstimateParams(m, f.ContextLength())).Total
	if proj := m.ProjectorFile(); proj != "" {
		// The projector's weights; its compute buffer is small beside them.
		st, err := os.Stat(proj)
		if err != nil {
			return 0, err
		}
		need += uint64(st.Size())
	}
	return need, nil
}

func (ggufChecker) Memory() (total, available uint64, err error) {
	vm, err := mem.VirtualMemory()
	if err != nil {
		return 0, 0, err
	}
	return vm.Total, vm.Available, nil
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
