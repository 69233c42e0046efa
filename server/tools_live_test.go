package server

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ggufd/ggufd/internal/sharedtest"
	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/shared"
)

// The tiny models are not instruct models: with tool_choice "required" or
// a named function only the grammar makes them call a tool, so these tests
// show that the grammar of each family yields a call the family's parser
// reads back, with arguments valid for the tool's schema.

// toolFamilies are the families served by the story model (tool_format
// overrides its ChatML template).
var toolFamilies = []string{"hermes", "llama3", "mistral", "devstral", "deepseek", "deepseek3.1", "glm4.5", "command-r"}

func toolsLiveConfig(t *testing.T) (string, map[string]string) {
	templates := filepath.Join(sharedtest.Dir(t), "chat-templates")
	var b strings.Builder
	b.WriteString("listen: 127.0.0.1:0\nmodels_dir: models\nauth: {mode: none}\nqueue_depth: 16\nmodels:\n")
	files := map[string]string{}
	add := func(name, shared, extra string) {
		fmt.Fprintf(&b, "  %s:\n    file: %s.gguf\n    parallel: 2\n    threads: 1\n%s", name, name, extra)
		if !strings.Contains(extra, "context:") {
			b.WriteString("    context: 1024\n")
		}
		files[name+".gguf"] = shared
	}
	for _, fam := range toolFamilies {
		add(fam, "stories260K-chatml.gguf", "    tool_format: "+fam+"\n")
	}
	// Random weights over the real Llama 2 vocabulary: the template is
	// Llama 2's, which has no tool markup (Hermes is the fallback).
	add("random", "llama-2-tiny-random-chat.gguf", "")
	add("random-llama3", "llama-2-tiny-random.gguf", "    tool_format: llama3\n    chat_template: "+filepath.Join(templates, "meta-llama-Llama-3.3-70B-Instruct.jinja")+"\n")
	// Real templates on the story model, for what they render.
	add("qwen3", "stories260K.gguf", "    chat_template: "+filepath.Join(templates, "Qwen-Qwen3-0.6B.jinja")+"\n")
	add("qwq", "stories260K.gguf", "    chat_template: "+filepath.Join(templates, "Qwen-QwQ-32B.jinja")+"\n")
	// Its default system prompt alone is some 1500 tokens here.
	add("mistral-small", "stories260K.gguf", "    context: 4096\n    chat_template: "+filepath.Join(templates, "mistralai-Mistral-Small-3.2-24B-Instruct-2506.jinja")+"\n")
	return b.String(), files
}

// forecastSchema bounds every value, so that a weak model forced by the
// grammar ends its call within a few dozen tokens.
var forecastSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"city": map[string]any{"type": "string", "maxLength": 12},
		"unit": map[string]any{"type": "string", "enum": []string{"c", "f"}},
		"days": map[string]any{"type": "integer", "minimum": 1, "maximum": 7},
	},
	"required":             []string{"city", "unit", "days"},
	"additionalProperties": false,
}

var liveTools = []openai.ChatCompletionToolParam{
	{Function: shared.FunctionDefinitionParam{Name: "get_forecast", Description: openai.String("Weather forecast for a city."),
		Parameters: forecastSchema}},
	{Function: shared.FunctionDefinitionParam{Name: "get_time", Description: openai.String("The time in a timezone."),
		Parameters: map[string]any{"type": "object", "properties": map[string]any{
			"tz": map[string]any{"type": "string", "enum": []string{"UTC", "CET"}}}, "required": []string{"tz"}}}},
}

