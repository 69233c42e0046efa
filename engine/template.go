package engine

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/ggufd/ggufd/engine/chattemplate"
	"github.com/ggufd/ggufd/engine/internal/llamacpp"
)

// chatTemplate renders conversations into prompt text: with our Jinja engine
// in transformers' context when it can, else with llama.cpp's built-in
// detection of the common template families.
type chatTemplate struct {
	source   string
	jinja    *chattemplate.Template // nil: the Jinja engine could not parse it
	bos, eos string
	log      *slog.Logger
}

func newChatTemplate(source, bos, eos string, log *slog.Logger) *chatTemplate {
	if source == "" {
		return nil
	}
	t := &chatTemplate{source: source, bos: bos, eos: eos, log: log}
	j, err := chattemplate.Parse(source)
	if err != nil {
		log.Warn("chat template: the Jinja engine cannot parse it; using llama.cpp's built-in template detection", "err", err)
	} else {
		t.jinja = j
	}
	return t
}

// ApplyChatTemplate renders messages into the prompt text the model sees.
func (m *Model) ApplyChatTemplate(req ChatRequest) (string, error) {
	if m.tmpl == nil {
		return "", ErrNoChatTemplate
	}
	return m.tmpl.render(req)
}

func (t *chatTemplate) render(req ChatRequest) (string, error) {
	if t.jinja == nil {
		return t.renderBuiltin(req)
	}
	out, err := t.jinja.Render(chattemplate.Context{
		Messages:            req.Messages,
		Tools:               req.Tools,
		AddGenerationPrompt: req.AddGenerationPrompt,
		BOSToken:            t.bos,
		EOSToken:            t.eos,
	})
	if err == nil {
		return out, nil
	}
	// raise_exception is the template refusing this conversation (e.g. "System
	// role not supported"): that is the caller's error, not ours.
	var te *chattemplate.TemplateError
	if errors.As(err, &te) {
		return "", &InvalidRequestError{Param: "messages", Message: "the model's chat template rejected the conversation: " + te.Message}
	}
	t.log.Warn("chat template: the Jinja engine failed to render; falling back to llama.cpp's built-in template detection", "err", err)
	out, ferr := t.renderBuiltin(req)
	if ferr != nil {
		return "", fmt.Errorf("%w (built-in fallback: %v)", err, ferr)
	}
	return out, nil
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
