package server

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/engine/chattemplate"
	"github.com/ggufd/ggufd/server/apierror"
)

// wireMessage is one OpenAI chat message as sent.
type wireMessage struct {
	Role             *string         `json:"role"`
	Content          json.RawMessage `json:"content"`
	Name             *string         `json:"name"`
	ToolCallID       *string         `json:"tool_call_id"`
	ToolCalls        []wireToolCall  `json:"tool_calls"`
	ReasoningContent *string         `json:"reasoning_content"`
}

type wireToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

type contentPart struct {
	Type     string  `json:"type"`
	Text     *string `json:"text"`
	Refusal  *string `json:"refusal"`
	ImageURL *struct {
		URL    string `json:"url"`
		Detail string `json:"detail"` // accepted; the projector decides the resolution
	} `json:"image_url"`
}

var chatRoles = map[string]string{
	"system":    "system",
	"developer": "system", // templates predate OpenAI's "developer" role
	"user":      "user",
	"assistant": "assistant",
	"tool":      "tool",
	"function":  "tool",
}

// messagesSize is the bytes a chat request gives the template to render and
// the tokenizer to read: message contents, reasoning, names, tool-call ids,
// names and arguments as sent, the tool definitions and chat_template_kwargs.
func messagesSize(msgs []wireMessage, tools json.RawMessage, kwargs map[string]json.RawMessage) int {
	n := len(tools)
	// Every field a template may render counts, not only the content:
	// many templates print a message's name, every tool-capable one the
	// calls' names and ids, and kwargs are template variables.
	for k, v := range kwargs {
		n += len(k) + len(v)
	}
	for _, m := range msgs {
		n += contentTextSize(m.Content)
		for _, s := range []*string{m.ReasoningContent, m.Name, m.ToolCallID} {
			if s != nil {
				n += len(*s)
			}
		}
		for _, tc := range m.ToolCalls {
			n += len(tc.ID) + len(tc.Function.Name) + len(tc.Function.Arguments)
		}
	}
	return n
}