// checkForecastArgs validates arguments against forecastSchema (or the
// get_time schema) by hand: every key, type and bound.
func checkArgs(t *testing.T, name, args string) {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		t.Fatalf("%s arguments are not a JSON object: %q (%v)", name, args, err)
	}
	switch name {
	case "get_forecast":
		city, ok := v["city"].(string)
		days, dok := v["days"].(float64)
		if len(v) != 3 || !ok || utf8.RuneCountInString(city) > 12 || (v["unit"] != "c" && v["unit"] != "f") ||
			!dok || days != float64(int(days)) || days < 1 || days > 7 {
			t.Fatalf("get_forecast arguments break the schema: %s", args)
		}
	case "get_time":
		if len(v) != 1 || (v["tz"] != "UTC" && v["tz"] != "CET") {
			t.Fatalf("get_time arguments break the schema: %s", args)
		}
	default:
		t.Fatalf("call to an unknown tool %q", name)
	}
}

func TestLiveToolCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("loads real models")
	}
	cfg, files := toolsLiveConfig(t)
	live := startLiveWith(t, cfg, files)
	client := live.client("/v1/")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	question := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What will the weather be in Paris?")}
	named := openai.ChatCompletionToolChoiceOptionParamOfChatCompletionNamedToolChoice(
		openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_forecast"})
	required := openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}

	for _, model := range append(append([]string{}, toolFamilies...), "random", "random-llama3") {
		t.Run(model+" required", func(t *testing.T) {
			resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model: model, Messages: question, Tools: liveTools, ToolChoice: required,
				ParallelToolCalls: openai.Bool(false), MaxTokens: openai.Int(300), Seed: openai.Int(3),
			})
			if err != nil {
				t.Fatal(err)
			}
			ch := resp.Choices[0]
			if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || ch.Message.Content != "" {
				t.Fatalf("finish %q, %d calls, content %q: %s", ch.FinishReason, len(ch.Message.ToolCalls), ch.Message.Content, resp.RawJSON())
			}
			call := ch.Message.ToolCalls[0]
			if !strings.HasPrefix(call.ID, "call_") || call.Type != "function" {
				t.Errorf("call %+v", call)
			}
			checkArgs(t, call.Function.Name, call.Function.Arguments)
		})

		t.Run(model+" named, streamed", func(t *testing.T) {
			stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model: model, Messages: question, Tools: liveTools, ToolChoice: named,
				MaxTokens: openai.Int(300), Temperature: openai.Float(0),
			})
			var acc openai.ChatCompletionAccumulator
			var finished []openai.FinishedChatCompletionToolCall
			for stream.Next() {
				ch := stream.Current()
				acc.AddChunk(ch)
				if tc, ok := acc.JustFinishedToolCall(); ok {
					finished = append(finished, tc)
				}
				if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
					t.Errorf("content in a forced call: %q", ch.Choices[0].Delta.Content)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			ch := acc.Choices[0]
			if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || len(finished) != 1 {
				t.Fatalf("finish %q, calls %+v", ch.FinishReason, ch.Message.ToolCalls)
			}
			call := ch.Message.ToolCalls[0]
			if call.Function.Name != "get_forecast" || !strings.HasPrefix(call.ID, "call_") || finished[0].ID != call.ID {
				t.Errorf("call %+v (finished %+v)", call, finished[0])
			}
			checkArgs(t, call.Function.Name, call.Function.Arguments)
		})
	}

	t.Run("parallel calls allowed", func(t *testing.T) {
		// The weak model goes on calling until max_tokens; each call it
		// finished is valid, and only the last may be cut.
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "hermes", Messages: question, Tools: liveTools, ToolChoice: required,
			MaxTokens: openai.Int(200), Temperature: openai.Float(0),
		})
		if err != nil {
			t.Fatal(err)
		}
		ch := resp.Choices[0]
		calls := ch.Message.ToolCalls
		if len(calls) < 2 || (ch.FinishReason != "tool_calls" && ch.FinishReason != "length") {
			t.Fatalf("%s", resp.RawJSON())
		}
		if ch.FinishReason == "length" {
			calls = calls[:len(calls)-1]
		}
		ids := map[string]bool{}
		for _, c := range calls {
			checkArgs(t, c.Function.Name, c.Function.Arguments)
			if ids[c.ID] {
				t.Errorf("id %s used twice", c.ID)
			}
			ids[c.ID] = true
		}
	})

	t.Run("tool results go back through the template", func(t *testing.T) {
		// Mistral Small 3.2's template refuses ids that are not nine
		// characters; ours are mapped for it.
		first, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "mistral-small", Messages: question, Tools: liveTools, ToolChoice: named, MaxTokens: openai.Int(300),
		})
		if err != nil {
			t.Fatal(err)
		}
		msg := first.Choices[0].Message
		if len(msg.ToolCalls) != 1 {
			t.Fatalf("first turn: %s", first.RawJSON())
		}
		checkArgs(t, msg.ToolCalls[0].Function.Name, msg.ToolCalls[0].Function.Arguments)
		turns := append(append([]openai.ChatCompletionMessageParamUnion{}, question...), msg.ToParam(),
			openai.ToolMessage(`{"forecast": "sunny, 22 degrees"}`, msg.ToolCalls[0].ID))
		second, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "mistral-small", Messages: turns, Tools: liveTools, MaxTokens: openai.Int(8),
		})
		if err != nil {
			t.Fatal(err)
		}
		if second.Usage.PromptTokens <= first.Usage.PromptTokens {
			t.Errorf("the second prompt (%d tokens) should hold the call and its result (first: %d)",
				second.Usage.PromptTokens, first.Usage.PromptTokens)
		}
	})

	t.Run("chat_template_kwargs reach the template", func(t *testing.T) {
		prompt := func(kwargs string) string {
			body := `{"model": "qwen3", "messages": [{"role": "user", "content": "Hi"}]` + kwargs + `}`
			resp := post(t, live.url+"/apply-template", body)
			defer resp.Body.Close()
			var out struct{ Prompt string }
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
				t.Fatalf("apply-template: %d %v", resp.StatusCode, err)
			}
			return out.Prompt
		}
		if p := prompt(""); strings.HasSuffix(p, "</think>\n\n") {
			t.Errorf("thinking on by default, got %q", p)
		}
		if p := prompt(`, "chat_template_kwargs": {"enable_thinking": false}`); !strings.HasSuffix(p, "<|im_start|>assistant\n<think>\n\n</think>\n\n") {
			t.Errorf("enable_thinking false: %q", p)
		}
	})

	t.Run("reasoning from a template that opens it", func(t *testing.T) {
		// QwQ's generation prompt opens <think>: everything the model
		// writes until </think> is reasoning.
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "qwq", Messages: question, MaxTokens: openai.Int(12), Temperature: openai.Float(0),
		})
		if err != nil {
			t.Fatal(err)
		}
		var reasoning string
		_ = json.Unmarshal([]byte(resp.Choices[0].Message.JSON.ExtraFields["reasoning_content"].Raw()), &reasoning)
		details := resp.Usage.CompletionTokensDetails
		if reasoning == "" || details.ReasoningTokens == 0 || details.ReasoningTokens > resp.Usage.CompletionTokens {
			t.Errorf("reasoning %q, usage %+v", reasoning, resp.Usage)
		}
		raw, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "qwq", Messages: question, MaxTokens: openai.Int(12), Temperature: openai.Float(0),
		}, option.WithJSONSet("reasoning_format", "none"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(raw.Choices[0].Message.Content) != reasoning {
			t.Errorf("reasoning_format none: content %q, want the raw text %q", raw.Choices[0].Message.Content, reasoning)
		}

		// A forced call lets the model close its reasoning first; the story
		// model never does within 16 tokens, which leaves reasoning only.
		forced, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "qwq", Messages: question, Tools: liveTools, ToolChoice: required, MaxTokens: openai.Int(16),
			Temperature: openai.Float(0),
		})
		if err != nil {
			t.Fatal(err)
		}
		ch := forced.Choices[0]
		if ch.FinishReason != "length" || ch.Message.Content != "" || len(ch.Message.ToolCalls) != 0 ||
			ch.Message.JSON.ExtraFields["reasoning_content"].Raw() == "" {
			t.Errorf("forced call inside reasoning: %s", forced.RawJSON())
		}
	})
}
