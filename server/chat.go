package server

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/engine/toolformat"
	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server/apierror"
	"github.com/labstack/echo/v4"
)

type chatRequest struct {
	genParams
	Messages            []wireMessage   `json:"messages"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Logprobs            *bool           `json:"logprobs"`
	TopLogprobs         *int            `json:"top_logprobs"`
	Tools               json.RawMessage `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	// Functions and FunctionCall are OpenAI's deprecated forms of tools
	// and tool_choice: refused by name rather than ignored (see chat).
	Functions    json.RawMessage `json:"functions"`
	FunctionCall json.RawMessage `json:"function_call"`
	// ReasoningFormat and ChatTemplateKwargs are llama-server's extensions.
	ReasoningFormat    *string                    `json:"reasoning_format"`
	ChatTemplateKwargs map[string]json.RawMessage `json:"chat_template_kwargs"`
}

// templateInput validates messages and template variables into the chat
// template's input and lists the messages' images (which the input marks
// with engine.ImageMarker()); /v1/chat/completions and /apply-template
// share it so the latter shows exactly the prompt the model sees. Tools are
// offered unless tool_choice is "none".
func templateInput(msgs []wireMessage, tools chatTools, kwargs map[string]json.RawMessage, addGenerationPrompt bool) (engine.ChatRequest, []imageRef, error) {
	messages, images, err := toTemplateMessages(msgs)
	if err != nil {
		return engine.ChatRequest{}, nil, err
	}
	extra, err := templateKwargs(kwargs)
	if err != nil {
		return engine.ChatRequest{}, nil, err
	}
	req := engine.ChatRequest{Messages: messages, AddGenerationPrompt: addGenerationPrompt, Extra: extra}
	if tools.offered() {
		req.Tools = tools.defs
	}
	return req, images, nil
}

// withSystemPrompt puts the model's configured system prompt before a
// conversation that has no system message of its own.
// A system message anywhere counts: a second one would be the model's
// and the client's both, and strict templates (Llama-2, Mistral) refuse a
// system message after the first turn.
func withSystemPrompt(msgs []engine.ChatMessage, prompt string) []engine.ChatMessage {
	if prompt == "" || slices.ContainsFunc(msgs, func(m engine.ChatMessage) bool { return m["role"] == "system" }) {
		return msgs
	}
	return append([]engine.ChatMessage{{"role": "system", "content": prompt}}, msgs...)
}

// renderPrompt renders the conversation for a loaded model in its
// family's conventions; it returns the prompt and the family.
func renderPrompt(m Model, e models.Entry, tmpl engine.ChatRequest) (string, toolformat.Format, error) {
	f := chatFormat(e, m)
	prompt, err := m.ApplyChatTemplate(withTemplateIDs(tmpl, f))
	return prompt, f, err
}

