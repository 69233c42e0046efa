package server

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/engine/chattemplate"
	"github.com/ggufd/ggufd/engine/toolformat"
)

const weatherTool = `{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}`

func TestParseChatTools(t *testing.T) {
	tools := `[` + weatherTool + `, {"type": "function", "function": {"name": "now"}}]`
	tests := []struct {
		name, tools, choice string
		parallel            *bool
		wantErr             string // param blamed
		wantChoice          string
		forced              []string
	}{
		{name: "no tools", wantChoice: "auto"},
		{name: "auto by default", tools: tools, wantChoice: "auto"},
		{name: "none", tools: tools, choice: `"none"`, wantChoice: "none"},
		{name: "required", tools: tools, choice: `"required"`, wantChoice: "required", forced: []string{"get_weather", "now"}},
		{name: "named", tools: tools, choice: `{"type": "function", "function": {"name": "now"}}`, wantChoice: "function", forced: []string{"now"}},
		{name: "named unknown", tools: tools, choice: `{"type": "function", "function": {"name": "later"}}`, wantErr: "tool_choice"},
		{name: "required without tools", choice: `"required"`, wantErr: "tool_choice"},
		{name: "bad choice", tools: tools, choice: `"always"`, wantErr: "tool_choice"},
		{name: "not an array", tools: `{}`, wantErr: "tools"},
		{name: "bad type", tools: `[{"type": "code"}]`, wantErr: "tools[0].type"},
		{name: "missing name", tools: `[{"type": "function", "function": {}}]`, wantErr: "tools[0].function.name"},
		{name: "bad name", tools: `[{"type": "function", "function": {"name": "get weather"}}]`, wantErr: "tools[0].function.name"},
		{name: "parameters not an object", tools: `[{"type": "function", "function": {"name": "a", "parameters": [1]}}]`, wantErr: "tools[0].function.parameters"},
		{name: "duplicate name", tools: `[` + weatherTool + `,` + weatherTool + `]`, wantErr: "tools[1].function.name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseChatTools(json.RawMessage(tc.tools), json.RawMessage(tc.choice), tc.parallel)
			if tc.wantErr != "" {
				ae, ok := toAPIError(err)
				if !ok || ae.Param == nil || *ae.Param != tc.wantErr || ae.Status != 400 {
					t.Fatalf("error %v, want 400 blaming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var forced []string
			for _, f := range got.forced() {
				forced = append(forced, f.Name)
			}
			if got.choice != tc.wantChoice || strings.Join(forced, ",") != strings.Join(tc.forced, ",") || !got.parallel {
				t.Errorf("got choice %q forced %v parallel %v", got.choice, forced, got.parallel)
			}
			// The template sees the tools unless tool_choice is "none".
			tmpl, _, err := templateInput([]wireMessage{{Role: ptr("user"), Content: json.RawMessage(`"hi"`)}}, got, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			if offered := tc.tools != "" && tc.wantChoice != "none"; offered != (len(tmpl.Tools) > 0) {
				t.Errorf("template tools %v", tmpl.Tools)
			}
		})
	}
}

func TestTemplateKwargs(t *testing.T) {
	got, err := templateKwargs(map[string]json.RawMessage{"enable_thinking": json.RawMessage("false")})
	if err != nil || got["enable_thinking"] != false {
		t.Fatalf("kwargs %v, %v", got, err)
	}
	_, err = templateKwargs(map[string]json.RawMessage{"messages": json.RawMessage("[]")})
	if ae, ok := toAPIError(err); !ok || ae.Param == nil || *ae.Param != "chat_template_kwargs.messages" {
		t.Fatalf("reserved variable: %v", err)
	}
}

var callIDPattern = regexp.MustCompile(`^call_[0-9a-f]{24}$`)

// render runs events through a chat renderer, streaming or not, and
// returns the JSON the client gets.
func render(t *testing.T, spec *outputSpec, stream bool, texts ...string) []string {
	t.Helper()
	r := newChatRenderer("m", "fp_test", 1, false, spec)
	evs := make([]engine.Event, 0, len(texts)+1)
	for _, s := range texts {
		evs = append(evs, engine.Event{Text: s, Tokens: 1})
	}
	evs = append(evs, engine.Event{FinishReason: engine.FinishStop, Tokens: 1})
	var out []string
	for _, ev := range evs {
		if stream {
			if c := r.chunk(ev); c != nil {
				b, _ := json.Marshal(c)
				out = append(out, string(b))
			}
		} else {
			r.add(ev)
		}
	}
	if !stream {
		b, _ := json.Marshal(r.response(engine.Usage{CompletionTokens: len(evs)}))
		out = append(out, string(b))
	}
	return out
}

func hermesSpec(think bool, opts toolformat.Options) *outputSpec {
	tmpl := "<tool_call>"
	if think {
		tmpl += "<think>"
	}
	return &outputSpec{format: toolformat.Detect(tmpl), opts: opts}
}

var weatherTools = []toolformat.Tool{{Name: "get_weather"}}

func TestChatRendererToolCalls(t *testing.T) {
	pieces := []string{"Let me check.", "\n<tool_", "call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": ", "\"Paris\"}}\n</tool_call>"}
	spec := hermesSpec(false, toolformat.Options{Tools: weatherTools})

	whole := render(t, spec, false, pieces...)[0]
	var resp chatCompletion
	if err := json.Unmarshal([]byte(whole), &resp); err != nil {
		t.Fatal(err)
	}
	ch := resp.Choices[0]
	if ch.FinishReason != "tool_calls" || ch.Message.Content == nil || *ch.Message.Content != "Let me check." ||
		len(ch.Message.ToolCalls) != 1 || !callIDPattern.MatchString(ch.Message.ToolCalls[0].ID) ||
		ch.Message.ToolCalls[0].Type != "function" || ch.Message.ToolCalls[0].Function != (toolCallFunction{Name: "get_weather", Arguments: `{"city": "Paris"}`}) {
		t.Fatalf("message %s", whole)
	}

	chunks := render(t, spec, true, pieces...)
	var content, args strings.Builder
	var first toolCallDelta
	for i, c := range chunks {
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content   *string
					ToolCalls []toolCallDelta `json:"tool_calls"`
				}
				FinishReason *string `json:"finish_reason"`
			}
		}
		if err := json.Unmarshal([]byte(c), &chunk); err != nil {
			t.Fatal(err)
		}
		d := chunk.Choices[0].Delta
		if d.Content != nil {
			content.WriteString(*d.Content)
		}
		for _, tc := range d.ToolCalls {
			if tc.ID != "" {
				first = tc
				if strings.Contains(c, `"arguments":"{`) {
					t.Errorf("the call's first delta should carry the name only: %s", c)
				}
			} else if tc.Function.Name != "" || tc.Type != "" {
				t.Errorf("fragment repeats the name or type: %s", c)
			}
			args.WriteString(tc.Function.Arguments)
		}
		if last := i == len(chunks)-1; last != (chunk.Choices[0].FinishReason != nil) ||
			last && *chunk.Choices[0].FinishReason != "tool_calls" {
			t.Errorf("chunk %d finish: %s", i, c)
		}
	}
	if content.String() != "Let me check." || first.Index != 0 || !callIDPattern.MatchString(first.ID) ||
		first.Type != "function" || first.Function.Name != "get_weather" || args.String() != `{"city": "Paris"}` {
		t.Fatalf("stream: content %q first %+v args %q\n%s", content.String(), first, args.String(), strings.Join(chunks, "\n"))
	}
}

