package llamacpp

/*
#include <stdlib.h>
#include "llama.h"
#include "sample.h"
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
// top-k / top-p / min-p / temperature, and apart from the chain the selector:
// a seeded draw (or greedy). The selector is kept out of the chain so that
// Sample can check that any token is left to draw before it runs (see
// sample.cpp: llama.cpp asserts otherwise).
type Sampler struct {
	chain     *C.struct_llama_sampler
	selector  *C.struct_llama_sampler
	penalties *C.struct_llama_sampler // owned by chain; fed the prompt tail
	grammar   *C.struct_llama_sampler // owned by chain; nil without a grammar
	cands     []C.llama_token_data    // one candidate per vocabulary entry, reused
}

// SampleStatus says how a Sample call ended.
type SampleStatus int

const (
	// Sampled: a token was drawn and accepted into the chain.
	Sampled SampleStatus = iota
	// NoCandidate: the chain left no token that can be drawn (every token
	// banned by logit bias, or a grammar whose allowed tokens are all banned).
	NoCandidate
	// SampleFailed: llama.cpp failed (no logits for the row, an exception).
	SampleFailed
)

// ErrGrammar is a grammar llama.cpp could not parse.
var ErrGrammar = errors.New("invalid grammar")

// NewSampler builds the chain for m.
func NewSampler(m *Model, sp SamplerParams) (*Sampler, error) {
	chain := C.llama_sampler_chain_init(C.llama_sampler_chain_params{no_perf: true})
	s := &Sampler{chain: chain, cands: make([]C.llama_token_data, m.NVocab())}
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
		s.grammar = g
		add(g)
	}
	if sp.Temperature <= 0 {
		s.selector = C.llama_sampler_init_greedy()
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
	s.selector = C.llama_sampler_init_dist(C.uint32_t(sp.Seed))
	return s, nil
}

// FeedHistory tells the penalty stage about tokens already in the context
// (the prompt) without advancing the grammar. Negative ids stand for image
// positions (the engine's prompt-cache placeholders): they are no token to
// penalise, so they are skipped.
func (s *Sampler) FeedHistory(tokens []int32) {
	if s.penalties == nil {
		return
	}
	for _, t := range tokens {
		if t < 0 {
			continue
		}
		C.llama_sampler_accept(s.penalties, C.llama_token(t))
	}
}

// Sample draws the next token from the logits of batch position idx and
// accepts it into every stage (penalties history, grammar state). The token
// is valid only when the status is Sampled.
func (s *Sampler) Sample(c *Context, idx int) (int32, SampleStatus) {
	tok := C.ggufd_sample(s.chain, s.selector, c.p, C.int32_t(idx), &s.cands[0], C.int32_t(len(s.cands)))
	switch tok {
	case C.GGUFD_SAMPLE_NONE:
		return -1, NoCandidate
	case C.GGUFD_SAMPLE_FAILED:
		return -1, SampleFailed
	}
	return int32(tok), Sampled
}

// HasGrammar reports whether the chain has a grammar stage.
func (s *Sampler) HasGrammar() bool { return s.grammar != nil }

// GrammarAcceptsEnd reports whether the grammar is complete: one of the
// end-of-generation tokens eogs may come next. False without a grammar.
func (s *Sampler) GrammarAcceptsEnd(eogs []int32) bool {
	if s.grammar == nil || len(eogs) == 0 {
		return false
	}
	return bool(C.ggufd_grammar_accepts_end(s.grammar, (*C.llama_token)(unsafe.Pointer(&eogs[0])), C.int32_t(len(eogs))))
}

// Free releases the chain, its stages and the selector.
func (s *Sampler) Free() {
	if s.chain != nil {
		C.llama_sampler_free(s.chain)
		s.chain = nil
	}
	if s.selector != nil {
		C.llama_sampler_free(s.selector)
		s.selector = nil
	}
}
