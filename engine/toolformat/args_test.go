package toolformat

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestObjectArgs: arguments given whole become the valid part of them, as
// an object.
func TestObjectArgs(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"city": "Paris"}`, `{"city": "Paris"}`},
		{` {"a": [1, {"b": null}], "c": -1.5e3, "d": true} `, `{"a": [1, {"b": null}], "c": -1.5e3, "d": true}`},
		{`"Paris"`, `{}`},
		{`Paris`, `{}`},
		{``, `{}`},
		{`[1, 2]`, `{}`},
		{`{"city": Paris}`, `{}`},
		{`{"a": 1, "city": Paris}`, `{"a": 1}`},
		{`{"a": 1, }`, `{"a": 1}`},
		{`{"a": "x\q"}`, `{"a": "x"}`},
		{`{"a": [1, 2`, `{"a": [1, 2]}`},
		{`{"a": "é` + "\xe2\x82", `{"a": "é"}`},
		{`{"a": tru}`, `{}`},
		{`{"a": 01}`, `{}`},
		{`{"a": "line` + "\n" + `two\u00e9"}`, `{"a": "line\ntwo\u00e9"}`},
		{`{"a": {"b": "c"}} trailing`, `{"a": {"b": "c"}}`},
	}
	for _, tc := range tests {
		got := objectArgs(tc.in)
		var obj map[string]any
		if got != tc.want || json.Unmarshal([]byte(got), &obj) != nil {
			t.Errorf("objectArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestArgsCheckAnySplit: streamed in any pieces, the fragments add up to
// the same object as the text checked whole.
func TestArgsCheckAnySplit(t *testing.T) {
	for _, text := range []string{`{"a": "x\u00e9y", "b": [1, {"c": false}]}`, `{"a": "é ü", "b": tru}`, "{\"a\": \"x\ny\", \"b\": 12, \"c\" 1}"} {
		whole := objectArgs(text)
		for i := 0; i <= len(text); i++ {
			var c argsCheck
			var b strings.Builder
			isDone, bad := c.check(text[:i], false)
			b.WriteString(c.take(text))
			if !isDone && !bad {
				isDone, bad = c.check(text, true)
				b.WriteString(c.take(text))
			}
			if !isDone {
				b.WriteString(c.closing())
			}
			if b.String() != whole {
				t.Errorf("%q split at %d: %q, whole %q", text, i, b.String(), whole)
			}
		}
	}
}
