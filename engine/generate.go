package engine

// The caller's side of a generation: Generate checks a request and turns
// it into the scheduler's request value (tokens, sampler settings, choices)
// before anything reaches llama.cpp, whose asserts would abort the process
// (docs/reliability.md). The scheduling loop is scheduler.go.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/ggufd/ggufd/engine/internal/llamacpp"
)

// Generate queues a request and returns its stream at once. Errors here are
// request errors (*InvalidRequestError, *PromptTooLongError, ErrQueueFull,
// ErrClosed, ErrEmbeddingModel).
func (m *Model) Generate(ctx context.Context, req GenerateRequest) (*Stream, error) {
	if m.opts.Embeddings {
		return nil, ErrEmbeddingModel
	}
	// Held from prepare, which tokenizes and builds the sampler on the
	// llama model, to the send: the scheduler frees the model once Close
	// has run, and Close waits for this.
	if err := m.useModel(); err != nil {
		return nil, err
	}
	defer m.doneWithModel()
	r, err := m.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	if int(m.queued.Add(1)) > m.opts.QueueDepth {
		m.queued.Add(-1)
		r.discard()
		return nil, ErrQueueFull
	}
	m.submit <- r // never blocks: the channel holds QueueDepth requests
	return r.stream, nil
}

// prepare validates and tokenizes a request on the caller's goroutine, so
// that the scheduler only ever sees requests it can run.
func (m *Model) prepare(ctx context.Context, req GenerateRequest) (r *request, err error) {
	if req.N <= 0 {
		req.N = 1
	}
	if req.N > m.opts.Parallel {
		return nil, &InvalidRequestError{Param: "n", Message: fmt.Sprintf("n is %d, but this model runs at most %d sequences at once", req.N, m.opts.Parallel)}
	}
	if req.MaxTokens < 0 {
		return nil, &InvalidRequestError{Param: "max_tokens", Message: "must not be negative"}
	}
	if req.TopLogprobs < 0 || req.TopLogprobs > maxTopLogprobs {
		return nil, &InvalidRequestError{Param: "top_logprobs", Message: fmt.Sprintf("must be between 0 and %d", maxTopLogprobs)}
	}
	var prompt []int32
	var media *promptMedia
	switch {
	case len(req.Images) > 0 && req.PromptTokens != nil:
		return nil, &InvalidRequestError{Param: "images", Message: "images need a text prompt with image markers, not token ids"}
	case len(req.Images) > 0:
		prompt, media, err = m.tokenizeWithImages(req.Prompt, req.Images)
		if err != nil {
			return nil, err
		}
		defer func() {
			if r == nil {
				media.free()
			}
		}()
	case req.PromptTokens != nil:
		prompt, err = m.checkTokens("prompt", req.PromptTokens)
		if err != nil {
			return nil, err
		}
	default:
		prompt, err = m.tokenizePrompt(req.Prompt)
		if err != nil {
			return nil, &InvalidRequestError{Param: "prompt", Message: err.Error()}
		}
	}
	if len(prompt) == 0 {
		return nil, &InvalidRequestError{Param: "prompt", Message: "the prompt is empty"}
	}
	// At least one position must stay free for a generated token.
	if len(prompt) >= m.info.ContextLength {
		return nil, &PromptTooLongError{PromptTokens: len(prompt), ContextLength: m.info.ContextLength}
	}
	sp, err := m.samplerParams(req)
	if err != nil {
		return nil, err
	}
	r = &request{ctx: ctx, prompt: prompt, media: media, req: req, sampler: sp, stream: newStream(), enqueued: time.Now(),
		preserved: m.specialTokens(req.PreservedTokens)}
	// Build the samplers now: a bad grammar is the caller's error, and the
	// scheduler goroutine should not spend its time parsing grammars.
	for i := 0; i < req.N; i++ {
		p := sp
		p.Seed = sp.Seed + uint32(i)
		s, err := llamacpp.NewSampler(m.lm, p)
		if err != nil {
			for _, c := range r.choices {
				c.sampler.Free()
			}
			if errors.Is(err, llamacpp.ErrGrammar) {
				param := "grammar"
				if req.Grammar == "" {
					param = "response_format"
				}
				return nil, &InvalidRequestError{Param: param, Message: "the grammar could not be parsed"}
			}
			return nil, err
		}
		s.FeedHistory(prompt)
		r.choices = append(r.choices, &choice{index: i, sampler: s, filter: newTextFilter(req.Stop), outIdx: -1})
	}
	r.live = req.N
	return r, nil
}

