// Package chattemplate renders Hugging Face chat templates with the
// variables and helpers transformers' apply_chat_template provides, so a
// prompt comes out byte for byte as it would in Python.
package chattemplate

import (
	"fmt"
	"sort"
	"time"

	"github.com/ggufd/ggufd/engine/jinja"
)

// Template is a parsed chat template, reusable and safe for concurrent Render.
type Template struct {
	t *jinja.Template
}

// Parse parses a chat template's Jinja source.
func Parse(source string) (*Template, error) {
	t, err := jinja.Parse(source)
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	return &Template{t: t}, nil
}

// Context is what apply_chat_template passes to a template.
type Context struct {
	// Messages are the conversation: role, content, tool_calls (with
	// arguments as objects: an OpenAI request carries them as a JSON
	// string, decode it with DecodeJSON), name, tool_call_id,
	// reasoning_content, ... Values are JSON-like Go values (maps, slices,
	// strings, numbers, bools, nil) or values from DecodeJSON, which keep
	// JSON key order; plain maps are laid out in OpenAI key order.
	Messages            []map[string]any
	Tools               []any // nil: none (defined but None, as transformers passes it)
	Documents           []any // nil: none
	AddGenerationPrompt bool
	BOSToken, EOSToken  string
	Now                 time.Time      // strftime_now formats it; zero: time.Now()
	Extra               map[string]any // extra template variables (e.g. enable_thinking)
}

// keyOrder ranks the keys of OpenAI messages, tool calls and tool
// definitions in the order clients send them. Go maps have no order, but a
// template that prints a whole object (tool_call.function|tojson) shows it,
// so plain maps are laid out in this order, other keys sorted after.
// Values from DecodeJSON or a Map keep their own order.
var keyOrder = map[string]int{
	"role": 1, "content": 2, "reasoning_content": 3, "name": 4, "id": 5, "type": 6,
	"function": 7, "description": 8, "parameters": 9, "properties": 10, "required": 11,
	"arguments": 12, "tool_calls": 13, "tool_call_id": 14,
}

func orderedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := keyOrder[keys[i]], keyOrder[keys[j]]
		switch {
		case ri != 0 && rj != 0:
			return ri < rj
		case ri != 0 || rj != 0:
			return ri != 0
		}
		return keys[i] < keys[j]
	})
	return keys
}

// toValue converts request data for the template, laying out plain maps in
// OpenAI key order (see keyOrder); everything else goes through jinja.FromGo.
func toValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		d := jinja.NewDictSize(len(x))
		for _, k := range orderedKeys(x) {
			d.Set(k, toValue(x[k]))
		}
		return d
	case []map[string]any:
		items := make([]any, len(x))
		for i, it := range x {
			items[i] = toValue(it)
		}
		return jinja.NewList(items...)
	case []any:
		items := make([]any, len(x))
		for i, it := range x {
			items[i] = toValue(it)
		}
		return jinja.NewList(items...)
	}
	return jinja.FromGo(v)
}

func optionalList(items []any) any {
	if items == nil {
		return nil
	}
	return toValue(items)
}

// Render renders the template for one conversation.
func (t *Template) Render(c Context) (string, error) {
	msgs := make([]any, len(c.Messages))
	for i, m := range c.Messages {
		msgs[i] = toValue(m)
	}
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	vars := make(map[string]any, 10+len(c.Extra))
	for k, v := range c.Extra {
		vars[k] = toValue(v)
	}
	vars["messages"] = jinja.NewList(msgs...)
	vars["tools"] = optionalList(c.Tools)
	vars["documents"] = optionalList(c.Documents)
	vars["add_generation_prompt"] = c.AddGenerationPrompt
	vars["bos_token"] = c.BOSToken
	vars["eos_token"] = c.EOSToken
	vars["raise_exception"] = jinja.Func(raiseException)
	vars["strftime_now"] = jinja.Func(func(args []any, _ map[string]any) (any, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("strftime_now takes one format argument")
		}
		f, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("strftime_now format must be a string")
		}
		return Strftime(now, f), nil
	})
	out, err := t.t.Render(vars)
	if err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	return out, nil
}

// TemplateError is what raise_exception(msg) fails with.
type TemplateError struct{ Message string }

func (e *TemplateError) Error() string { return e.Message }

func raiseException(args []any, _ map[string]any) (any, error) {
	msg := ""
	if len(args) > 0 {
		if s, ok := args[0].(string); ok {
			msg = s
		} else {
			msg = fmt.Sprint(args[0])
		}
	}
	return nil, &TemplateError{Message: msg}
}

// DecodeJSON parses JSON into values that keep object key order, for tool
// definitions and tool-call arguments passed to templates.
func DecodeJSON(data []byte) (any, error) { return jinja.DecodeJSON(data) }

// Map is the insertion-ordered map templates see for JSON objects; build
// one with NewMap or get one from DecodeJSON.
type Map = jinja.Dict

// NewMap returns an empty ordered map.
func NewMap() *Map { return jinja.NewDict() }
