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
	// keepsNull: the template tells null content from "" (see
	// chattemplate.EmptyContent); others get "".
	keepsNull bool
}

func newChatTemplate(source, bos, eos string, log *slog.Logger) *chatTemplate {
	if source == "" {
		return nil
	}
	t := &chatTemplate{source: source, bos: bos, eos: eos, log: log, keepsNull: chattemplate.TestsNullContent(source)}
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
	msgs := req.Messages
	if !t.keepsNull {
		msgs, _ = chattemplate.EmptyContent(msgs)
	}
	ctx := chattemplate.Context{
		Messages:            msgs,
		Tools:               req.Tools,
		AddGenerationPrompt: req.AddGenerationPrompt,
		BOSToken:            t.bos,
		EOSToken:            t.eos,
		Extra:               req.Extra,
	}
	out, err := t.jinja.Render(ctx)
	if err == nil {
		return out, nil
	}
	if out, ok := t.retryToolMessages(ctx); ok {
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

// retryToolMessages renders again with the tool-call messages in the forms
// other templates want, for templates that failed on transformers' own:
// null content as "" (Qwen 3 calls None.startswith) and arguments as JSON
// text (DeepSeek's concatenate them as strings).
func (t *chatTemplate) retryToolMessages(ctx chattemplate.Context) (string, bool) {
	empty, emptied := chattemplate.EmptyContent(ctx.Messages)
	text, texted, err := chattemplate.StringArguments(ctx.Messages)
	if err != nil {
		texted = false
	}
	// Text arguments first: they keep a null content, which templates that
	// test for it render differently (DeepSeek V2.5 writes the calls only
	// then).
	var tries [][]map[string]any
	if texted {
		tries = append(tries, text)
	}
	if emptied {
		tries = append(tries, empty)
	}
	if both, _ := chattemplate.EmptyContent(text); texted && emptied {
		tries = append(tries, both)
	}
	for _, msgs := range tries {
		ctx.Messages = msgs
		if out, err := t.jinja.Render(ctx); err == nil {
			return out, true
		}
	}
	return "", false
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
