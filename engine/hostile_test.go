package engine

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/internal/sharedtest"
)

func intsOf(toks []int32) []int {
	out := make([]int, len(toks))
	for i, t := range toks {
		out[i] = int(t)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// banAllBut returns a logit bias that bans every token of m except keep.
func banAllBut(m *Model, keep ...int) map[int]float32 {
	bias := map[int]float32{}
	for t := range m.Info().VocabSize {
		bias[t] = float32(math.Inf(-1))
	}
	for _, k := range keep {
		delete(bias, k)
	}
	return bias
}

// TestNoTokenLeftEndsCleanly covers requests where the sampler chain leaves
// nothing to draw. llama.cpp asserts in that state (llama_sampler_dist_apply:
// 'found'), which aborted the whole daemon; each must end cleanly instead.
func TestNoTokenLeftEndsCleanly(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 4})
	eos := int(m.lm.EOS())
	var inv *InvalidRequestError
	for _, tc := range []struct {
		name       string
		req        GenerateRequest
		wantPrep   string // param of an error from Generate itself
		wantStream string // param of an error at the end of the stream
		wantText   []string
	}{
		{
			name:     "audit: EOS banned by logit_bias after a one-token enum",
			req:      GenerateRequest{Prompt: "x", MaxTokens: 50, Sampling: SamplingParams{Temperature: 0.8, LogitBias: map[int]float32{eos: float32(math.Inf(-1))}}, JSONSchema: []byte(`{"enum":[1]}`)},
			wantText: []string{"1"},
		},
		{
			name:     "boolean schema with ignore_eos",
			req:      GenerateRequest{Prompt: "x", MaxTokens: 50, IgnoreEOS: true, Sampling: SamplingParams{Temperature: 1, Seed: ptr[uint64](7)}, JSONSchema: []byte(`{"type":"boolean"}`)},
			wantText: []string{"true", "false"},
		},
		{
			name:     "empty string schema with ignore_eos",
			req:      GenerateRequest{Prompt: "x", MaxTokens: 50, IgnoreEOS: true, Sampling: SamplingParams{Temperature: 1}, JSONSchema: []byte(`{"type":"string","maxLength":0}`)},
			wantText: []string{`""`},
		},
		{
			name:     "greedy: complete grammar with ignore_eos",
			req:      GenerateRequest{Prompt: "x", MaxTokens: 50, IgnoreEOS: true, JSONSchema: []byte(`{"type":"boolean"}`)},
			wantText: []string{"true", "false"},
		},
		{
			name:     "n=3: every choice stops at the grammar's end",
			req:      GenerateRequest{Prompt: "x", N: 3, MaxTokens: 50, IgnoreEOS: true, Sampling: SamplingParams{Temperature: 1}, JSONSchema: []byte(`{"enum":["yes","no"]}`)},
			wantText: []string{`"yes"`, `"no"`},
		},
		{
			name:     "logit_bias bans every token",
			req:      GenerateRequest{Prompt: "x", MaxTokens: 5, Sampling: SamplingParams{Temperature: 0.8, LogitBias: banAllBut(m)}},
			wantPrep: "logit_bias",
		},
		{
			name:     "logit_bias bans every token but EOS, and ignore_eos bans EOS",
			req:      GenerateRequest{Prompt: "x", MaxTokens: 5, IgnoreEOS: true, Sampling: SamplingParams{LogitBias: banAllBut(m, eos)}},
			wantPrep: "logit_bias",
		},
		{
			name:       "grammar needs a token that logit_bias bans",
			req:        GenerateRequest{Prompt: "x", MaxTokens: 5, Grammar: `root ::= "q"`, Sampling: SamplingParams{Temperature: 0.8, LogitBias: banAllBut(m, eos)}},
			wantStream: "logit_bias",
		},
		{
			name:       "greedy: grammar needs a token that logit_bias bans",
			req:        GenerateRequest{Prompt: "x", MaxTokens: 5, Grammar: `root ::= "q"`, Sampling: SamplingParams{LogitBias: banAllBut(m, eos)}},
			wantStream: "logit_bias",
		},
		{
			name: "tiny temperature overflows logits to +inf",
			req:  GenerateRequest{Prompt: "Once upon a time", MaxTokens: 8, Sampling: SamplingParams{Temperature: 1e-38, Seed: ptr[uint64](1)}},
		},
		{
			name: "huge finite penalties",
			req:  GenerateRequest{Prompt: "Once upon a time", MaxTokens: 8, Sampling: SamplingParams{Temperature: 0.7, FrequencyPenalty: 3e38, PresencePenalty: -3e38, RepeatPenalty: 3e38}},
		},
		{
			name: "repeat_last_n far beyond the context is capped",
			req:  GenerateRequest{Prompt: "Once upon a time", MaxTokens: 8, Sampling: SamplingParams{Temperature: 0.7, RepeatPenalty: 1.1, RepeatLastN: 1 << 30}},
		},
		{
			name:     "repeat_last_n below -1",
			req:      GenerateRequest{Prompt: "x", Sampling: SamplingParams{RepeatPenalty: 1.1, RepeatLastN: -2}},
			wantPrep: "repeat_last_n",
		},
		{
			name:     "NaN temperature",
			req:      GenerateRequest{Prompt: "x", Sampling: SamplingParams{Temperature: float32(math.NaN())}},
			wantPrep: "temperature",
		},
		{
			name:     "+inf logit bias",
			req:      GenerateRequest{Prompt: "x", Sampling: SamplingParams{LogitBias: map[int]float32{5: float32(math.Inf(1))}}},
			wantPrep: "logit_bias",
		},
		{
			name:     "grammar nested deeper than the C stack allows",
			req:      GenerateRequest{Prompt: "x", Grammar: "root ::= " + strings.Repeat("(", 200000) + `"a"` + strings.Repeat(")", 200000)},
			wantPrep: "grammar",
		},
		{
			name:     "nested repetitions that expand to millions of rules",
			req:      GenerateRequest{Prompt: "x", Grammar: `root ::= ("a"{0,1999}){0,1999}`},
			wantPrep: "grammar",
		},
		{
			name:     "schema nested 4000 levels",
			req:      GenerateRequest{Prompt: "x", JSONSchema: []byte(strings.Repeat(`{"type":"array","items":`, 4000) + `{"type":"integer"}` + strings.Repeat("}", 4000))},
			wantPrep: "response_format",
		},
		{
			name:     "schema with a huge minItems",
			req:      GenerateRequest{Prompt: "x", JSONSchema: []byte(`{"type":"array","items":{"type":"integer"},"minItems":100000000}`)},
			wantPrep: "response_format",
		},
		{
			name:     "prompt token ids outside the vocabulary",
			req:      GenerateRequest{PromptTokens: []int{1, 1 << 30}},
			wantPrep: "prompt",
		},
		{
			name:     "negative top_k",
			req:      GenerateRequest{Prompt: "x", Sampling: SamplingParams{TopK: -1}},
			wantPrep: "top_k",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := m.Generate(context.Background(), tc.req)
			if tc.wantPrep != "" {
				if !errors.As(err, &inv) || inv.Param != tc.wantPrep {
					t.Fatalf("Generate error = %v, want an invalid %s", err, tc.wantPrep)
				}
				return
			}
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			r := collect(t, st, max(tc.req.N, 1))
			if tc.wantStream != "" {
				if !errors.As(r.err, &inv) || inv.Param != tc.wantStream {
					t.Fatalf("stream error = %v, want an invalid %s", r.err, tc.wantStream)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("stream error: %v", r.err)
			}
			for i, text := range r.text {
				if tc.wantText != nil {
					if !contains(tc.wantText, text) {
						t.Errorf("choice %d: text %q, want one of %q", i, text, tc.wantText)
					}
					if r.finish[i] != FinishStop {
						t.Errorf("choice %d: finish %q, want stop", i, r.finish[i])
					}
				} else if r.usage.CompletionTokens == 0 {
					t.Errorf("nothing generated")
				}
			}
		})
	}
	// The model still serves afterwards.
	if r := generate(t, m, GenerateRequest{Prompt: "Once upon a time", MaxTokens: 4}); r.usage.CompletionTokens != 4 {
		t.Fatalf("after the hostile requests: %+v", r.usage)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == strings.TrimSpace(s) {
			return true
		}
	}
	return false
}

