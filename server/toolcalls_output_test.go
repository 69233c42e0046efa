package server

import (
	"encoding/json"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/ggufd/ggufd/engine/toolformat"
)

// familySpec parses output in the named family with tools offered.
func familySpec(t *testing.T, family string, tools ...toolformat.Tool) *outputSpec {
	t.Helper()
	f, err := toolformat.Detect("").WithFamily(family)
	if err != nil {
		t.Fatal(err)
	}
	return &outputSpec{format: f, opts: toolformat.Options{Tools: tools}}
}

// streamedMessage accumulates a stream's chunks as the SDKs do
// (arguments concatenated by index).
func streamedMessage(t *testing.T, chunks []string) (content string, calls []toolCallJSON, finish string) {
	t.Helper()
	for _, c := range chunks {
		var chunk chatChunk
		if err := json.Unmarshal([]byte(c), &chunk); err != nil {
			t.Fatal(err)
		}
		ch := chunk.Choices[0]
		if ch.Delta.Content != nil {
			content += *ch.Delta.Content
		}
		for _, d := range ch.Delta.ToolCalls {
			if d.Index == len(calls) {
				calls = append(calls, toolCallJSON{ID: d.ID, Type: d.Type, Function: toolCallFunction{Name: d.Function.Name}})
			}
			calls[d.Index].Function.Arguments += d.Function.Arguments
		}
		if ch.FinishReason != nil {
			finish = *ch.FinishReason
		}
	}
	return content, calls, finish
}

func wholeMessage(t *testing.T, out string) (content string, calls []toolCallJSON, finish string) {
	t.Helper()
	var resp chatCompletion
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	ch := resp.Choices[0]
	if ch.Message.Content != nil {
		content = *ch.Message.Content
	}
	return content, ch.Message.ToolCalls, ch.FinishReason
}

