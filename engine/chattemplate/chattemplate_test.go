package chattemplate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRenderContext(t *testing.T) {
	args, err := DecodeJSON([]byte(`{"city": "Zürich", "days": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	tool, err := DecodeJSON([]byte(`{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	msgs := []map[string]any{
		{"role": "user", "content": "Hi"},
		{"role": "assistant", "content": "", "tool_calls": []any{
			map[string]any{"type": "function", "function": map[string]any{"name": "get_weather", "arguments": args}},
		}},
	}
	now := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name, src string
		ctx       Context
		want      string
	}{
		{"tools none", "{{ tools is none }} {{ tools is defined }} {{ documents is none }}", Context{}, "True True True"},
		{"tools list", "{% for t in tools %}{{ t.function.name }}{% endfor %} {{ tools|tojson }}", Context{Tools: []any{tool}},
			`get_weather [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]`},
		{"tokens and prompt", "{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}", Context{BOSToken: "<s>", EOSToken: "</s>", AddGenerationPrompt: true}, "<s>|</s>|True"},
		{"arguments keep order", "{{ messages[1].tool_calls[0].function.arguments|tojson }}", Context{Messages: msgs}, `{"city": "Zürich", "days": 2}`},
		{"message keys", "{% for k in messages[1] %}{{ k }} {% endfor %}", Context{Messages: msgs}, "role content tool_calls "},
		{"plain maps in OpenAI order", "{{ messages[0].tool_calls[0]|tojson }} {{ tools|tojson }}", Context{
			Messages: []map[string]any{{"tool_calls": []any{map[string]any{"function": map[string]any{"arguments": map[string]any{"b": 1, "a": 2}, "name": "f"}, "type": "function", "id": "c1"}}, "role": "assistant"}},
			Tools:    []any{map[string]any{"function": map[string]any{"parameters": map[string]any{"required": []string{"a"}, "type": "object", "properties": map[string]any{}}, "name": "f", "description": "d", "zeta": true}, "type": "function"}},
		}, `{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 2, "b": 1}}} [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {}, "required": ["a"]}, "zeta": true}}]`},
		{"extra", "{{ enable_thinking }} {{ other|default('x') }}", Context{Extra: map[string]any{"enable_thinking": false}}, "False x"},
		{"strftime", "{{ strftime_now('%d %B %Y, %-d %b %y %H:%M:%S %A %j') }}", Context{Now: now}, "22 November 2026, 22 Nov 26 09:30:00 Sunday 326"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Render(tt.ctx)
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRaiseException(t *testing.T) {
	tmpl, err := Parse("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.Render(Context{Messages: []map[string]any{{"role": "system", "content": "x"}}})
	var te *TemplateError
	if !errors.As(err, &te) || te.Message != "System role not supported" || !strings.Contains(err.Error(), "System role not supported") {
		t.Fatalf("got %v, want a TemplateError with the message", err)
	}
}

func TestParseError(t *testing.T) {
	if _, err := Parse("{% if %}"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("got %v, want a syntax error with a line number", err)
	}
}

func BenchmarkRender(b *testing.B) {
	tmpl, err := Parse(`{%- for m in messages %}<|im_start|>{{ m.role }}
{% if m.content is string %}{{ m.content | trim }}{% endif %}
{%- if m.tool_calls %}{% for tc in m.tool_calls %}<tool_call>{{ tc.function | tojson }}</tool_call>{% endfor %}{% endif %}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}`)
	if err != nil {
		b.Fatal(err)
	}
	args, _ := DecodeJSON([]byte(`{"city": "Paris", "unit": "c"}`))
	var msgs []map[string]any
	for i := 0; i < 20; i++ {
		msgs = append(msgs, map[string]any{"role": "user", "content": strings.Repeat("word ", 50)},
			map[string]any{"role": "assistant", "content": "ok", "tool_calls": []any{map[string]any{"function": map[string]any{"name": "f", "arguments": args}}}})
	}
	ctx := Context{Messages: msgs, AddGenerationPrompt: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.Render(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConcurrentRenderSharesTools(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(casesDir(t), "Qwen-Qwen3-0.6B.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := Parse(string(src))
	if err != nil {
		t.Fatal(err)
	}
	tool, _ := DecodeJSON([]byte(`{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}}`))
	tools := []any{tool}
	want := ""
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				got, err := tmpl.Render(Context{Tools: tools, AddGenerationPrompt: true,
					Messages: []map[string]any{{"role": "user", "content": "hi"}}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if want == "" {
					want = got
				}
				if got != want {
					t.Errorf("renders differ:\n%q\n%q", got, want)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
