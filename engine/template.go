package engine

import (
	"fmt"
	"log/slog"

	"github.com/ggufd/ggufd/engine/internal/llamacpp"
)

// chatTemplate renders conversations into prompt text.
type chatTemplate struct {
	source   string
	bos, eos string
	log      *slog.Logger
}

func newChatTemplate(source, bos, eos string, log *slog.Logger) *chatTemplate {
	if source == "" {
		return nil
	}
	return &chatTemplate{source: source, bos: bos, eos: eos, log: log}
}

// ApplyChatTemplate renders messages into the prompt text the model sees.
func (m *Model) ApplyChatTemplate(req ChatRequest) (string, error) {
	if m.tmpl == nil {
		return "", ErrNoChatTemplate
	}
	return m.tmpl.render(req)
}

func (t *chatTemplate) render(req ChatRequest) (string, error) {
	return t.renderBuiltin(req)
}

// renderBuiltin uses llama.cpp's template detection, which knows the common
// template families by their markers but not arbitrary Jinja.
func (t *chatTemplate) renderBuiltin(req ChatRequest) (string, error) {
	msgs := make([]llamacpp.ChatMessage, 0, len(req.Messages))
	for i, msg := range req.Messages {
		role, _ := msg["role"].(string)
		content, ok := msg["content"].(string)
		if !ok && msg["content"] != nil {
			return "", &InvalidRequestError{Param: fmt.Sprintf("messages[%d].content", i), Message: "must be a string for this model's chat template"}
		}
		msgs = append(msgs, llamacpp.ChatMessage{Role: role, Content: content})
	}
	out, err := llamacpp.ApplyBuiltinTemplate(t.source, msgs, req.AddGenerationPrompt)
	if err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	return out, nil
}
