package server

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Tool calls in the model's output, in the Hermes format that Qwen 2.5/3,
// Hermes and many fine-tunes are trained on:
//
//	<tool_call>
//	{"name": "get_weather", "arguments": {"city": "Paris"}}
//	</tool_call>
//
// Other formats are left in the text as the model wrote them.
const (
	toolCallOpen  = "<tool_call>"
	toolCallClose = "</tool_call>"
)

type toolCallJSON struct {
	Index    *int             `json:"index,omitempty"` // stream deltas only
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function toolCallFunction `json:"function"`
}

type toolCallFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // JSON text, as OpenAI sends it
}

// splitToolCalls takes the tool-call blocks out of text. ok is false when
// there are none or one does not parse; the text is then left alone.
func splitToolCalls(text string) (content string, calls []toolCallJSON, ok bool) {
	var rest strings.Builder
	s := text
	for {
		i := strings.Index(s, toolCallOpen)
		if i < 0 {
			rest.WriteString(s)
			break
		}
		rest.WriteString(s[:i])
		s = s[i+len(toolCallOpen):]
		j := strings.Index(s, toolCallClose)
		body := s
		if j >= 0 {
			body, s = s[:j], s[j+len(toolCallClose):]
		} else {
			s = "" // a model may stop right after the JSON
		}
		call, good := parseToolCall(body)
		if !good {
			return text, nil, false
		}
		calls = append(calls, call)
	}
	if len(calls) == 0 {
		return text, nil, false
	}
	return strings.TrimSpace(rest.String()), calls, true
}

func parseToolCall(body string) (toolCallJSON, bool) {
	var raw struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(body)), &raw); err != nil || raw.Name == "" {
		return toolCallJSON{}, false
	}
	args := bytes.TrimSpace(raw.Arguments)
	if len(args) == 0 || bytes.Equal(args, []byte("null")) {
		args = []byte("{}")
	}
	// Arguments sent as a JSON string stay a string of JSON text.
	var s string
	if json.Unmarshal(args, &s) == nil {
		args = []byte(s)
	}
	return toolCallJSON{ID: "call_" + newID(), Type: "function",
		Function: toolCallFunction{Name: raw.Name, Arguments: string(args)}}, true
}

// toolStreamFilter holds back a streamed choice's text from the first
// tool-call marker on, so the calls can be sent parsed at the end.
type toolStreamFilter struct {
	buf    strings.Builder
	inTool bool
	held   string // a tail that may be the start of the marker
}

// push returns the text that can be sent now.
func (f *toolStreamFilter) push(text string) string {
	if f.inTool {
		f.buf.WriteString(text)
		return ""
	}
	s := f.held + text
	f.held = ""
	if i := strings.Index(s, toolCallOpen); i >= 0 {
		f.inTool = true
		f.buf.WriteString(s[i:])
		return s[:i]
	}
	// Keep back the longest suffix that could begin the marker.
	for n := min(len(toolCallOpen)-1, len(s)); n > 0; n-- {
		if strings.HasSuffix(s, toolCallOpen[:n]) {
			f.held = s[len(s)-n:]
			return s[:len(s)-n]
		}
	}
	return s
}

// finish returns the text still held and, when parse is set, the parsed
// calls; text that does not parse as calls is returned as text.
func (f *toolStreamFilter) finish(parse bool) (text string, calls []toolCallJSON) {
	if !f.inTool {
		return f.held, nil
	}
	held := f.buf.String()
	if !parse {
		return held, nil
	}
	rest, calls, ok := splitToolCalls(held)
	if !ok {
		return held, nil
	}
	return rest, calls
}