func TestChatRendererReasoning(t *testing.T) {
	spec := hermesSpec(true, toolformat.Options{Reasoning: true})
	whole := render(t, spec, false, "<think>\nPl", "anning.\n</think>", "\n\nHello!")[0]
	var resp struct {
		Choices []struct {
			Message struct {
				Content          *string `json:"content"`
				ReasoningContent *string `json:"reasoning_content"`
			}
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			CompletionTokens        int `json:"completion_tokens"`
			CompletionTokensDetails struct {
				ReasoningTokens int `json:"reasoning_tokens"`
			} `json:"completion_tokens_details"`
		}
	}
	if err := json.Unmarshal([]byte(whole), &resp); err != nil {
		t.Fatal(err)
	}
	m := resp.Choices[0].Message
	if m.Content == nil || *m.Content != "Hello!" || m.ReasoningContent == nil || *m.ReasoningContent != "Planning." ||
		resp.Choices[0].FinishReason != "stop" {
		t.Fatalf("message %s", whole)
	}
	// Two of the four events were in the reasoning block.
	if resp.Usage.CompletionTokensDetails.ReasoningTokens != 2 || resp.Usage.CompletionTokens != 4 {
		t.Errorf("usage %s", whole)
	}

	chunks := render(t, spec, true, "<think>\nPl", "anning.\n</think>", "\n\nHello!")
	joined := strings.Join(chunks, "\n")
	if !strings.Contains(chunks[0], `"reasoning_content":"Pl"`) || strings.Contains(joined, "think>") ||
		!strings.Contains(joined, `"content":"Hello!"`) {
		t.Errorf("stream:\n%s", joined)
	}

	raw := render(t, hermesSpec(true, toolformat.Options{Reasoning: false}), false, "<think>x</think>y")[0]
	if !strings.Contains(raw, `"content":"\u003cthink\u003ex\u003c/think\u003ey"`) || strings.Contains(raw, "reasoning_content") {
		t.Errorf("reasoning_format none: %s", raw)
	}
}

