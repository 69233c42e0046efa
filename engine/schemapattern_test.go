package engine

import (
	"encoding/json"
	"regexp"
	"testing"
)

func TestExpandPatternClasses(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{`^\d{3}-\d{4}$`, `^[0-9]{3}-[0-9]{4}$`, ""},
		{`^[\w.]+@\w+$`, `^[a-zA-Z0-9_.]+@[a-zA-Z0-9_]+$`, ""},
		{`^\s*\S+$`, `^[ \t\n\r\x0B\x0C]*[^ \t\n\r\x0B\x0C]+$`, ""},
		{`^\D\W$`, `^[^0-9][^a-zA-Z0-9_]$`, ""},
		{`^a\.b\\d$`, `^a\.b\\d$`, ""}, // escaped dot, and an escaped backslash before d
		{`^[\]\d]$`, `^[\]0-9]$`, ""},
		{`^[\D]$`, "", `\D inside [...]`},
		{`^plain$`, `^plain$`, ""},
	}
	for _, tt := range tests {
		got, err := expandPatternClasses(tt.in)
		if tt.err != "" {
			if err == nil || !regexp.MustCompile(regexp.QuoteMeta(tt.err)).MatchString(err.Error()) {
				t.Errorf("%s: %q, %v; want an error about %s", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestRewritePatternsOnlyInSubschemas: patterns of subschemas anywhere are
// rewritten; a property called "pattern" and instance data under const and
// enum are left as they are, and the rest of the text keeps its order.
func TestRewritePatternsOnlyInSubschemas(t *testing.T) {
	in := `{"type":"object","properties":{"pattern":{"type":"string","pattern":"^\\d$"},` +
		`"b":{"anyOf":[{"pattern":"^\\w$"},{"const":{"pattern":"\\d"}}]}},"$defs":{"x":{"enum":[{"pattern":"\\s"}]}}}`
	want := `{"type":"object","properties":{"pattern":{"type":"string","pattern":"^[0-9]$"},` +
		`"b":{"anyOf":[{"pattern":"^[a-zA-Z0-9_]$"},{"const":{"pattern":"\\d"}}]}},"$defs":{"x":{"enum":[{"pattern":"\\s"}]}}}`
	got, err := rewritePatterns([]byte(in))
	if err != nil || string(got) != want {
		t.Fatalf("got %s, %v\nwant %s", got, err, want)
	}
	if !json.Valid(got) {
		t.Fatal("not JSON")
	}
}

// TestSchemaPatternClassesGenerate: a schema whose pattern uses \d was a
// 400 ("unknown escape \d" in the converter's grammar), and "-\d{4}"
// repeated "-\d" whole; the model's output now matches the pattern.
func TestSchemaPatternClassesGenerate(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 1})
	schema := []byte(`{"type":"string","pattern":"^\\d{3}-\\d{4}$"}`)
	r := generate(t, m, GenerateRequest{Prompt: "Once upon a time", MaxTokens: 40, JSONSchema: schema})
	var s string
	if err := json.Unmarshal([]byte(r.text[0]), &s); err != nil || !regexp.MustCompile(`^\d{3}-\d{4}$`).MatchString(s) {
		t.Fatalf("output %q (%v) does not match the schema's pattern", r.text[0], err)
	}
}