func (s *Server) chatCompletions(c echo.Context, r *request) error {
	var req chatRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	var err error
	if r.user, r.model, err = s.generativeModel(r, &req.genParams); err != nil {
		return err
	}
	base, err := req.toEngine(r.model)
	if err != nil {
		return err
	}
	maxParam, maxVal := "max_tokens", req.MaxTokens
	if req.MaxCompletionTokens != nil {
		maxParam, maxVal = "max_completion_tokens", req.MaxCompletionTokens
	}
	if err := applyMaxTokens(&base, maxParam, maxVal, r.model); err != nil {
		return err
	}
	if err := setLogprobs(&base, req.Logprobs != nil && *req.Logprobs, req.TopLogprobs, "top_logprobs"); err != nil {
		return err
	}
	if err := s.checkPromptSize("messages", messagesSize(req.Messages, req.Tools, req.ChatTemplateKwargs)); err != nil {
		return err
	}
	for _, legacy := range []struct {
		param string
		raw   json.RawMessage
	}{{"functions", req.Functions}, {"function_call", req.FunctionCall}} {
		// Ignored, a forced function_call silently became plain text, and
		// the client's function agent failed further on; told, it can
		// switch to tools, which every current OpenAI client speaks.
		if !isNull(legacy.raw) {
			return apierror.InvalidParam(legacy.param, "The deprecated '%s' parameter is not supported; send 'tools' and 'tool_choice' instead.", legacy.param)
		}
	}
	tools, err := parseChatTools(req.Tools, req.ToolChoice, req.ParallelToolCalls)
	if err != nil {
		return err
	}
	separateReasoning, err := reasoningFormat(req.ReasoningFormat)
	if err != nil {
		return err
	}
	tmpl, refs, err := templateInput(req.Messages, tools, req.ChatTemplateKwargs, true)
	if err != nil {
		return err
	}
	tmpl.Messages = withSystemPrompt(tmpl.Messages, r.model.Model.SystemPrompt)
	images, err := s.loadImages(c.Request().Context(), r.model, tmpl, refs)
	if err != nil {
		return err
	}
	r.maxTokens, r.capOnly, r.prompts, r.promptBytes = base.MaxTokens, maxVal == nil, 1, promptBytes(c.Request().ContentLength, refs)
	var spec *outputSpec // set once the model is loaded
	return s.generate(c, r, &generation{
		promptParam: "messages", params: &req.genParams,
		build: func(m Model) ([]engine.GenerateRequest, error) {
			prompt, f, err := renderPrompt(m, r.model, tmpl)
			if err != nil {
				return nil, err
			}
			r := base
			r.Prompt = prompt
			spec = &outputSpec{format: f, opts: toolformat.Options{Reasoning: separateReasoning, InReasoning: f.OpensReasoning(prompt)}}
			if tools.offered() {
				spec.opts.Tools = tools.tools
				if !tools.parallel {
					spec.maxCalls = 1
				}
			}
			r.PreservedTokens = f.PreservedTokens()
			if forced := tools.forced(); forced != nil {
				g, err := f.Grammar(toolformat.GrammarOptions{Tools: forced, Parallel: tools.parallel && tools.choice == "required",
					InReasoning: spec.opts.InReasoning}, engine.SchemaToGrammar)
				if err != nil {
					return nil, apierror.InvalidParam("tools", "Invalid 'tools': %v.", err)
				}
				// The forced call wins over response_format, which shapes
				// text answers.
				r.Grammar, r.JSONSchema = g, nil
			}
			r.Images = images
			return []engine.GenerateRequest{r}, nil
		},
		renderer: func(Model) renderer {
			rd := newChatRenderer(r.model.Name, s.fingerprint(r.model), base.N, base.Logprobs, spec)
			rd.nullUsage = req.includeUsage()
			return rd
		},
	})
}

// chatRenderer builds chat.completion objects and chunks.
type chatRenderer struct {
	id, model   string
	fingerprint string
	created     int64
	logprobs    bool
	nullUsage   bool // chunks carry "usage": null (include_usage)
	out         []*choiceOutput
	lps         [][]chatTokenLogprob
	finish      []string
}

// newChatRenderer renders n choices; spec says how to parse them (nil:
// the text is the content).
func newChatRenderer(model, fingerprint string, n int, logprobs bool, spec *outputSpec) *chatRenderer {
	n = max(n, 1)
	r := &chatRenderer{
		id: "chatcmpl-" + newID(), model: model, fingerprint: fingerprint, created: time.Now().Unix(), logprobs: logprobs,
		out: make([]*choiceOutput, n), lps: make([][]chatTokenLogprob, n), finish: make([]string, n),
	}
	for i := range r.out {
		r.out[i] = newChoiceOutput(spec)
	}
	return r
}

func (r *chatRenderer) newChunk(choices []chatChunkChoice) *chatChunk {
	return &chatChunk{ID: r.id, Object: "chat.completion.chunk", Created: r.created, Model: r.model,
		SystemFingerprint: r.fingerprint, Choices: choices, Usage: chunkUsage{null: r.nullUsage}}
}

