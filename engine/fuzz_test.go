package engine

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/ggufd/ggufd/internal/sharedtest"
)

// fuzzModels are loaded once per fuzzing process: the trained TinyStories
// model and the random-weights model with the real Llama-2 vocabulary.
var fuzzModels = struct {
	once sync.Once
	m    [2]*Model
	err  error
}{}

func fuzzModel(t *testing.T, which uint8) *Model {
	fuzzModels.once.Do(func() {
		for i, name := range []string{stories, "llama-2-tiny-random.gguf"} {
			fuzzModels.m[i], fuzzModels.err = Load(context.Background(), sharedtest.Model(t, name), LoadOptions{ContextLength: 128, Parallel: 4, QueueDepth: 8})
			if fuzzModels.err != nil {
				return
			}
		}
	})
	if fuzzModels.err != nil {
		t.Fatal(fuzzModels.err)
	}
	return fuzzModels.m[which%2]
}

// FuzzGenerate drives the engine with arbitrary sampling parameters,
// grammars, JSON schemas, logit biases and token prompts. Everything a
// request can set reaches llama.cpp through these fields; whatever they
// hold, the call must end in a request error or a finished stream, never a
// crash (llama.cpp's asserts abort the process, which fails the fuzzer).
//
//	go test ./engine -run '^$' -fuzz FuzzGenerate -fuzztime 10m
func FuzzGenerate(f *testing.F) {
	type seed struct {
		model                             uint8
		prompt                            string
		tokens                            []byte
		temp, topP, minP, rep, freq, pres float32
		topK, lastN                       int
		seed                              uint64
		biasTok                           int
		biasVal                           float32
		banAll, ignoreEOS                 bool
		grammar, schema                   string
		n, maxTokens, topLogprobs         uint8
	}
	for _, s := range []seed{
		{prompt: "x", temp: 0.8, biasTok: 2, biasVal: -100, schema: `{"enum":[1]}`, maxTokens: 50},
		{prompt: "x", temp: 1, ignoreEOS: true, schema: `{"type":"boolean"}`, maxTokens: 50},
		{prompt: "x", temp: 1, ignoreEOS: true, schema: `{"type":"string","maxLength":0}`, maxTokens: 50},
		{prompt: "x", temp: 0.5, banAll: true, maxTokens: 5},
		{model: 1, prompt: "<s>[INST] hi [/INST]", temp: 0.7, topK: 40, topP: 0.9, minP: 0.05, maxTokens: 16, n: 3, topLogprobs: 5},
		{prompt: "Once upon a time", temp: 1e-38, rep: 3e38, freq: 3e38, pres: -3e38, lastN: 1 << 30, maxTokens: 8},
		{tokens: []byte{1, 0, 0, 0, 255, 255, 255, 127}, maxTokens: 4},
		{prompt: "x", grammar: `root ::= "a" root | "b"`, ignoreEOS: true, maxTokens: 40},
		{prompt: "x", grammar: `root ::= [^\x00-\x{10FFFF}]`, maxTokens: 4},
		{prompt: "x", grammar: `root ::= ("a"{0,2000})`, maxTokens: 4},
		{prompt: "x", schema: `{"type":"array","items":{"type":"integer"},"minItems":3,"maxItems":3}`, ignoreEOS: true, maxTokens: 60},
		{prompt: "x", schema: `{"$ref":"#"}`, maxTokens: 4},
		{model: 1, prompt: "x", temp: 2, topK: 1, n: 4, seed: 99, ignoreEOS: true, maxTokens: 130},
	} {
		f.Add(s.model, s.prompt, s.tokens, s.temp, s.topP, s.minP, s.rep, s.freq, s.pres, s.topK, s.lastN, s.seed,
			s.biasTok, s.biasVal, s.banAll, s.ignoreEOS, s.grammar, s.schema, s.n, s.maxTokens, s.topLogprobs)
	}
	f.Fuzz(func(t *testing.T, model uint8, prompt string, tokens []byte, temp, topP, minP, rep, freq, pres float32,
		topK, lastN int, seed uint64, biasTok int, biasVal float32, banAll, ignoreEOS bool, grammar, schema string,
		n, maxTokens, topLogprobs uint8) {
		m := fuzzModel(t, model)
		req := GenerateRequest{
			Prompt:    prompt,
			MaxTokens: int(maxTokens),
			IgnoreEOS: ignoreEOS,
			Grammar:   grammar,
			N:         int(n % 6),
			Logprobs:  topLogprobs > 0,
			Sampling: SamplingParams{
				Temperature: temp, TopP: topP, MinP: minP, TopK: topK,
				RepeatPenalty: rep, RepeatLastN: lastN, FrequencyPenalty: freq, PresencePenalty: pres,
				Seed: &seed, LogitBias: map[int]float32{biasTok: biasVal},
			},
			TopLogprobs: int(topLogprobs % 24),
		}
		if schema != "" {
			req.JSONSchema = []byte(schema)
		}
		if len(tokens) > 0 {
			// Four bytes a token id, any value (also out of range).
			for i := 0; i+4 <= len(tokens); i += 4 {
				req.PromptTokens = append(req.PromptTokens, int(int32(uint32(tokens[i])|uint32(tokens[i+1])<<8|uint32(tokens[i+2])<<16|uint32(tokens[i+3])<<24)))
			}
			if req.PromptTokens == nil {
				req.PromptTokens = []int{}
			}
		}
		if banAll {
			for tok := range m.Info().VocabSize {
				req.Sampling.LogitBias[tok] = float32(math.Inf(-1))
			}
		}
		// Below the fuzzer's 10 s hang detection; a cut request just ends cancelled.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := m.Generate(ctx, req)
		if err != nil {
			if !isRequestError(err) {
				t.Fatalf("Generate: unexpected error kind %T: %v", err, err)
			}
			return
		}
		for {
			ev, ok := st.Next()
			if !ok {
				t.Fatal("stream ended without Done")
			}
			if ev.Done {
				if ev.Err != nil && !isRequestError(ev.Err) {
					t.Fatalf("stream: unexpected error kind %T: %v", ev.Err, ev.Err)
				}
				return
			}
		}
	})
}

func isRequestError(err error) bool {
	var inv *InvalidRequestError
	var long *PromptTooLongError
	return errors.As(err, &inv) || errors.As(err, &long) || errors.Is(err, ErrQueueFull)
}