// contentTextSize is the text a message's content holds: a string's length, or
// the text parts' of an array. Images count against images.max_bytes, not
// the prompt limit, and are tokenized into a fixed number of positions.
func contentTextSize(content json.RawMessage) int {
	if len(content) == 0 || content[0] != '[' {
		return len(content)
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(content, &parts); err != nil {
		return len(content) // malformed: toTemplateMessages reports it
	}
	n := 0
	for _, p := range parts {
		n += len(p.Text)
	}
	return n
}

// toTemplateMessages converts OpenAI messages into what chat templates read:
// content as one string, tool-call arguments as JSON objects. Image parts
// become engine.ImageMarker() in the content and are returned in order.
func toTemplateMessages(msgs []wireMessage) ([]engine.ChatMessage, []imageRef, error) {
	if len(msgs) == 0 {
		return nil, nil, apierror.InvalidParam("messages", "Invalid 'messages': expected an array with at least one message.")
	}
	var images []imageRef
	out := make([]engine.ChatMessage, 0, len(msgs))
	for i, m := range msgs {
		at := fmt.Sprintf("messages[%d]", i)
		if m.Role == nil {
			return nil, nil, apierror.InvalidParam(at+".role", "Missing required parameter: '%s.role'.", at)
		}
		role, ok := chatRoles[*m.Role]
		if !ok {
			return nil, nil, apierror.InvalidParam(at+".role",
				"Invalid value for '%s.role': %q; expected one of system, developer, user, assistant, tool.", at, *m.Role)
		}
		content, err := messageText(m.Content, at+".content", role == "assistant", &images)
		if err != nil {
			return nil, nil, err
		}
		msg := engine.ChatMessage{"role": role, "content": content}
		if isNull(m.Content) {
			// Templates tell "no content" (an assistant turn with only
			// tool calls) from empty content with "is none".
			msg["content"] = nil
		}
		if m.Name != nil {
			msg["name"] = *m.Name
		}
		if m.ToolCallID != nil {
			msg["tool_call_id"] = *m.ToolCallID
		}
		if m.ReasoningContent != nil {
			msg["reasoning_content"] = *m.ReasoningContent
		}
		if len(m.ToolCalls) > 0 {
			calls, err := templateToolCalls(m.ToolCalls, at+".tool_calls")
			if err != nil {
				return nil, nil, err
			}
			msg["tool_calls"] = calls
		}
		out = append(out, msg)
	}
	return out, images, nil
}

// messageText flattens content: a string, null, or an array of parts joined
// with newlines, where an image_url part stands as engine.ImageMarker() and
// is appended to images. Other part types are not supported.
func messageText(raw json.RawMessage, at string, assistant bool, images *[]imageRef) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []contentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", apierror.New(400, apierror.TypeInvalidRequest, "invalid_type", at,
			"Invalid type for '%s': expected a string or an array of content parts.", at)
	}
	texts := make([]string, 0, len(parts))
	for j, p := range parts {
		switch p.Type {
		case "text":
			if p.Text == nil {
				return "", apierror.InvalidParam(fmt.Sprintf("%s[%d].text", at, j), "Missing required parameter: '%s[%d].text'.", at, j)
			}
			texts = append(texts, *p.Text)
		case "image_url":
			param := fmt.Sprintf("%s[%d].image_url", at, j)
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return "", apierror.InvalidParam(param+".url", "Missing required parameter: '%s.url'.", param)
			}
			*images = append(*images, imageRef{param: param, url: p.ImageURL.URL})
			texts = append(texts, engine.ImageMarker())
		case "refusal":
			// What an assistant turn held when the model refused (OpenAI:
			// "one or more of type text, or exactly one of type refusal"):
			// a client replaying the conversation sends it back, and the
			// model said it, so it is the turn's text.
			if !assistant {
				return "", apierror.New(400, apierror.TypeInvalidRequest, "unsupported_content", fmt.Sprintf("%s[%d].type", at, j),
					"Content parts of type \"refusal\" are only for assistant messages.")
			}
			if p.Refusal == nil {
				return "", apierror.InvalidParam(fmt.Sprintf("%s[%d].refusal", at, j), "Missing required parameter: '%s[%d].refusal'.", at, j)
			}
			texts = append(texts, *p.Refusal)
		default:
			return "", apierror.New(400, apierror.TypeInvalidRequest, "unsupported_content", fmt.Sprintf("%s[%d].type", at, j),
				"Content parts of type %q are not supported; only text and image_url are (and refusal in assistant messages).", p.Type)
		}
	}
	return strings.Join(texts, "\n"), nil
}

// templateToolCalls parses each call's arguments (a JSON string on the wire)
// into a value, since templates render them with tojson or iterate them.
func templateToolCalls(calls []wireToolCall, at string) ([]any, error) {
	out := make([]any, 0, len(calls))
	for j, tc := range calls {
		args, err := parseArguments(tc.Function.Arguments)
		if err != nil {
			return nil, apierror.InvalidParam(fmt.Sprintf("%s[%d].function.arguments", at, j),
				"Invalid '%s[%d].function.arguments': %v.", at, j, err)
		}
		typ := tc.Type
		if typ == "" {
			typ = "function"
		}
		// An ordered map, so templates that print the call show its keys
		// in OpenAI's order.
		fn := chattemplate.NewMap()
		fn.Set("name", tc.Function.Name)
		fn.Set("arguments", args)
		call := chattemplate.NewMap()
		call.Set("id", tc.ID)
		call.Set("type", typ)
		call.Set("function", fn)
		out = append(out, call)
	}
	return out, nil
}

// parseArguments accepts arguments as a JSON string holding an object (what
// OpenAI sends) or, leniently, as an object.
func parseArguments(raw json.RawMessage) (any, error) {
	if isNull(raw) {
		return map[string]any{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if strings.TrimSpace(s) == "" {
			return map[string]any{}, nil
		}
		if !json.Valid([]byte(s)) {
			// A turn replayed as the model wrote it (a small model's
			// arguments are not always JSON): templates get the text, as
			// transformers' do, rather than the conversation a 400.
			// Valid JSON past the decoder's limits is still refused below.
			return s, nil
		}
		raw = json.RawMessage(s)
	}
	v, err := decodeJSONValue(raw)
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return v, nil
}

// decodeJSONValue decodes arbitrary JSON for templates, keeping object key
// order (tool schemas and arguments are printed in the order sent).
func decodeJSONValue(raw []byte) (any, error) {
	return chattemplate.DecodeJSON(raw)
}
