package engine

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestApplyChatTemplate(t *testing.T) {
	m := loadModel(t, "stories260K-chatml.gguf", LoadOptions{ContextLength: 256, Parallel: 1})
	msgs := []ChatMessage{{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}}
	got, err := m.ApplyChatTemplate(ChatRequest{Messages: msgs, AddGenerationPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
	if !strings.HasSuffix(got, want) {
		t.Fatalf("rendered %q, want it to end with %q", got, want)
	}
	plain := loadModel(t, stories, LoadOptions{ContextLength: 128, Parallel: 1})
	if _, err := plain.ApplyChatTemplate(ChatRequest{Messages: msgs}); !errors.Is(err, ErrNoChatTemplate) {
		t.Fatalf("model without template: %v", err)
	}
}

func TestChatTemplateFallbackAndRaise(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	// Unparseable as Jinja, but llama.cpp recognises ChatML by its markers.
	broken := newChatTemplate("{% if %}<|im_start|>{{ broken", "<s>", "</s>", log)
	out, err := broken.render(ChatRequest{Messages: []ChatMessage{{"role": "user", "content": "Hi"}}, AddGenerationPrompt: true})
	if err != nil || out != "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" {
		t.Fatalf("fallback: %q, %v", out, err)
	}
	strict := newChatTemplate("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok", "", "", log)
	_, err = strict.render(ChatRequest{Messages: []ChatMessage{{"role": "system", "content": "x"}}})
	var inv *InvalidRequestError
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "System role not supported") {
		t.Fatalf("raise_exception: %v", err)
	}
}
