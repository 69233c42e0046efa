package server

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ggufd/ggufd/engine"
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
}

// templateInput validates messages and tools into the chat template's input
// and lists the messages' images (which the input marks with
// engine.ImageMarker()); /v1/chat/completions and /apply-template share it
// so the latter shows exactly the prompt the model sees.
func templateInput(msgs []wireMessage, tools, toolChoice json.RawMessage, addGenerationPrompt bool) (engine.ChatRequest, []imageRef, error) {
	messages, images, err := toTemplateMessages(msgs)
	if err != nil {
		return engine.ChatRequest{}, nil, err
	}
	req := engine.ChatRequest{Messages: messages, AddGenerationPrompt: addGenerationPrompt}
	if isNull(tools) || noneToolChoice(toolChoice) {
		return req, images, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(tools, &list); err != nil {
		return req, nil, apierror.New(400, apierror.TypeInvalidRequest, "invalid_type", "tools",
			"Invalid type for 'tools': expected an array of tool definitions.")
	}
	for i, raw := range list {
		v, err := decodeJSONValue(raw)
		if err != nil {
			return req, nil, apierror.InvalidParam(fmt.Sprintf("tools[%d]", i), "Invalid 'tools[%d]': %v.", i, err)
		}
		req.Tools = append(req.Tools, v)
	}
	return req, images, nil
}

// noneToolChoice reports tool_choice "none": the model must not see tools.
func noneToolChoice(raw json.RawMessage) bool {
	var s string
	return !isNull(raw) && json.Unmarshal(raw, &s) == nil && s == "none"
}

func (s *Server) chatCompletions(c echo.Context) error {
	var req chatRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	info, err := s.generativeModel(c, &req.genParams)
	if err != nil {
		return err
	}
	base, err := req.toEngine(info)
	if err != nil {
		return err
	}
	maxParam, maxVal := "max_tokens", req.MaxTokens
	if req.MaxCompletionTokens != nil {
		maxParam, maxVal = "max_completion_tokens", req.MaxCompletionTokens
	}
	if err := applyMaxTokens(&base, maxParam, maxVal, info); err != nil {
		return err
	}
	if err := setLogprobs(&base, req.Logprobs != nil && *req.Logprobs, req.TopLogprobs, "top_logprobs"); err != nil {
		return err
	}
	tmpl, refs, err := templateInput(req.Messages, req.Tools, req.ToolChoice, true)
	if err != nil {
		return err
	}
	images, err := s.loadImages(c.Request().Context(), info, tmpl, refs)
	if err != nil {
		return err
	}
	return s.serveGeneration(c, &generation{
		endpoint: "chat.completions", promptParam: "messages", params: &req.genParams, info: info, maxTokens: base.MaxTokens,
		bodyBytes: promptBytes(c.Request().ContentLength, refs),
		build: func(m Model) ([]engine.GenerateRequest, error) {
			prompt, err := m.ApplyChatTemplate(tmpl)
			if err != nil {
				return nil, err
			}
			r := base
			r.Prompt = prompt
			r.Images = images
			return []engine.GenerateRequest{r}, nil
		},
		renderer: func(Model) renderer {
			return newChatRenderer(info.ID, base.N, base.Logprobs, len(tmpl.Tools) > 0)
		},
	})
}

// chatRenderer builds chat.completion objects and chunks.
type chatRenderer struct {
	id, model string
	created   int64
	logprobs  bool
	tools     bool // the request offered tools: parse tool calls out of the text
	text      []string
	lps       [][]chatTokenLogprob
	finish    []string
	filters   []toolStreamFilter // per choice, when tools
}

func newChatRenderer(model string, n int, logprobs, tools bool) *chatRenderer {
	n = max(n, 1)
	r := &chatRenderer{
		id: "chatcmpl-" + newID(), model: model, created: time.Now().Unix(), logprobs: logprobs, tools: tools,
		text: make([]string, n), lps: make([][]chatTokenLogprob, n), finish: make([]string, n),
	}
	if tools {
		r.filters = make([]toolStreamFilter, n)
	}
	return r
}

func (r *chatRenderer) newChunk(choices []chatChunkChoice) *chatChunk {
	return &chatChunk{ID: r.id, Object: "chat.completion.chunk", Created: r.created, Model: r.model,
		SystemFingerprint: systemFingerprint, Choices: choices}
}

func (r *chatRenderer) opening() []any {
	out := make([]any, 0, len(r.text))
	empty := ""
	for i := range r.text {
		out = append(out, r.newChunk([]chatChunkChoice{{Index: i, Delta: chatDelta{Role: "assistant", Content: &empty}}}))
	}
	return out
}

func (r *chatRenderer) chunk(ev engine.Event) any {
	if ev.Index < 0 || ev.Index >= len(r.text) {
		return nil
	}
	ch := chatChunkChoice{Index: ev.Index}
	text := ev.Text
	if r.tools {
		text = r.filters[ev.Index].push(text)
	}
	if r.logprobs && len(ev.Logprobs) > 0 {
		ch.Logprobs = &chatLogprobs{Content: toChatLogprobs(ev.Logprobs)}
	}
	if ev.FinishReason != "" {
		fr := finishReason(ev.FinishReason)
		if r.tools {
			rest, calls := r.filters[ev.Index].finish(fr == "stop")
			text += rest
			if len(calls) > 0 {
				for i := range calls {
					calls[i].Index = &i
				}
				ch.Delta.ToolCalls = calls
				fr = "tool_calls"
			}
		}
		ch.FinishReason = &fr
	}
	if text != "" {
		ch.Delta.Content = &text
	}
	if text == "" && ch.Logprobs == nil && ch.FinishReason == nil {
		return nil // held back: may be the start of a tool call
	}
	return r.newChunk([]chatChunkChoice{ch})
}

func (r *chatRenderer) add(ev engine.Event) {
	if ev.Index < 0 || ev.Index >= len(r.text) {
		return
	}
	r.text[ev.Index] += ev.Text
	if r.logprobs {
		r.lps[ev.Index] = append(r.lps[ev.Index], toChatLogprobs(ev.Logprobs)...)
	}
	if ev.FinishReason != "" {
		r.finish[ev.Index] = finishReason(ev.FinishReason)
	}
}

func (r *chatRenderer) response(u engine.Usage) any {
	resp := &chatCompletion{ID: r.id, Object: "chat.completion", Created: r.created, Model: r.model,
		SystemFingerprint: systemFingerprint, Usage: usageOf(u), Choices: make([]chatChoice, len(r.text))}
	for i := range r.text {
		content := r.text[i]
		ch := chatChoice{Index: i, Message: chatMessage{Role: "assistant", Content: &content}, FinishReason: r.finish[i]}
		if ch.FinishReason == "" {
			ch.FinishReason = "stop"
		}
		if r.tools && ch.FinishReason == "stop" {
			if rest, calls, ok := splitToolCalls(content); ok {
				ch.Message.ToolCalls, ch.FinishReason = calls, "tool_calls"
				ch.Message.Content = nil
				if rest != "" {
					ch.Message.Content = &rest
				}
			}
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

func (r *chatRenderer) choices() int { return len(r.text) }

func (r *chatRenderer) usageChunk(u engine.Usage) any {
	ch := r.newChunk([]chatChunkChoice{})
	ch.Usage = usageOf(u)
	return ch
}