// TestPromptBOSOnce: templates that write <s> themselves (Llama-2,
// Mistral, Mixtral) must not get a second BOS from the tokenizer.
func TestPromptBOSOnce(t *testing.T) {
	m := loadModel(t, "llama-2-tiny-random.gguf", LoadOptions{ContextLength: 256, Parallel: 1})
	bos := int(m.lm.BOS())
	for _, tc := range []struct {
		text string
		want int // BOS tokens at the start
	}{
		{"<s>[INST] Hello [/INST]", 1},
		{"[INST] Hello [/INST]", 1},
		{"Hello <s> again", 1},
	} {
		toks, err := m.Tokenize(tc.text, true, true)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for n < len(toks) && toks[n] == bos {
			n++
		}
		if n != tc.want {
			t.Errorf("%q: %d leading BOS tokens (%v), want %d", tc.text, n, toks[:min(len(toks), 4)], tc.want)
		}
		// Apart from the BOS, the tokens are what llama.cpp makes of the text.
		raw, err := m.lm.Tokenize(tc.text, true, true)
		if err != nil {
			t.Fatal(err)
		}
		if raw[0] == raw[1] {
			raw = raw[1:]
		}
		if !slices.Equal(toks, intsOf(raw)) {
			t.Errorf("%q: tokens %v, llama.cpp without the doubled BOS %v", tc.text, toks, raw)
		}
		r := generate(t, m, GenerateRequest{Prompt: tc.text, MaxTokens: 1})
		if r.usage.PromptTokens != len(toks) {
			t.Errorf("%q: generation saw %d prompt tokens, /tokenize %d", tc.text, r.usage.PromptTokens, len(toks))
		}
	}
}

