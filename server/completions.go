package server

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/server/apierror"
	"github.com/labstack/echo/v4"
)

type completionRequest struct {
	genParams
	Prompt   json.RawMessage `json:"prompt"`
	Echo     *bool           `json:"echo"`
	Suffix   *string         `json:"suffix"`
	Logprobs *int            `json:"logprobs"`
	BestOf   *int            `json:"best_of"`
}

// prompt is one completions prompt: text or token ids.
type prompt struct {
	text   string
	tokens []int
}

// textSize is the bytes of text in prompts (token-id prompts need no
// tokenizing; the body limit and the context bound them).
func textSize(prompts []prompt) int {
	n := 0
	for _, p := range prompts {
		n += len(p.text)
	}
	return n
}

// parsePrompts accepts every form OpenAI does: a string, an array of
// strings, an array of token ids, or an array of token-id arrays.
func parsePrompts(raw json.RawMessage, param string) ([]prompt, error) {
	if isNull(raw) {
		return nil, apierror.InvalidParam(param, "Missing required parameter: '%s'.", param)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []prompt{{text: s}}, nil
	}
	var strs []string
	if json.Unmarshal(raw, &strs) == nil && len(strs) > 0 {
		out := make([]prompt, len(strs))
		for i, s := range strs {
			out[i] = prompt{text: s}
		}
		return out, nil
	}
	var toks []int
	if json.Unmarshal(raw, &toks) == nil && len(toks) > 0 {
		return []prompt{{tokens: toks}}, nil
	}
	var batches [][]int
	if json.Unmarshal(raw, &batches) == nil && len(batches) > 0 {
		out := make([]prompt, len(batches))
		for i, t := range batches {
			if len(t) == 0 {
				return nil, apierror.InvalidParam(param, "Invalid '%s': token array %d is empty.", param, i)
			}
			out[i] = prompt{tokens: t}
		}
		return out, nil
	}
	return nil, apierror.New(400, apierror.TypeInvalidRequest, "invalid_type", param,
		"Invalid '%s': expected a non-empty string, array of strings, array of token ids or array of token-id arrays.", param)
}

func (s *Server) completions(c echo.Context, r *request) error {
	var req completionRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	var err error
	if r.user, r.model, err = s.generativeModel(r, &req.genParams); err != nil {
		return err
	}
	prompts, err := parsePrompts(req.Prompt, "prompt")
	if err != nil {
		return err
	}
	suffix := pick(req.Suffix, nil, "")
	if err := s.checkPromptSize("prompt", textSize(prompts)+len(suffix)); err != nil {
		return err
	}
	if suffix != "" && slices.ContainsFunc(prompts, func(p prompt) bool { return p.tokens != nil }) {
		return apierror.InvalidParam("suffix", "'suffix' needs a text prompt, not token ids.")
	}
	if req.BestOf != nil && *req.BestOf != req.choices() {
		return apierror.InvalidParam("best_of", "'best_of' is not supported; leave it unset or equal to 'n'.")
	}
	base, err := req.toEngine(r.model)
	if err != nil {
		return err
	}
	if err := applyMaxTokens(&base, "max_tokens", req.MaxTokens, r.model); err != nil {
		return err
	}
	if err := setLogprobs(&base, req.Logprobs != nil, req.Logprobs, "logprobs"); err != nil {
		return err
	}
	echoPrompt := req.Echo != nil && *req.Echo
	if echoPrompt && req.Logprobs != nil {
		// Clients send both to score a text (lm-evaluation-harness reads
		// token_logprobs from the prompt's length on). Without logprobs
		// for the prompt's tokens they would silently score the wrong
		// ones; OpenAI refuses the pair for its current models too.
		return apierror.InvalidParam("logprobs", "Setting 'echo' and 'logprobs' at the same time is not supported: "+
			"log probabilities are computed for generated tokens only, not for the prompt's.")
	}
	r.maxTokens, r.capOnly, r.prompts = base.MaxTokens, req.MaxTokens == nil, len(prompts)
	return s.generate(c, r, &generation{
		promptParam: "prompt", params: &req.genParams,
		build: func(m Model) ([]engine.GenerateRequest, error) {
			reqs := make([]engine.GenerateRequest, len(prompts))
			for i, p := range prompts {
				q := base
				q.Prompt, q.PromptTokens = p.text, p.tokens
				if suffix != "" {
					// Fill in the middle: the model writes what goes
					// between the prompt and the suffix.
					toks, err := m.FillInMiddle(p.text, suffix)
					if err != nil {
						return nil, err
					}
					q.Prompt, q.PromptTokens = "", toks
				}
				reqs[i] = q
			}
			return reqs, nil
		},
		renderer: func(m Model) renderer {
			rd := newTextRenderer(r.model.Name, s.fingerprint(r.model), len(prompts)*base.N, base.Logprobs)
			rd.nullUsage = req.includeUsage()
			if echoPrompt {
				for i, p := range prompts {
					text := p.text
					if p.tokens != nil && m != nil {
						// Shown as the model reads it; errors leave it empty.
						text, _ = m.Detokenize(p.tokens)
					}
					for j := range base.N {
						rd.setEcho(i*base.N+j, text)
					}
				}
			}
			return rd
		},
	})
}

