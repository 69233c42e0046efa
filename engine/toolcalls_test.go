package engine

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ggufd/ggufd/engine/chattemplate"
	"github.com/ggufd/ggufd/engine/toolformat"
	"github.com/ggufd/ggufd/internal/sharedtest"
)

// TestEventTokensAddUp: every generated token is counted in exactly one
// event, also when a stop string holds text back, so callers can attribute
// tokens (to reasoning, say) from the events alone.
func TestEventTokensAddUp(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 2})
	for _, req := range []GenerateRequest{
		{Prompt: "Once upon a time", MaxTokens: 30, N: 2},
		{Prompt: "Once upon a time", MaxTokens: 30, Stop: []string{"zzz not there", "the"}},
	} {
		r := generate(t, m, req)
		sum := 0
		for _, ev := range r.events {
			sum += ev.Tokens
		}
		if sum != r.usage.CompletionTokens || sum == 0 {
			t.Errorf("events carry %d tokens, usage says %d", sum, r.usage.CompletionTokens)
		}
	}
}

// TestPreservedTokens: a control token is dropped from the text unless the
// request preserves it (tool-call markers such as [TOOL_CALLS] are control
// tokens in some vocabularies).
func TestPreservedTokens(t *testing.T) {
	m := loadModel(t, "llama-2-tiny-random.gguf", LoadOptions{ContextLength: 256, Parallel: 1})
	const marker = "<s>" // a control token that does not end generation
	toks, err := m.Tokenize(marker, false, true)
	if err != nil || len(toks) != 1 {
		t.Fatalf("%s is not one token here: %v %v", marker, toks, err)
	}
	force := SamplingParams{LogitBias: map[int]float32{toks[0]: 100}}
	plain := generate(t, m, GenerateRequest{Prompt: "Hi", MaxTokens: 3, Sampling: force})
	kept := generate(t, m, GenerateRequest{Prompt: "Hi", MaxTokens: 3, Sampling: force, PreservedTokens: []string{marker, "not a token"}})
	if plain.text[0] != "" {
		t.Errorf("control token printed without being preserved: %q", plain.text[0])
	}
	if kept.text[0] != strings.Repeat(marker, 3) {
		t.Errorf("preserved: %q, want the marker 3 times", kept.text[0])
	}
}

