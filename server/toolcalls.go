package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/engine/chattemplate"
	"github.com/ggufd/ggufd/engine/toolformat"
	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server/apierror"
)

// Tool calls and reasoning in chat completions. The model's family (see
// engine/toolformat) says how it writes them; this file turns the
// request's tools into what the template, the parser and the grammar need,
// and the parsed output into OpenAI's message and delta shapes.

// chatTools are a request's validated tools and tool_choice.
type chatTools struct {
	defs     []any // the definitions as sent, for the template
	tools    []toolformat.Tool
	choice   string // "auto", "none", "required" or "function"
	named    string // the function tool_choice names
	parallel bool   // parallel_tool_calls
}

// offered reports whether the model sees the tools and its calls are
// parsed (not for tool_choice "none").
func (t chatTools) offered() bool { return len(t.tools) > 0 && t.choice != "none" }

// forced returns the tools a call must use (tool_choice "required" or a
// named function), nil when the model may answer in text.
func (t chatTools) forced() []toolformat.Tool {
	switch t.choice {
	case "required":
		return t.tools
	case "function":
		for _, tool := range t.tools {
			if tool.Name == t.named {
				return []toolformat.Tool{tool}
			}
		}
	}
	return nil
}

type wireTool struct {
	Type     string `json:"type"`
	Function *struct {
		Name       *string         `json:"name"`
		Parameters json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// OpenAI's rule for function names.
var toolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// parseChatTools validates tools, tool_choice and parallel_tool_calls.
func parseChatTools(rawTools, rawChoice json.RawMessage, parallel *bool) (chatTools, error) {
	t := chatTools{choice: "auto", parallel: parallel == nil || *parallel}
	if !isNull(rawTools) {
		var list []json.RawMessage
		if err := json.Unmarshal(rawTools, &list); err != nil {
			return t, apierror.New(400, apierror.TypeInvalidRequest, "invalid_type", "tools",
				"Invalid type for 'tools': expected an array of tool definitions.")
		}
		seen := map[string]bool{}
		for i, raw := range list {
			tool, def, err := parseTool(raw, fmt.Sprintf("tools[%d]", i))
			if err != nil {
				return t, err
			}
			if seen[tool.Name] {
				return t, apierror.InvalidParam(fmt.Sprintf("tools[%d].function.name", i),
					"Invalid 'tools': the function name %q is used twice.", tool.Name)
			}
			seen[tool.Name] = true
			t.tools = append(t.tools, tool)
			t.defs = append(t.defs, def)
		}
	}
	if isNull(rawChoice) {
		return t, nil
	}
	var mode string
	if err := json.Unmarshal(rawChoice, &mode); err == nil {
		switch mode {
		case "none", "auto", "required":
			t.choice = mode
		default:
			return t, apierror.InvalidParam("tool_choice",
				"Invalid value for 'tool_choice': %q; expected 'none', 'auto', 'required' or a named function.", mode)
		}
	} else {
		var named struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if err := json.Unmarshal(rawChoice, &named); err != nil || named.Type != "function" || named.Function.Name == "" {
			return t, apierror.InvalidParam("tool_choice",
				`Invalid 'tool_choice': expected a string or {"type": "function", "function": {"name": ...}}.`)
		}
		if !hasTool(t.tools, named.Function.Name) {
			return t, apierror.InvalidParam("tool_choice",
				"Invalid 'tool_choice': function %q is not in 'tools'.", named.Function.Name)
		}
		t.choice, t.named = "function", named.Function.Name
	}
	if len(t.tools) == 0 && (t.choice == "required" || t.choice == "function") {
		return t, apierror.InvalidParam("tool_choice", "Invalid 'tool_choice': %q needs 'tools'.", t.choice)
	}
	return t, nil
}

func hasTool(tools []toolformat.Tool, name string) bool {
	return slices.ContainsFunc(tools, func(t toolformat.Tool) bool { return t.Name == name })
}

// parseTool validates one tool definition; def is what the template gets.
func parseTool(raw json.RawMessage, at string) (toolformat.Tool, any, error) {
	var w wireTool
	if err := json.Unmarshal(raw, &w); err != nil {
		return toolformat.Tool{}, nil, apierror.InvalidParam(at, "Invalid '%s': expected a tool definition object.", at)
	}
	if w.Type != "function" {
		return toolformat.Tool{}, nil, apierror.InvalidParam(at+".type", "Invalid '%s.type': %q; expected 'function'.", at, w.Type)
	}
	if w.Function == nil || w.Function.Name == nil {
		return toolformat.Tool{}, nil, apierror.InvalidParam(at+".function.name", "Missing required parameter: '%s.function.name'.", at)
	}
	name := *w.Function.Name
	if !toolNamePattern.MatchString(name) {
		return toolformat.Tool{}, nil, apierror.InvalidParam(at+".function.name",
			"Invalid '%s.function.name': %q; expected letters, digits, '_' or '-', at most 64.", at, name)
	}
	params := bytes.TrimSpace(w.Function.Parameters)
	if isNull(params) {
		params = nil
	} else if params[0] != '{' || !json.Valid(params) {
		return toolformat.Tool{}, nil, apierror.InvalidParam(at+".function.parameters",
			"Invalid '%s.function.parameters': expected a JSON Schema object.", at)
	}
	def, err := decodeJSONValue(raw)
	if err != nil {
		return toolformat.Tool{}, nil, apierror.InvalidParam(at, "Invalid '%s': %v.", at, err)
	}
	return toolformat.Tool{Name: name, Parameters: params}, def, nil
}

// reasoningFormat reads llama-server's reasoning_format: "none" keeps the
// model's text as written; "auto" and "deepseek" (the default) put
// reasoning in reasoning_content.
func reasoningFormat(v *string) (separate bool, err error) {
	if v == nil {
		return true, nil
	}
	switch *v {
	case "auto", "deepseek":
		return true, nil
	case "none":
		return false, nil
	}
	return false, apierror.InvalidParam("reasoning_format",
		"Invalid value for 'reasoning_format': %q; expected 'auto', 'deepseek' or 'none'.", *v)
}

// templateKwargs decodes chat_template_kwargs into template variables.
// The variables the request itself sets cannot be replaced.
func templateKwargs(raw map[string]json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		switch k {
		case "messages", "tools", "documents", "add_generation_prompt", "bos_token", "eos_token",
			"raise_exception", "strftime_now":
			return nil, apierror.InvalidParam("chat_template_kwargs."+k,
				"Invalid 'chat_template_kwargs': %q is set by the request itself.", k)
		}
		val, err := decodeJSONValue(v)
		if err != nil {
			return nil, apierror.InvalidParam("chat_template_kwargs."+k, "Invalid 'chat_template_kwargs.%s': %v.", k, err)
		}
		out[k] = val
	}
	return out, nil
}

// chatFormat is how the model writes tool calls and reasoning: configured,
// or detected from its chat template.
func chatFormat(e models.Entry, m Model) toolformat.Format {
	f := toolformat.Detect(m.Info().ChatTemplate)
	if family := e.Model.ToolFormat; family != "" {
		if g, err := f.WithFamily(family); err == nil { // the config checked the name
			f = g
		}
	}
	return f
}

// withTemplateIDs rewrites tool-call ids as the family's template wants
// them (Mistral's want nine characters), the same way for a call and for
// the tool result that answers it.
func withTemplateIDs(req engine.ChatRequest, f toolformat.Format) engine.ChatRequest {
	msgs := make([]engine.ChatMessage, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = m
		id, isResult := m["tool_call_id"].(string)
		calls, hasCalls := m["tool_calls"].([]any)
		if !isResult && !hasCalls {
			continue
		}
		cp := make(engine.ChatMessage, len(m))
		for k, v := range m {
			cp[k] = v
		}
		if isResult {
			cp["tool_call_id"] = f.TemplateCallID(id)
		}
		if hasCalls {
			out := make([]any, len(calls))
			for j, c := range calls {
				out[j] = c
				if cm, ok := c.(*chattemplate.Map); ok {
					if id, ok := cm.Get("id"); ok {
						if s, ok := id.(string); ok {
							cm = cloneMap(cm)
							cm.Set("id", f.TemplateCallID(s))
							out[j] = cm
						}
					}
				}
			}
			cp["tool_calls"] = out
		}
		msgs[i] = cp
	}
	req.Messages = msgs
	return req
}

func cloneMap(m *chattemplate.Map) *chattemplate.Map {
	cp := chattemplate.NewMap()
	for i, k := range m.Keys() {
		cp.Set(k, m.Values()[i])
	}
	return cp
}

// toolCallJSON is one call in a message.
type toolCallJSON struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function toolCallFunction `json:"function"`
}

type toolCallFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // JSON text, as OpenAI sends it
}

// toolCallDelta is a piece of a call in a stream: the first carries its
// id, type and name, the next ones fragments of its arguments.
type toolCallDelta struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function toolCallFragments `json:"function"`
}

type toolCallFragments struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// outputSpec is how a chat request's output is parsed.
type outputSpec struct {
	format   toolformat.Format
	opts     toolformat.Options
	maxCalls int // 1 when parallel_tool_calls is false; 0: any number
}

// choiceOutput parses one choice's text as it arrives.
type choiceOutput struct {
	parser   *toolformat.Parser // nil: the text is the content as it comes
	maxCalls int
	ids      []string // call ids by index

	// The whole message, for non-streaming responses.
	content, reasoning strings.Builder
	calls              []toolCallJSON
	args               []*strings.Builder // the calls' arguments by index
	reasoningTokens    int
}

func newChoiceOutput(spec *outputSpec) *choiceOutput {
	o := &choiceOutput{}
	if spec != nil && spec.format.NeedsParser(spec.opts) {
		o.parser = spec.format.NewParser(spec.opts)
		o.maxCalls = spec.maxCalls
	}
	return o
}

// outputPart is what one event added to a choice.
type outputPart struct {
	content, reasoning string
	calls              []toolCallDelta
}