func TestChatRendererParallelFalse(t *testing.T) {
	spec := hermesSpec(false, toolformat.Options{Tools: []toolformat.Tool{{Name: "a"}, {Name: "b"}}})
	spec.maxCalls = 1
	out := render(t, spec, false, `<tool_call>{"name": "a", "arguments": {}}</tool_call><tool_call>{"name": "b", "arguments": {}}</tool_call>`)[0]
	var resp chatCompletion
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	if calls := resp.Choices[0].Message.ToolCalls; len(calls) != 1 || calls[0].Function.Name != "a" {
		t.Errorf("parallel_tool_calls false: %s", out)
	}
}

func TestChatRendererWithoutParsing(t *testing.T) {
	out := render(t, nil, false, "<tool_call>", "{}")[0]
	if !strings.Contains(out, `"content":"\u003ctool_call\u003e{}"`) || !strings.Contains(out, `"finish_reason":"stop"`) {
		t.Errorf("%s", out)
	}
}

func TestWithTemplateIDs(t *testing.T) {
	tmpl, _, err := templateInput([]wireMessage{
		{Role: ptr("assistant"), ToolCalls: []wireToolCall{{ID: "call_0123456789abcdef01234567", Type: "function"}}},
		{Role: ptr("tool"), ToolCallID: ptr("call_0123456789abcdef01234567"), Content: json.RawMessage(`"ok"`)},
	}, chatTools{}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	mistral := toolformat.Detect("[TOOL_CALLS]")
	got := withTemplateIDs(tmpl, mistral)
	call := got.Messages[0]["tool_calls"].([]any)[0].(interface{ Get(any) (any, bool) })
	id, _ := call.Get("id")
	if id != got.Messages[1]["tool_call_id"] || len(id.(string)) != 9 {
		t.Errorf("ids %v and %v: want the same 9 characters", id, got.Messages[1]["tool_call_id"])
	}
	orig, _ := tmpl.Messages[0]["tool_calls"].([]any)[0].(interface{ Get(any) (any, bool) }).Get("id")
	if orig != "call_0123456789abcdef01234567" {
		t.Errorf("the request's own messages changed: %v", orig)
	}
}

// TestReplayedArgumentsThatAreNotJSON: a client replays an assistant turn
// whose tool-call arguments the model did not write as JSON (small models
// do): the template gets the text, as transformers' does, where the
// request was a 400 and the conversation could not go on. JSON past the
// decoder's limits is still refused (TestErrors "arguments nested deep").
func TestReplayedArgumentsThatAreNotJSON(t *testing.T) {
	var msgs []wireMessage
	if err := json.Unmarshal([]byte(`[
		{"role":"user","content":"weather?"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"Paris"}}]},
		{"role":"tool","tool_call_id":"call_1","content":"sunny"}]`), &msgs); err != nil {
		t.Fatal(err)
	}
	out, _, err := toTemplateMessages(msgs)
	if err != nil {
		t.Fatalf("replayed turn refused: %v", err)
	}
	calls, _ := out[1]["tool_calls"].([]any)
	if len(calls) != 1 {
		t.Fatalf("assistant turn %v", out[1])
	}
	call, _ := calls[0].(*chattemplate.Map)
	fn, _ := call.Get("function")
	fm, _ := fn.(*chattemplate.Map)
	if args, _ := fm.Get("arguments"); args != "Paris" {
		t.Errorf("arguments %#v: want the text the model wrote", args)
	}
}
