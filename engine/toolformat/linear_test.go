package toolformat

import (
	"runtime"
	"strings"
	"testing"
)

// The parser is fed the output a token (a few bytes) at a time. Its work
// per Push must not grow with what the section has read so far, or a long
// call (a coding agent's write_file with a whole file as its argument) or
// a long run of name characters after a marker costs time quadratic in
// the output. These tests count work instead of timing it, so they do
// not depend on the machine; BenchmarkParseLongSection times the same
// outputs.

var longTools = []Tool{{Name: "write_file"}, {Name: "python"}}

type longCase struct{ name, family, text string }

// longCases are outputs of about size bytes whose bulk is one section.
func longCases(size int) []longCase {
	word := strings.Repeat("abcdefgh", size/8)
	file := strings.Repeat("line of a file\\n", size/16)
	return []longCase{
		{"hermes long arguments", "hermes", `<tool_call>{"name": "write_file", "arguments": {"path": "a.txt", "content": "` + file + `"}}</tool_call>`},
		{"hermes long key", "hermes", `<tool_call>{"` + word},
		{"devstral long name", "devstral", "[TOOL_CALLS]" + word},
		{"devstral long arguments", "devstral", `[TOOL_CALLS]write_file[ARGS]{"content": "` + file + `"}`},
		{"deepseek long name", "deepseek", dsCallsBegin + dsCallBegin + "function" + dsSep + word},
		{"deepseek long arguments", "deepseek", dsCallsBegin + dsCallBegin + "function" + dsSep + "write_file\n```json\n{\"content\": \"" + file + "\"}\n```" + dsCallEnd + dsCallsEnd},
		{"glm long value", "glm4.5", "<tool_call>write_file\n<arg_key>content</arg_key>\n<arg_value>" + file + "</arg_value>\n</tool_call>"},
		{"llama3 long builtin name", "llama3", "<|python_tag|>" + word},
		{"llama3 long code", "llama3", "<|python_tag|>" + file},
		{"plain content", "hermes", "plain text " + file},
	}
}

// pushSmall feeds text to a new parser four bytes at a time.
func pushSmall(family, text string) {
	p := format(family, nil).NewParser(Options{Tools: longTools})
	for i := 0; i < len(text); i += 4 {
		p.Push(text[i:min(i+4, len(text))])
	}
	p.Finish()
}

// TestParseScansLinear counts the bytes the sections' scans read.
func TestParseScansLinear(t *testing.T) {
	scanned := 0
	scanHook = func(n int) { scanned += n }
	defer func() { scanHook = nil }()
	for _, tc := range longCases(64 << 10) {
		scanned = 0
		pushSmall(tc.family, tc.text)
		// A search resumes a marker's length back: some bytes are
		// read twice, none once per Push.
		if scanned > 8*len(tc.text) {
			t.Errorf("%s: %d bytes scanned for %d bytes of output", tc.name, scanned, len(tc.text))
		}
	}
}

// TestParseCopiesLinear counts the bytes allocated, which copying the
// text read so far on every Push (or every fragment of arguments) shows.
func TestParseCopiesLinear(t *testing.T) {
	for _, tc := range longCases(64 << 10) {
		if got := allocated(func() { pushSmall(tc.family, tc.text) }); got > 64*uint64(len(tc.text)) {
			t.Errorf("%s: %d bytes allocated for %d bytes of output", tc.name, got, len(tc.text))
		}
	}
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestNameDecidedEarly: a name that begins no offered tool's name is not
// one, and the text is content at once instead of being held (and
// rescanned) until the name ends.
func TestNameDecidedEarly(t *testing.T) {
	tests := []struct{ family, marker string }{
		{"devstral", "[TOOL_CALLS]"},
		{"deepseek", dsCallsBegin + dsCallBegin + "function" + dsSep},
		{"deepseek3.1", dsCallsBegin + dsCallBegin},
		{"llama3", "<|python_tag|>"},
		{"glm4.5", "<tool_call>"},
	}
	for _, tc := range tests {
		p := format(tc.family, nil).NewParser(Options{Tools: []Tool{{Name: "write_file"}}})
		var r Result
		r.add(p.Push(tc.marker))
		r.add(p.Push("writes_a_file"))
		if !strings.HasPrefix(r.Content, tc.marker) || len(r.Calls) > 0 {
			t.Errorf("%s: %+v; want the text as content", tc.family, r)
		}
	}
}

func BenchmarkParseLongSection(b *testing.B) {
	for _, tc := range longCases(256 << 10) {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.text)))
			for range b.N {
				pushSmall(tc.family, tc.text)
			}
		})
	}
}
