package models

import (
	"time"
)

// Speed is a model's compute per token: what per-second billing reserves
// from before a request runs.
type Speed struct {
	PromptToken time.Duration // per prompt token
	GenToken    time.Duration // per generated token of a sequence decoding alone
	// Measured is false while no request has run on the model since the
	// daemon started: the figures are then estimated from its size.
	Measured bool
}

// Until the engine has measured a model, its speed is estimated from the
// bytes of weights each generated token reads: generation is bound by
// memory bandwidth, assumed at estimateBandwidth (a CPU's, so a GPU only
// makes the estimate pessimistic), and a prompt token, evaluated in
// batches, at a tenth of a generated one's cost. It is used for the first
// reservation only, and it errs on the provider's side.
const (
	estimateBandwidth = 20e9 // bytes per second
	promptSpeedup     = 10
)

// estimateSpeed is the speed of a model of weightBytes before any
// measurement.
func estimateSpeed(weightBytes uint64) Speed {
	gen := time.Duration(float64(weightBytes) / estimateBandwidth * float64(time.Second))
	gen = max(gen, time.Microsecond)
	return Speed{GenToken: gen, PromptToken: max(gen/promptSpeedup, time.Microsecond)}
}

// measuredSpeed is what the engine's statistics say, if they say anything:
// a prompt cost not measured yet (it needs a prompt-only step of 16 tokens
// or more) is bounded by the generation cost.
func measuredSpeed(prompt, gen time.Duration) (Speed, bool) {
	if gen <= 0 {
		return Speed{}, false
	}
	if prompt <= 0 || prompt > gen {
		prompt = gen
	}
	return Speed{PromptToken: prompt, GenToken: gen, Measured: true}, true
}

// Speed is the compute per token of the model called name (a variant: its
// base's): measured on its instance while it is loaded, the last
// measurement after it unloads, else an estimate from its size.
func (m *Manager) Speed(name string) (Speed, error) {
	e, err := m.Lookup(name)
	if err != nil {
		return Speed{}, err
	}
	var (
		r      *runner
		model  LoadedModel
		last   Speed
		weight uint64
	)
	if !m.call(func() {
		if r = m.st.runners[e.Instance()]; r != nil {
			model, last, weight = r.model, r.speed, r.item.est.Weights
			if weight == 0 {
				weight = uint64(max(r.item.spec.Size, 1)) // no estimate: the file's size
			}
		}
	}) {
		return Speed{}, ErrClosed
	}
	if r == nil {
		return Speed{}, &NotFoundError{Name: name}
	}
	if model != nil {
		// Read outside the loop: an engine may take a moment to answer.
		st := model.Stats()
		if sp, ok := measuredSpeed(st.PromptTokenCost, st.GenTokenCost); ok {
			m.send(func() { r.speed = sp })
			return sp, nil
		}
	}
	if last.Measured {
		return last, nil
	}
	return estimateSpeed(weight), nil
}