// TestToolRoundTripThroughTemplates renders a conversation with a tool
// call and its result through each family's real chat template, and reads
// the call the template wrote back with the family's parser: what the
// server returns as tool_calls goes back to the model in its own markup.
func TestToolRoundTripThroughTemplates(t *testing.T) {
	dir := filepath.Join(sharedtest.Dir(t), "chat-templates")
	tests := []struct {
		file, family string
		// markup is the call as the template writes it.
		markup string
	}{
		{"Qwen-Qwen2.5-7B-Instruct.jinja", "hermes", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>"},
		{"Qwen-Qwen3-0.6B.jinja", "hermes", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>"},
		{"Qwen-QwQ-32B.jinja", "hermes", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>"},
		{"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", "hermes", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>"},
		{"meta-llama-Llama-3.3-70B-Instruct.jinja", "llama3", `{"name": "get_weather", "parameters": {"city": "Paris", "days": 2}}`},
		{"meta-llama-Llama-3.2-3B-Instruct.jinja", "llama3", `{"name": "get_weather", "parameters": {"city": "Paris", "days": 2}}`},
		{"mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral", `[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}, "id": "` + toolformat.Detect("[TOOL_CALLS]").TemplateCallID(callID) + `"}]`},
		{"mistralai-Mistral-Small-3.1-24B-Instruct-2503.jinja", "mistral", `[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}, "id": "` + toolformat.Detect("[TOOL_CALLS]").TemplateCallID(callID) + `"}]`},
		{"mistralai-Mistral-Small-3.2-24B-Instruct-2506.jinja", "devstral", `[TOOL_CALLS]get_weather[CALL_ID]` + toolformat.Detect("[TOOL_CALLS]").TemplateCallID(callID) + `[ARGS]{"city": "Paris", "days": 2}`},
		{"unsloth-mistral-Devstral-Small-2507.jinja", "devstral", `[TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "days": 2}`},
		{"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "deepseek", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\", \"days\": 2}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
		// V2.5's template closes the list only after a second call.
		{"deepseek-ai-DeepSeek-V2.5.jinja", "deepseek", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\", \"days\": 2}\n```<｜tool▁call▁end｜>"},
		{"deepseek-ai-DeepSeek-V3.1.jinja", "deepseek3.1", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Paris\", \"days\": 2}<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
		{"glm_4_5.jinja", "glm4.5", "<tool_call>get_weather<arg_key>city</arg_key>\n<arg_value>Paris</arg_value><arg_key>days</arg_key>\n<arg_value>2</arg_value></tool_call>"},
		{"GLM-4.6.jinja", "glm4.5", "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call>"},
		{"CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja", "command-r", "<|START_ACTION|>[\n    {\"tool_call_id\": \"0\", \"tool_name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 2}}\n]<|END_ACTION|>"},
	}
	tools := []toolformat.Tool{{Name: "get_weather", Parameters: []byte(weatherSchema)}}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			f := toolformat.Detect(string(src))
			if f.Name() != tc.family {
				t.Fatalf("detected %q, want %q", f.Name(), tc.family)
			}
			tmpl := newChatTemplate(string(src), "<s>", "</s>", slog.New(slog.DiscardHandler))
			prompt, err := tmpl.render(toolConversation(t, f))
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			for _, want := range []string{tc.markup, "22 degrees and sunny", "What is the weather in Paris"} {
				if !strings.Contains(prompt, want) {
					t.Fatalf("prompt lacks %q:\n%s", want, prompt)
				}
			}
			// The template's markup, given to the parser as model output,
			// is the call again (whole when the markup is whole).
			if strings.Contains(prompt, "None") {
				t.Fatalf("null content printed as None:\n%s", prompt)
			}
			got := f.Parse(tc.markup, toolformat.Options{Tools: tools})
			if len(got.Calls) != 1 || got.Calls[0].Name != "get_weather" || got.Content != "" {
				t.Fatalf("parsed %+v from %q", got, tc.markup)
			}
			var args, want map[string]any
			if err := json.Unmarshal([]byte(got.Calls[0].Arguments), &args); err != nil {
				t.Fatalf("arguments %q: %v", got.Calls[0].Arguments, err)
			}
			_ = json.Unmarshal([]byte(`{"city": "Paris", "days": 2}`), &want)
			if !reflect.DeepEqual(args, want) {
				t.Fatalf("arguments %v, want %v", args, want)
			}
		})
	}
}

const (
	callID        = "call_8f3a2c1d9e7b4a6f5c0d1e2f"
	weatherSchema = `{"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}`
)

// toolConversation is a user question, the assistant's call and the tool's
// answer, as the server hands them to templates (arguments as ordered
// objects, ids as the family's template wants them).
func toolConversation(t *testing.T, f toolformat.Format) ChatRequest {
	t.Helper()
	args, err := chattemplate.DecodeJSON([]byte(`{"city": "Paris", "days": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	fn := chattemplate.NewMap()
	fn.Set("name", "get_weather")
	fn.Set("arguments", args)
	call := chattemplate.NewMap()
	call.Set("id", f.TemplateCallID(callID))
	call.Set("type", "function")
	call.Set("function", fn)
	tool, err := chattemplate.DecodeJSON([]byte(`{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city.", "parameters": ` + weatherSchema + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	return ChatRequest{
		Messages: []ChatMessage{
			{"role": "user", "content": "What is the weather in Paris?"},
			{"role": "assistant", "content": nil, "tool_calls": []any{call}},
			{"role": "tool", "tool_call_id": f.TemplateCallID(callID), "name": "get_weather", "content": "22 degrees and sunny"},
		},
		Tools:               []any{tool},
		AddGenerationPrompt: true,
	}
}
