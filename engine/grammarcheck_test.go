package engine

import (
	"strings"
	"testing"
)

func TestCheckGrammar(t *testing.T) {
	for _, tc := range []struct {
		name    string
		grammar string
		ok      bool
	}{
		{"simple", `root ::= "yes" | "no"`, true},
		{"json-ish", `root ::= "{" ws "\"a\"" ws ":" ws [0-9]+ ws "}"` + "\n" + `ws ::= [ \t\n]*`, true},
		{"one big repetition", `root ::= "a"{0,1999}`, true},
		{"brackets in strings do not nest", `root ::= "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("`, true},
		{"comment", "# ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((\nroot ::= \"a\"", true},
		{"deep nesting", "root ::= " + strings.Repeat("(", 200000) + `"a"` + strings.Repeat(")", 200000), false},
		{"nested repetitions multiply", `root ::= ("a"{0,1999}){0,1999}`, false},
		{"open-ended repetition", `root ::= ("ab"{500,}){500,}`, false},
		{"too long", `root ::= "` + strings.Repeat("a", maxGrammarBytes) + `"`, false},
	} {
		err := checkGrammar(tc.grammar)
		if (err == nil) != tc.ok {
			t.Errorf("%s: checkGrammar = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestCheckSchemaDepth(t *testing.T) {
	deep := strings.Repeat(`{"type":"array","items":`, 4000) + `{"type":"integer"}` + strings.Repeat("}", 4000)
	if _, err := SchemaToGrammar([]byte(deep)); err == nil || !strings.Contains(err.Error(), "levels deep") {
		t.Errorf("a 4000-level schema: %v", err)
	}
	if _, err := SchemaToGrammar([]byte(`{"type":"object","properties":{"a":{"type":"array","items":{"type":"string"}}}}`)); err != nil {
		t.Error(err)
	}
}