// textRenderer builds text_completion objects and chunks.
type textRenderer struct {
	id, model   string
	fingerprint string
	created     int64
	logprobs    bool
	nullUsage   bool // chunks carry "usage": null (include_usage)
	echo        []string
	text        []string
	offset      []int
	lps         []*textLogprobs
	finish      []string
}

func newTextRenderer(model, fingerprint string, choices int, logprobs bool) *textRenderer {
	return &textRenderer{
		id: "cmpl-" + newID(), model: model, fingerprint: fingerprint, created: time.Now().Unix(), logprobs: logprobs,
		echo: make([]string, choices), text: make([]string, choices), offset: make([]int, choices),
		lps: make([]*textLogprobs, choices), finish: make([]string, choices),
	}
}

func (r *textRenderer) setEcho(i int, text string) {
	r.echo[i] = text
	r.text[i] = text
	r.offset[i] = len(text)
}

func (r *textRenderer) newChunk(ch textChoice) *textCompletion {
	return &textCompletion{ID: r.id, Object: "text_completion", Created: r.created, Model: r.model,
		SystemFingerprint: r.fingerprint, Choices: []textChoice{ch}, Usage: chunkUsage{null: r.nullUsage}}
}

func (r *textRenderer) opening() []any {
	var out []any
	for i, e := range r.echo {
		if e != "" {
			out = append(out, r.newChunk(textChoice{Index: i, Text: e}))
		}
	}
	return out
}

func (r *textRenderer) valid(i int) bool { return i >= 0 && i < len(r.text) }

func (r *textRenderer) chunk(ev engine.Event) any {
	if !r.valid(ev.Index) {
		return nil
	}
	ch := textChoice{Index: ev.Index, Text: ev.Text}
	if r.logprobs && len(ev.Logprobs) > 0 {
		ch.Logprobs = &textLogprobs{}
		r.offset[ev.Index] = appendTextLogprobs(ch.Logprobs, ev.Logprobs, r.offset[ev.Index])
	}
	if ev.FinishReason != "" {
		fr := finishReason(ev.FinishReason)
		ch.FinishReason = &fr
	}
	return r.newChunk(ch)
}

func (r *textRenderer) add(ev engine.Event) {
	if !r.valid(ev.Index) {
		return
	}
	i := ev.Index
	if r.logprobs {
		if r.lps[i] == nil {
			r.lps[i] = &textLogprobs{}
		}
		r.offset[i] = appendTextLogprobs(r.lps[i], ev.Logprobs, r.offset[i])
	}
	r.text[i] += ev.Text
	if ev.FinishReason != "" {
		r.finish[i] = finishReason(ev.FinishReason)
	}
}

func (r *textRenderer) response(u engine.Usage) any {
	resp := &textCompletion{ID: r.id, Object: "text_completion", Created: r.created, Model: r.model,
		SystemFingerprint: r.fingerprint, Usage: chunkUsage{usageJSON: usageOf(u)}, Choices: make([]textChoice, len(r.text))}
	for i := range r.text {
		fr := r.finish[i]
		if fr == "" {
			fr = "stop"
		}
		ch := textChoice{Index: i, Text: r.text[i], FinishReason: &fr}
		if r.logprobs {
			ch.Logprobs = r.lps[i]
			if ch.Logprobs == nil {
				ch.Logprobs = &textLogprobs{}
			}
		}
		resp.Choices[i] = ch
	}
	return resp
}

func (r *textRenderer) choices() int { return len(r.text) }

func (r *textRenderer) usageChunk(u engine.Usage) any {
	return &textCompletion{ID: r.id, Object: "text_completion", Created: r.created, Model: r.model,
		SystemFingerprint: r.fingerprint, Choices: []textChoice{}, Usage: chunkUsage{usageJSON: usageOf(u)}}
}
