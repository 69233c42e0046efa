package llamacpp

/*
#include <stdlib.h>
#include "llama.h"
*/
import "C"

import (
	"errors"
	"math"
	"unsafe"
)

// SamplerParams configures a sampler chain. Zero values disable a stage.
type SamplerParams struct {
	Temperature      float32 // <= 0: greedy
	TopK             int
	TopP             float32
	MinP             float32
	Seed             uint32
	RepeatLastN      int
	RepeatPenalty    float32
	FrequencyPenalty float32
	PresencePenalty  float32
	LogitBias        map[int32]float32
	Grammar          string // GBNF with a "root" rule
}

// Sampler is a llama.cpp sampler chain: logit bias, penalties, grammar, then
// top-k / top-p / min-p / temperature and a seeded draw (or greedy).
type Sampler struct {
	chain     *C.struct_llama_sampler
	penalties *C.struct_llama_sampler // owned by chain; fed the prompt tail
}

// ErrGrammar is a grammar llama.cpp could not parse.
var ErrGrammar = errors.New("invalid grammar")

// NewSampler builds the chain for m.
func NewSampler(m *Model, sp SamplerParams) (*Sampler, error) {
	chain := C.llama_sampler_chain_init(C.llama_sampler_chain_params{no_perf: true})
	s := &Sampler{chain: chain}
	add := func(x *C.struct_llama_sampler) { C.llama_sampler_chain_add(chain, x) }

	if len(sp.LogitBias) > 0 {
		biases := make([]C.llama_logit_bias, 0, len(sp.LogitBias))
		for tok, b := range sp.LogitBias {
			bias := C.float(b)
			if math.IsInf(float64(b), -1) {
				bias = C.float(math.Inf(-1))
			}
			biases = append(biases, C.llama_logit_bias{token: C.llama_token(tok), bias: bias})
		}
		add(C.llama_sampler_init_logit_bias(C.int32_t(m.NVocab()), C.int32_t(len(biases)), &biases[0]))
	}
	if sp.RepeatPenalty > 0 && sp.RepeatPenalty != 1 || sp.FrequencyPenalty != 0 || sp.PresencePenalty != 0 {
		rp := sp.RepeatPenalty
		if rp <= 0 {
			rp = 1
		}
		lastN := sp.RepeatLastN
		if lastN == 0 {
			lastN = 64
		}
		s.penalties = C.llama_sampler_init_penalties(C.int32_t(lastN), C.float(rp), C.float(sp.FrequencyPenalty), C.float(sp.PresencePenalty))
		add(s.penalties)
	}
	if sp.Grammar != "" {
		cg := C.CString(sp.Grammar)
		root := C.CString("root")
		g := C.llama_sampler_init_grammar(m.vocab, cg, root)
		C.free(unsafe.Pointer(cg))
		C.free(unsafe.Pointer(root))
		if g == nil {
			C.llama_sampler_free(chain)
			return nil, ErrGrammar
		}
		add(g)
	}
	if sp.Temperature <= 0 {
		add(C.llama_sampler_init_greedy())
		return s, nil
	}
	if sp.TopK > 0 {
		add(C.llama_sampler_init_top_k(C.int32_t(sp.TopK)))
	}
	if sp.TopP > 0 && sp.TopP < 1 {
		add(C.llama_sampler_init_top_p(C.float(sp.TopP), 1))
	}
	if sp.MinP > 0 {
		add(C.llama_sampler_init_min_p(C.float(sp.MinP), 1))
	}
	add(C.llama_sampler_init_temp(C.float(sp.Temperature)))
	add(C.llama_sampler_init_dist(C.uint32_t(sp.Seed)))
	return s, nil
}

// FeedHistory tells the penalty stage about tokens already in the context
// (the prompt) without advancing the grammar.
func (s *Sampler) FeedHistory(tokens []int32) {
	if s.penalties == nil {
		return
	}
	for _, t := range tokens {
		C.llama_sampler_accept(s.penalties, C.llama_token(t))
	}
}

// Sample draws the next token from the logits of batch position idx and
// accepts it into every stage (penalties history, grammar state).
func (s *Sampler) Sample(c *Context, idx int) int32 {
	return int32(C.llama_sampler_sample(s.chain, c.p, C.int32_t(idx)))
}

// Free releases the chain and its stages.
func (s *Sampler) Free() {
	if s.chain != nil {
		C.llama_sampler_free(s.chain)
		s.chain = nil
	}
}
