// Package chattemplate renders Hugging Face chat templates with the
// variables and helpers transformers' apply_chat_template provides, so a
// prompt comes out byte for byte as it would in Python.
package chattemplate

import (
	"fmt"
	"regexp"
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

// StringArguments returns msgs with every tool call's arguments as JSON
// text instead of an object. Transformers passes objects, and most
// templates print them with tojson, but some (DeepSeek's) concatenate them
// as strings; a render that fails with objects is retried this way.
// changed is false when no call had object arguments. msgs is not modified.
func StringArguments(msgs []map[string]any) (out []map[string]any, changed bool, err error) {
	out = make([]map[string]any, len(msgs))
	for i, m := range msgs {
		out[i] = m
		calls, ok := m["tool_calls"].([]any)
		if !ok {
			continue
		}
		newCalls := make([]any, len(calls))
		for j, c := range calls {
			nc, ch, err := stringCallArguments(c)
			if err != nil {
				return nil, false, fmt.Errorf("messages[%d].tool_calls[%d]: %w", i, j, err)
			}
			newCalls[j] = nc
			changed = changed || ch
		}
		cp := make(map[string]any, len(m))
		for k, v := range m {
			cp[k] = v
		}
		cp["tool_calls"] = newCalls
		out[i] = cp
	}
	return out, changed, nil
}

// stringCallArguments copies one call ({"function": {"arguments": …}})
// with its arguments as JSON text.
func stringCallArguments(call any) (any, bool, error) {
	fn, ok := lookup(call, "function")
	if !ok {
		return call, false, nil
	}
	args, ok := lookup(fn, "arguments")
	if _, isText := args.(string); !ok || isText {
		return call, false, nil
	}
	text, err := jinja.ToJSON(toValue(args))
	if err != nil {
		return nil, false, err
	}
	return replace(call, "function", replace(fn, "arguments", text)), true, nil
}

func lookup(v any, key string) (any, bool) {
	switch x := v.(type) {
	case *Map:
		return x.Get(key)
	case map[string]any:
		val, ok := x[key]
		return val, ok
	}
	return nil, false
}

// replace copies a map with key set to val, keeping the key order.
func replace(v any, key string, val any) any {
	switch x := v.(type) {
	case *Map:
		cp := jinja.NewDictSize(x.Len())
		for i, k := range x.Keys() {
			cp.Set(k, x.Values()[i])
		}
		cp.Set(key, val)
		return cp
	case map[string]any:
		cp := make(map[string]any, len(x))
		for k, v := range x {
			cp[k] = v
		}
		cp[key] = val
		return cp
	}
	return v
}

// EmptyContent returns msgs with null content (an assistant turn that only
// calls tools) as "". Transformers passes None, but many templates then
// fail (Qwen 3: None.startswith) or print "None" (GLM-4.5); the reference
// renderings of tool calls use "". changed is false when no content was
// null. msgs is not modified.
func EmptyContent(msgs []map[string]any) (out []map[string]any, changed bool) {
	out = make([]map[string]any, len(msgs))
	for i, m := range msgs {
		out[i] = m
		if v, ok := m["content"]; ok && v == nil {
			cp := make(map[string]any, len(m))
			for k, v := range m {
				cp[k] = v
			}
			cp["content"] = ""
			out[i] = cp
			changed = true
		}
	}
	return out, changed
}

// noneContentTest finds templates that tell null content from "" (DeepSeek's
// render tool calls only when content is none).
var noneContentTest = regexp.MustCompile(`content(?:'\]|"\])? is (?:not )?none`)

// TestsNullContent reports whether a template source tells null content
// from "" itself; others get "" (see EmptyContent).
func TestsNullContent(source string) bool { return noneContentTest.MatchString(source) }
