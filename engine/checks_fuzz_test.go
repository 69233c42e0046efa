package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCheckGrammar: the Go grammar check reads every grammar a request
// sends before llama.cpp does; whatever the text, it must answer (nil or
// an error) without panicking. A grammar it accepts must parse again the
// same way (the check is deterministic). Hangs show as the fuzzer's
// timeout.
//
//	go test ./engine -run '^$' -fuzz FuzzCheckGrammar -fuzztime 5m
func FuzzCheckGrammar(f *testing.F) {
	files, _ := filepath.Glob("testdata/grammars/*.gbnf")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(string(b))
		}
	}
	for _, g := range []string{
		`root ::= ("a"?)+ "b"`, `root ::= (("a")*)*`, `root ::= "a" root "b" | "a" root "c" | ""`,
		`root ::= x{5,2}`, `root ::= [^\]a-] <[12]> !<[3]> . "\x41\u00e9"`, `root ::= r  r ::= e r "x"  e ::= "a"?`,
		"root ::= a0\na0 ::= a1 | a1\na1 ::= \"x\"",
	} {
		f.Add(g)
	}
	f.Fuzz(func(t *testing.T, g string) {
		err := checkGrammar(g)
		if again := checkGrammar(g); (err == nil) != (again == nil) {
			t.Fatalf("checked twice: %v, then %v", err, again)
		}
	})
}

// FuzzCheckSchema: the Go schema check and the pattern rewrite read every
// JSON schema a request sends before llama.cpp's converter does; whatever
// the text, they must answer without panicking, and the rewrite must keep
// the schema JSON. (The converter itself is not called: the check exists
// because it crashes.)
//
//	go test ./engine -run '^$' -fuzz FuzzCheckSchema -fuzztime 5m
func FuzzCheckSchema(f *testing.F) {
	for _, s := range []string{
		`{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0}},"required":["name"]}`,
		`{"type":"string","pattern":"^\\d{3}-[\\w.]+\\s*$"}`,
		`{"$defs":{"n":{"anyOf":[{"type":"null"},{"$ref":"#/$defs/n"}]}},"$ref":"#/$defs/n"}`,
		`{"allOf":[{"$ref":"#/$defs/a"}],"$defs":{"a":{"type":["string","null"]}}}`,
		`{"type":"array","items":{"enum":[1,"a",null]},"minItems":2,"maxItems":5}`,
		`{"properties":{"pattern":{"const":{"pattern":"\\d"}}},"additionalProperties":{"type":"number"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		schema := []byte(s)
		if !json.Valid(schema) {
			return // SchemaToGrammar stops there
		}
		if err := checkSchema(schema); err != nil {
			return
		}
		out, err := rewritePatterns(schema)
		if err == nil && !json.Valid(out) {
			t.Fatalf("the rewrite made %q of %q", out, s)
		}
	})
}