// TestSharedTemplatesBOSOnce renders the shared Llama-2, Mistral and Mixtral
// templates (which write <s> themselves) on the Llama-2 vocabulary and
// checks that the prompt starts with exactly one BOS.
func TestSharedTemplatesBOSOnce(t *testing.T) {
	for _, name := range []string{
		"meta-llama-Llama-2-7b-chat-hf.jinja",
		"mistralai-Mistral-7B-Instruct-legacy.jinja",
		"mistralai-Mixtral-8x7B-Instruct-v0.1.jinja",
	} {
		t.Run(name, func(t *testing.T) {
			src, err := readFile(filepath.Join(sharedtest.Dir(t), "chat-templates", name))
			if err != nil {
				t.Fatal(err)
			}
			m := loadModel(t, "llama-2-tiny-random.gguf", LoadOptions{ContextLength: 256, Parallel: 1, ChatTemplate: string(src)})
			text, err := m.ApplyChatTemplate(ChatRequest{Messages: []ChatMessage{{"role": "user", "content": "Hello"}}, AddGenerationPrompt: true})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(text, "<s>") {
				t.Fatalf("template does not write <s> itself: %q", text)
			}
			bos := int(m.lm.BOS())
			r := generate(t, m, GenerateRequest{Prompt: text, MaxTokens: 1})
			toks, err := m.Tokenize(text, true, true)
			if err != nil {
				t.Fatal(err)
			}
			if toks[0] != bos || toks[1] == bos || r.usage.PromptTokens != len(toks) {
				t.Fatalf("tokens start %v, generation saw %d of %d", toks[:3], r.usage.PromptTokens, len(toks))
			}
		})
	}
}

// TestTextTooLongToTokenize: llama_tokenize counts in int32, so text over
// the engine's own bound (far above any HTTP limit) is a request error from
// every path that tokenizes, never a call into llama.cpp.
func TestTextTooLongToTokenize(t *testing.T) {
	m := loadModel(t, "stories260K.gguf", LoadOptions{ContextLength: 128, Parallel: 1})
	huge := strings.Repeat("a", maxTextBytes+1)
	var invalid *InvalidRequestError
	if _, err := m.Tokenize(huge, true, true); !errors.As(err, &invalid) {
		t.Errorf("Tokenize: %v, want an invalid request error", err)
	}
	const why = "can be tokenized"
	if _, err := m.Generate(context.Background(), GenerateRequest{Prompt: huge, MaxTokens: 1}); err == nil || !strings.Contains(err.Error(), why) {
		t.Errorf("Generate with a prompt over the tokenizer's bound: %v", err)
	}
	e := loadModel(t, "stories260K.gguf", LoadOptions{ContextLength: 128, Parallel: 1, Embeddings: true})
	if _, err := e.Embed(context.Background(), EmbedRequest{Texts: []string{huge}}); err == nil || !strings.Contains(err.Error(), why) {
		t.Errorf("Embed with a text over the tokenizer's bound: %v", err)
	}
}

// TestBatchSizeBelowParallel: with a batch size smaller than Parallel,
// n > 1 choices (or several requests) put more tokens into one step than
// the context's batch allows, and llama_decode aborted the process
// (GGML_ASSERT(n_tokens_all <= n_batch)). The batch is at least Parallel.
func TestBatchSizeBelowParallel(t *testing.T) {
	runIsolated(t, 60*time.Second, func(t *testing.T) {
		m := loadModel(t, stories, LoadOptions{ContextLength: 32, Parallel: 2, BatchSize: 1})
		st, err := m.Generate(context.Background(), GenerateRequest{Prompt: "Once upon a time", N: 2, MaxTokens: 4, IgnoreEOS: true})
		if err != nil {
			t.Fatal(err)
		}
		if r := collect(t, st, 2); r.err != nil || len(r.text) != 2 {
			t.Fatalf("stream: %+v", r)
		}
	})
}
