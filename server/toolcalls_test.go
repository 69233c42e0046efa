package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ggufd/ggufd/engine"
)

func TestSplitToolCalls(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		content string
		calls   []toolCallFunction
	}{
		{"none", "just text", "just text", nil},
		{"one", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"a\": 1}}\n</tool_call>", "",
			[]toolCallFunction{{Name: "get_weather", Arguments: `{"city": "Paris", "a": 1}`}}},
		{"text and two, unclosed last", "Let me check.\n<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call>\n<tool_call>{\"name\":\"b\"}", "Let me check.",
			[]toolCallFunction{{Name: "a", Arguments: `{}`}, {Name: "b", Arguments: `{}`}}},
		{"arguments as a string", `<tool_call>{"name":"a","arguments":"{\"x\":1}"}</tool_call>`, "",
			[]toolCallFunction{{Name: "a", Arguments: `{"x":1}`}}},
		{"not json", "<tool_call>call a()</tool_call>", "<tool_call>call a()</tool_call>", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			content, calls, ok := splitToolCalls(tc.text)
			if ok != (tc.calls != nil) || content != tc.content || len(calls) != len(tc.calls) {
				t.Fatalf("got %q %+v %v", content, calls, ok)
			}
			for i, c := range calls {
				if c.Function != tc.calls[i] || c.Type != "function" || !strings.HasPrefix(c.ID, "call_") {
					t.Errorf("call %d: %+v", i, c)
				}
			}
		})
	}
}

func TestToolStreamFilter(t *testing.T) {
	pieces := []string{"Sure", ". <to", "ol_call>{\"name\":", "\"f\",\"arguments\":{\"q\":1}}</tool_call>"}
	var f toolStreamFilter
	var sent strings.Builder
	for _, p := range pieces {
		sent.WriteString(f.push(p))
	}
	rest, calls := f.finish(true)
	sent.WriteString(rest)
	if sent.String() != "Sure. " || len(calls) != 1 || calls[0].Function.Name != "f" || calls[0].Function.Arguments != `{"q":1}` {
		t.Errorf("sent %q calls %+v", sent.String(), calls)
	}

	var g toolStreamFilter
	out := g.push("a <t") + g.push("ea>")
	rest, calls = g.finish(true)
	if out+rest != "a <tea>" || calls != nil {
		t.Errorf("false alarm: %q %+v", out+rest, calls)
	}
}

func TestChatRendererToolCalls(t *testing.T) {
	text := "<tool_call>{\"name\":\"f\",\"arguments\":{}}</tool_call>"
	r := newChatRenderer("m", 1, false, true)
	r.add(engine.Event{Text: text})
	r.add(engine.Event{FinishReason: engine.FinishStop})
	resp := r.response(engine.Usage{}).(*chatCompletion)
	ch := resp.Choices[0]
	if ch.FinishReason != "tool_calls" || ch.Message.Content != nil || len(ch.Message.ToolCalls) != 1 {
		t.Errorf("non-stream: %+v", ch)
	}
	b, _ := json.Marshal(ch.Message)
	if !strings.Contains(string(b), `"content":null`) || !strings.Contains(string(b), `"arguments":"{}"`) {
		t.Errorf("message JSON %s", b)
	}

	r = newChatRenderer("m", 1, false, true)
	var chunks []string
	for _, ev := range []engine.Event{{Text: "<tool_call>{\"name\":\"f\","}, {Text: "\"arguments\":{}}</tool_call>"}, {FinishReason: engine.FinishStop}} {
		if c := r.chunk(ev); c != nil {
			b, _ := json.Marshal(c)
			chunks = append(chunks, string(b))
		}
	}
	if len(chunks) != 1 || !strings.Contains(chunks[0], `"tool_calls":[{"index":0,`) || !strings.Contains(chunks[0], `"finish_reason":"tool_calls"`) {
		t.Errorf("stream chunks %q", chunks)
	}
}