func (r *chatRenderer) opening() []any {
	out := make([]any, 0, len(r.out))
	empty := ""
	for i := range r.out {
		out = append(out, r.newChunk([]chatChunkChoice{{Index: i, Delta: chatDelta{Role: "assistant", Content: &empty}}}))
	}
	return out
}

func (r *chatRenderer) chunk(ev engine.Event) any {
	if ev.Index < 0 || ev.Index >= len(r.out) {
		return nil
	}
	o := r.out[ev.Index]
	p := o.push(ev.Text, ev.Tokens, ev.FinishReason != "")
	ch := chatChunkChoice{Index: ev.Index, Delta: chatDelta{ToolCalls: p.calls}}
	if p.content != "" {
		ch.Delta.Content = &p.content
	}
	if p.reasoning != "" {
		ch.Delta.ReasoningContent = &p.reasoning
	}
	if r.logprobs && len(ev.Logprobs) > 0 {
		ch.Logprobs = &chatLogprobs{Content: toChatLogprobs(ev.Logprobs)}
	}
	if ev.FinishReason != "" {
		fr := o.finish(ev.FinishReason)
		ch.FinishReason = &fr
	}
	if ch.Delta.Content == nil && ch.Delta.ReasoningContent == nil && ch.Delta.ToolCalls == nil &&
		ch.Logprobs == nil && ch.FinishReason == nil {
		return nil // held back: may be the start of markup
	}
	return r.newChunk([]chatChunkChoice{ch})
}

func (r *chatRenderer) add(ev engine.Event) {
	if ev.Index < 0 || ev.Index >= len(r.out) {
		return
	}
	o := r.out[ev.Index]
	o.add(o.push(ev.Text, ev.Tokens, ev.FinishReason != ""))
	if r.logprobs {
		r.lps[ev.Index] = append(r.lps[ev.Index], toChatLogprobs(ev.Logprobs)...)
	}
	if ev.FinishReason != "" {
		r.finish[ev.Index] = o.finish(ev.FinishReason)
	}
}

func (r *chatRenderer) response(u engine.Usage) any {
	resp := &chatCompletion{ID: r.id, Object: "chat.completion", Created: r.created, Model: r.model,
		SystemFingerprint: r.fingerprint, Usage: r.usage(u), Choices: make([]chatChoice, len(r.out))}
	for i, o := range r.out {
		content, calls := o.content.String(), o.toolCalls()
		ch := chatChoice{Index: i, Message: chatMessage{Role: "assistant", Content: &content, ToolCalls: calls},
			FinishReason: r.finish[i]}
		if content == "" && len(calls) > 0 {
			ch.Message.Content = nil // only tool calls
		}
		if reasoning := o.reasoning.String(); reasoning != "" {
			ch.Message.ReasoningContent = &reasoning
		}
		if ch.FinishReason == "" {
			ch.FinishReason = "stop"
		}
		if r.logprobs {
			ch.Logprobs = &chatLogprobs{Content: r.lps[i]}
			if ch.Logprobs.Content == nil {
				ch.Logprobs.Content = []chatTokenLogprob{}
			}
		}
		resp.Choices[i] = ch
	}
	return resp
}

// usage adds the reasoning tokens, which are billed as completion tokens.
func (r *chatRenderer) usage(u engine.Usage) *usageJSON {
	out := usageOf(u)
	reasoning := 0
	for _, o := range r.out {
		reasoning += o.reasoningTokens
	}
	out.CompletionTokensDetails = &completionTokenDetail{ReasoningTokens: reasoning}
	return out
}

func (r *chatRenderer) choices() int { return len(r.out) }

func (r *chatRenderer) usageChunk(u engine.Usage) any {
	ch := r.newChunk([]chatChunkChoice{})
	ch.Usage = chunkUsage{usageJSON: r.usage(u)}
	return ch
}