// push parses an event's text (and the end of the choice when final).
func (o *choiceOutput) push(text string, tokens int, final bool) outputPart {
	if o.parser == nil {
		return outputPart{content: text}
	}
	before := o.parser.InReasoning()
	ds := o.parser.Push(text)
	if final {
		ds = append(ds, o.parser.Finish()...)
	}
	var p outputPart
	for _, d := range ds {
		if d.Kind != toolformat.Content && d.Kind != toolformat.Reasoning && o.maxCalls > 0 && d.Index >= o.maxCalls {
			continue // parallel_tool_calls false: the first call only
		}
		switch d.Kind {
		case toolformat.Content:
			p.content += d.Text
		case toolformat.Reasoning:
			p.reasoning += d.Text
		case toolformat.CallStart:
			id := "call_" + newID()
			o.ids = append(o.ids, id)
			p.calls = append(p.calls, toolCallDelta{Index: d.Index, ID: id, Type: "function",
				Function: toolCallFragments{Name: d.Name}})
		case toolformat.CallArgs:
			if n := len(p.calls); n > 0 && p.calls[n-1].Index == d.Index {
				p.calls[n-1].Function.Arguments += d.Text
			} else {
				p.calls = append(p.calls, toolCallDelta{Index: d.Index, Function: toolCallFragments{Arguments: d.Text}})
			}
		}
	}
	// Tokens written in a reasoning block, its tags included, are
	// reasoning tokens.
	if before || o.parser.InReasoning() || p.reasoning != "" {
		o.reasoningTokens += tokens
	}
	return p
}

// add accumulates a part into the whole message.
func (o *choiceOutput) add(p outputPart) {
	o.content.WriteString(p.content)
	o.reasoning.WriteString(p.reasoning)
	for _, c := range p.calls {
		if c.ID != "" {
			o.calls = append(o.calls, toolCallJSON{ID: c.ID, Type: "function", Function: toolCallFunction{Name: c.Function.Name}})
			o.args = append(o.args, new(strings.Builder))
		}
		o.args[c.Index].WriteString(c.Function.Arguments)
	}
}

// toolCalls is the whole message's calls. Their arguments are gathered in
// builders: appending each fragment to a string copied the arguments so
// far every time, quadratic in a long call (a whole file to write).
func (o *choiceOutput) toolCalls() []toolCallJSON {
	for i := range o.calls {
		o.calls[i].Function.Arguments = o.args[i].String()
	}
	return o.calls
}

// finish is the choice's finish reason: tool_calls when it made calls and
// stopped on its own.
func (o *choiceOutput) finish(r engine.FinishReason) string {
	fr := finishReason(r)
	if fr == "stop" && len(o.ids) > 0 {
		return "tool_calls"
	}
	return fr
}