// A model (a small one especially) may write a call to a function the
// request did not offer. OpenAI never returns one; an SDK tool runner or a
// LangChain agent then fails to find the tool. Every family checks the name
// against the offered tools, whole and streamed.
func TestCallsOnlyToOfferedTools(t *testing.T) {
	offered := toolformat.Tool{Name: "get_weather"}
	tests := []struct{ family, output string }{
		{"hermes", `<tool_call>{"name": "delete_all_files", "arguments": {}}</tool_call>`},
		{"mistral", `[TOOL_CALLS][{"name": "delete_all_files", "arguments": {}}]`},
		{"devstral", `[TOOL_CALLS]delete_all_files[ARGS]{}`},
		{"deepseek", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>delete_all_files\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
		{"deepseek3.1", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>delete_all_files<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
		{"command-r", `<|START_ACTION|>[{"tool_call_id": "0", "tool_name": "delete_all_files", "parameters": {}}]<|END_ACTION|>`},
		{"llama3", `<|python_tag|>delete_all_files.call(path="/")`},
		// The two that checked before the others.
		{"llama3", `{"name": "delete_all_files", "parameters": {}}`},
		{"glm4.5", "<tool_call>delete_all_files\n</tool_call>"},
	}
	for _, tc := range tests {
		t.Run(tc.family+"/"+tc.output[:min(len(tc.output), 24)], func(t *testing.T) {
			spec := familySpec(t, tc.family, offered)
			for _, stream := range []bool{false, true} {
				var calls []toolCallJSON
				var finish string
				if stream {
					_, calls, finish = streamedMessage(t, render(t, spec, true, tc.output))
				} else {
					_, calls, finish = wholeMessage(t, render(t, spec, false, tc.output)[0])
				}
				for _, c := range calls {
					if c.Function.Name != offered.Name {
						t.Errorf("stream=%v: a call to %q, which the request did not offer (finish_reason %q)", stream, c.Function.Name, finish)
					}
				}
			}
		})
	}
}

// Text the model writes before and after a call is one content string;
// the space between its words must not disappear with the markup.
func TestContentAroundCallKeepsSpace(t *testing.T) {
	tools := []toolformat.Tool{{Name: "get_weather"}}
	tests := []struct{ family, output string }{
		{"hermes", "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>\nDone."},
		{"mistral", `Let me check. [TOOL_CALLS][{"name": "get_weather", "arguments": {}}] Done.`},
		{"devstral", `Let me check. [TOOL_CALLS]get_weather[ARGS]{} Done.`},
	}
	for _, tc := range tests {
		t.Run(tc.family, func(t *testing.T) {
			spec := familySpec(t, tc.family, tools...)
			whole, _, _ := wholeMessage(t, render(t, spec, false, tc.output)[0])
			streamed, _, _ := streamedMessage(t, render(t, spec, true, tc.output))
			for _, got := range []string{whole, streamed} {
				if !slices.Equal(strings.Fields(got), []string{"Let", "me", "check.", "Done."}) {
					t.Errorf("content %q: the words around the call are glued", got)
				}
			}
		})
	}
}

// A coding agent's call may carry a whole file. The arguments of a whole
// (not streamed) message are gathered from fragments, one per event: that
// must copy them about once, not once per fragment.
func TestLongCallArgumentsGatheredOnce(t *testing.T) {
	spec := familySpec(t, "hermes", toolformat.Tool{Name: "write_file"})
	out := `<tool_call>{"name": "write_file", "arguments": {"content": "` + strings.Repeat("line of a file\\n", 4<<10) + `"}}</tool_call>`
	var pieces []string
	for i := 0; i < len(out); i += 4 {
		pieces = append(pieces, out[i:min(i+4, len(out))])
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	raw := render(t, spec, false, pieces...)[0]
	runtime.ReadMemStats(&after)
	if _, calls, _ := wholeMessage(t, raw); len(calls) != 1 || len(calls[0].Function.Arguments) < 64<<10 {
		t.Fatalf("calls %+v", calls)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 256*uint64(len(out)) {
		t.Errorf("%d bytes allocated for %d bytes of output", got, len(out))
	}
}

// function.arguments is JSON text: clients json.loads / JSON.parse it, and
// send it back in the next request's history. A call keeps the valid part
// of what the model wrote as an object, and no markup after a break
// reaches the content.
func TestArgumentsAreJSONObjects(t *testing.T) {
	tool := toolformat.Tool{Name: "get_weather", Parameters: []byte(`{"type": "object", "properties": {"city": {"type": "string"}}}`)}
	tests := []struct{ family, output string }{
		{"hermes", `<tool_call>{"name": "get_weather", "arguments": "Paris"}</tool_call>`},
		{"hermes", `<tool_call>{"name": "get_weather", "arguments": tru}</tool_call>`},
		{"hermes", `<tool_call>{"name": "get_weather", "arguments": {"city": Paris}}</tool_call>`},
		{"devstral", `[TOOL_CALLS]get_weather[ARGS]"Paris"`},
		{"deepseek", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\nnot json\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
	}
	for _, tc := range tests {
		t.Run(tc.family+"/"+tc.output, func(t *testing.T) {
			spec := familySpec(t, tc.family, tool)
			content, calls, finish := wholeMessage(t, render(t, spec, false, tc.output)[0])
			for _, c := range calls {
				var args map[string]any
				if err := json.Unmarshal([]byte(c.Function.Arguments), &args); err != nil {
					t.Errorf("arguments %q are not a JSON object (%v); finish_reason %q, content %q", c.Function.Arguments, err, finish, content)
				}
			}
			for _, m := range []string{"tool_call>", "｜"} {
				if strings.Contains(content, m) {
					t.Errorf("markup in content: %q", content)
				}
			}
		})
	}
}

// An agent loop sends the assistant's tool_calls back as they came. The
// server must accept in the history what it returned itself, which it
// does when the arguments it returns are JSON.
func TestOwnToolCallsReplay(t *testing.T) {
	cat := newFakeCatalog()
	m := cat.models["tiny"]
	m.info.ChatTemplate = "{% if tools %}<tool_call>{% endif %}" // Hermes
	m.pieces = []string{`<tool_call>{"name": "get_weather", "arguments": "Paris"}</tool_call>`}
	_, url := newTestServer(t, cat)
	tools := `[` + weatherTool + `]`
	resp := post(t, url+"/v1/chat/completions", `{"model": "tiny", "messages": [{"role": "user", "content": "weather?"}], "tools": `+tools+`}`)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("first turn: %d %s", resp.StatusCode, body)
	}
	var first chatCompletion
	if err := json.Unmarshal(body, &first); err != nil {
		t.Fatal(err)
	}
	msg := first.Choices[0].Message
	if len(msg.ToolCalls) != 1 {
		t.Fatalf("first turn: %s", body)
	}
	content := "" // the fake template prints content; real clients send null
	msg.Content = &content
	history, _ := json.Marshal([]any{
		map[string]any{"role": "user", "content": "weather?"},
		msg,
		map[string]any{"role": "tool", "tool_call_id": msg.ToolCalls[0].ID, "content": "sunny"},
	})
	resp = post(t, url+"/v1/chat/completions", `{"model": "tiny", "messages": `+string(history)+`, "tools": `+tools+`}`)
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Errorf("the server rejects its own tool call sent back:\n  returned arguments %q\n  then: %d %s", msg.ToolCalls[0].Function.Arguments, resp.StatusCode, body)
	}
}
