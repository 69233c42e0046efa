// Package toolformat knows how model families write tool calls and reasoning
// in their output, and turns that text into OpenAI-shaped pieces: content,
// reasoning and tool calls (name, then arguments in fragments).
//
// A Format is detected from the chat template's text (each family's
// template renders past tool calls in the family's own markup) or named in
// the configuration. Its Parser is fed the generated text delta by delta and
// holds back anything that may be the start of markup, so raw markup never
// reaches the content, not even when the stream stops in the middle of it.
// Its Grammar forces a call (tool_choice "required" or a named function) in
// the family's own markup, with arguments that match the tool's JSON schema.
//
// The package is pure Go and knows nothing of HTTP or llama.cpp.
package toolformat

import (
	"fmt"
	"sort"
	"strings"
)

// Format is how one model writes tool calls and reasoning.
type Format struct {
	family *family
	// think marks reasoning blocks; nil: the model does not reason in tags.
	think *tags
}

type tags struct{ open, close string }

var (
	thinkTags   = &tags{"<think>", "</think>"}
	cohereThink = &tags{"<|START_THINKING|>", "<|END_THINKING|>"}
	mistralMind = &tags{"[THINK]", "[/THINK]"}
)

// Name is the tool-call family's name, as configured with tool_format.
func (f Format) Name() string { return f.family.name }

// Detect picks the format a chat template implies: the family whose markup
// the template renders for past tool calls (Hermes when none does), and
// reasoning tags when the template handles them.
func Detect(template string) Format {
	fam := detectFamily(template)
	think := detectThink(template)
	if think == nil {
		think = fam.think
	}
	return Format{family: fam, think: think}
}

// WithFamily returns f with its tool-call family replaced by the one named
// (a configuration override); reasoning detection is kept.
func (f Format) WithFamily(name string) (Format, error) {
	fam, ok := families[name]
	if !ok {
		return f, fmt.Errorf("unknown tool format %q; known: %s", name, strings.Join(Names(), ", "))
	}
	f.family = fam
	if f.think == nil && fam.think != nil {
		f.think = fam.think
	}
	return f, nil
}

// Names lists the known family names, sorted.
func Names() []string {
	out := make([]string, 0, len(families))
	for name := range families {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Valid reports whether name is a known family ("" is: it means detect).
func Valid(name string) bool {
	_, ok := families[name]
	return ok || name == ""
}

func detectFamily(t string) *family {
	has := func(s string) bool { return strings.Contains(t, s) }
	switch {
	case has("<arg_key>"):
		return families["glm4.5"]
	case has("tool▁calls▁begin") || has("tool▁call▁begin"):
		if has("```json") {
			return families["deepseek"]
		}
		return families["deepseek3.1"]
	case has("<|START_ACTION|>"):
		return families["command-r"]
	case has("[TOOL_CALLS]"):
		if has("[ARGS]") {
			return families["devstral"]
		}
		return families["mistral"]
	case has("<tool_call>"):
		return families["hermes"]
	case has("<|python_tag|>"),
		has("<|start_header_id|>") && has("ipython") && has(`"parameters"`):
		return families["llama3"]
	}
	return families["hermes"]
}

func detectThink(t string) *tags {
	switch {
	case strings.Contains(t, "<think>") || strings.Contains(t, "</think>"):
		return thinkTags
	case strings.Contains(t, "<|START_THINKING|>"):
		return cohereThink
	case strings.Contains(t, "[THINK]"):
		return mistralMind
	}
	return nil
}

// OpensReasoning reports whether a rendered prompt ends inside a reasoning
// block (QwQ, DeepSeek-R1 and others open <think> in the generation prompt):
// the output then starts as reasoning.
func (f Format) OpensReasoning(prompt string) bool {
	if f.think == nil {
		return false
	}
	return strings.HasSuffix(strings.TrimRight(prompt, " \t\r\n"), f.think.open)
}

// PreservedTokens are the family's markers. Some vocabularies make them
// special (control) tokens, which a detokenizer drops unless told to keep
// them; the parser must see them.
func (f Format) PreservedTokens() []string {
	out := append([]string(nil), f.family.preserved...)
	if f.think != nil {
		out = append(out, f.think.open, f.think.close)
	}
	return out
}

// TemplateCallID is the tool-call id as the family's template wants it.
// Mistral templates require nine alphanumeric characters; the id clients
// see (call_…) is mapped to one deterministically, so a tool result's
// tool_call_id still matches its call.
func (f Format) TemplateCallID(id string) string {
	if f.family.shortIDs {
		return shortID(id)
	}
	return id
}

// shortID maps an id to 9 alphanumeric characters (FNV-1a, base 62).
func shortID(id string) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	if len(id) == 9 && strings.Trim(id, alphabet) == "" {
		return id
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	var b [9]byte // 62^9 < 2^64: nine digits of the hash
	for i := range b {
		b[i] = alphabet[h%62]
		h /= 62
	}
	return string(b[:])
}

// Tool is one function the model may call.
type Tool struct {
	Name string
	// Parameters is the JSON schema of the arguments; empty: no arguments.
	Parameters []byte
}