// maxRepeatLastN bounds the penalty window a request may ask for beyond the
// context length: llama.cpp allocates a ring buffer of that many tokens per
// choice, so an unbounded value is an unbounded allocation.
func (m *Model) repeatLastN(n int) (int, error) {
	switch {
	case n < -1:
		return 0, &InvalidRequestError{Param: "repeat_last_n", Message: fmt.Sprintf("must be -1 (the whole context), 0 (default) or more, got %d", n)}
	case n == -1 || n > m.info.ContextLength:
		return m.info.ContextLength, nil
	}
	return n, nil
}

// checkSampling rejects values llama.cpp's samplers would turn into NaN
// logits or other undefined states. The HTTP layer keeps OpenAI's narrower
// ranges; the engine only insists on what keeps the process safe.
func checkSampling(s SamplingParams) error {
	for _, f := range []struct {
		name string
		v    float32
	}{
		{"temperature", s.Temperature}, {"top_p", s.TopP}, {"min_p", s.MinP},
		{"repeat_penalty", s.RepeatPenalty}, {"presence_penalty", s.PresencePenalty},
		{"frequency_penalty", s.FrequencyPenalty},
	} {
		if math.IsNaN(float64(f.v)) || math.IsInf(float64(f.v), 0) {
			return &InvalidRequestError{Param: f.name, Message: "must be a finite number"}
		}
	}
	if s.TopK < 0 {
		return &InvalidRequestError{Param: "top_k", Message: "must not be negative"}
	}
	for tok, b := range s.LogitBias {
		if math.IsNaN(float64(b)) || math.IsInf(float64(b), 1) {
			return &InvalidRequestError{Param: "logit_bias", Message: fmt.Sprintf("the bias of token %d must be a finite number or -inf", tok)}
		}
	}
	return nil
}

func (m *Model) samplerParams(req GenerateRequest) (llamacpp.SamplerParams, error) {
	s := req.Sampling
	if err := checkSampling(s); err != nil {
		return llamacpp.SamplerParams{}, err
	}
	lastN, err := m.repeatLastN(s.RepeatLastN)
	if err != nil {
		return llamacpp.SamplerParams{}, err
	}
	s.RepeatLastN = lastN
	sp := llamacpp.SamplerParams{
		Temperature:      s.Temperature,
		TopK:             s.TopK,
		TopP:             s.TopP,
		MinP:             s.MinP,
		RepeatLastN:      s.RepeatLastN,
		RepeatPenalty:    s.RepeatPenalty,
		FrequencyPenalty: s.FrequencyPenalty,
		PresencePenalty:  s.PresencePenalty,
		Grammar:          req.Grammar,
	}
	if s.Seed != nil {
		sp.Seed = uint32(*s.Seed)
	} else {
		sp.Seed = rand.Uint32()
	}
	if len(s.LogitBias) > 0 || req.IgnoreEOS {
		sp.LogitBias = make(map[int32]float32, len(s.LogitBias)+len(m.eogs))
		n := m.lm.NVocab()
		for tok, b := range s.LogitBias {
			if tok < 0 || tok >= n {
				return sp, &InvalidRequestError{Param: "logit_bias", Message: fmt.Sprintf("token id %d is outside the vocabulary (0..%d)", tok, n-1)}
			}
			sp.LogitBias[int32(tok)] = b
		}
		if req.IgnoreEOS {
			for _, t := range m.eogs {
				sp.LogitBias[t] = float32(math.Inf(-1))
			}
		}
		banned := 0
		for _, b := range sp.LogitBias {
			if math.IsInf(float64(b), -1) {
				banned++
			}
		}
		if banned >= n {
			return sp, &InvalidRequestError{Param: "logit_bias", Message: "logit_bias (with ignore_eos) bans every token of the vocabulary: nothing could be generated"}
		}
	}
	if sp.Grammar == "" && len(req.JSONSchema) > 0 {
		g, err := SchemaToGrammar(req.JSONSchema)
		if err != nil {
			return sp, &InvalidRequestError{Param: "response_format", Message: err.Error()}
		}
		sp.Grammar = g
	}
	if sp.Grammar != "" {
		if err := checkGrammar(sp.Grammar); err != nil {
			param := "grammar"
			if req.Grammar == "" {
				param = "response_format"
			}
			return sp, &InvalidRequestError{Param: param, Message: err.Error()}
		}
	}
	return sp, nil
}
