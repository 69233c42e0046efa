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
	maxStacks int64                   // 0: the grammar's stacks are not checked
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
	// GrammarTooAmbiguous: the token was accepted, but the grammar now
	// follows more than MaxGrammarStacks readings of the output.
	GrammarTooAmbiguous
)

// MaxGrammarStacks bounds the grammar's parse stacks (one per way to read
// the output so far). Each sampling step tests every candidate token
// against every stack and each accepted character compares every new
// stack with the others, so an ambiguous grammar such as
// root ::= "a" root "b" | "a" root "c" | "" (stacks doubling per token)
// stalls the scheduler, and with it every request on the model. Measured
// unbounded on stories260K (TestGrammarAmbiguityIsBounded, AMD EPYC), time
// per token: 8th 3.4 ms, 10th 17 ms, 11th 58 ms, 12th 0.2 s, 13th 0.8 s,
// 14th 3.2 s, 15th 15 s; 1,024 stacks are reached at the 10th. Larger
// vocabularies cost proportionally more per stack. The engine's static
// check (maxGrammarPaths) uses the same bound, so that a grammar it
// accepts, e.g. an enum of many strings, is not refused at its first
// token.
const MaxGrammarStacks = 1024

// ErrLayout is returned by GrammarStacks when this llama.cpp's private
// grammar layout is not the one sample.cpp was written against.
var ErrLayout = errors.New("the grammar sampler's layout is not the pinned llama.cpp's")

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
		if C.ggufd_grammar_layout_ok(g, C.size_t(len(sp.Grammar))) {
			s.maxStacks = MaxGrammarStacks
		}
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
	tok := C.ggufd_sample(s.chain, s.selector, s.grammar, C.int64_t(s.maxStacks), c.p, C.int32_t(idx), &s.cands[0], C.int32_t(len(s.cands)))
	switch tok {
	case C.GGUFD_SAMPLE_AMBIGUOUS:
		return -1, GrammarTooAmbiguous
	case C.GGUFD_SAMPLE_NONE:
		return -1, NoCandidate
	case C.GGUFD_SAMPLE_FAILED:
		return -1, SampleFailed
	}
	return int32(tok), Sampled
}

// GrammarStacks is the grammar's current number of parse stacks, or
// ErrLayout where they cannot be read (then they are not bounded either).
func (s *Sampler) GrammarStacks() (int, error) {
	if s.grammar == nil || s.maxStacks == 0 {
		return 0, ErrLayout
	}
	return int(C.ggufd_grammar_stacks(s.grammar)), nil
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
