package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// childTestEnv names the subtest a re-executed test binary should run for
// inChildProcess.
const childTestEnv = "GGUFD_SCHEMA_CHILD"

// inChildProcess runs body in a copy of the test binary that runs only
// t, so that a crash or a hang inside llama.cpp fails t instead of
// killing the whole run. In that child it just runs body.
func inChildProcess(t *testing.T, limit time.Duration, body func(t *testing.T)) {
	t.Helper()
	switch os.Getenv(childTestEnv) {
	case t.Name():
		body(t)
		return
	case "":
	default:
		t.Skip("runs only in the parent")
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	run := []string{}
	for _, part := range strings.SplitN(t.Name(), "/", 2) {
		run = append(run, "^"+regexp.QuoteMeta(part)+"$")
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+strings.Join(run, "/"), "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childTestEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if len(out) > 4000 {
		out = append([]byte("..."), out[len(out)-4000:]...)
	}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("still running after %v (killed): the converter hangs\n%s", limit, out)
	case errors.As(err, &exit) && strings.Contains(string(out), "signal arrived during cgo execution"):
		t.Fatalf("the process crashed inside llama.cpp: %v\n%s", err, out)
	case err != nil:
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// refusedSchema is a schema SchemaToGrammar must refuse with an error that
// contains want.
type refusedSchema struct {
	name, schema, want string
}

func objectWithProps(n int, required bool, prop func(i int) string) string {
	var props, req []string
	for i := range n {
		props = append(props, prop(i))
		req = append(req, fmt.Sprintf("%q", fmt.Sprintf("p%d", i)))
	}
	s := `{"type":"object","properties":{` + strings.Join(props, ",") + `}`
	if required {
		s += `,"required":[` + strings.Join(req, ",") + `]`
	}
	return s + `}`
}

// checkRefused runs each case in a child process: without the checks
// these crash or hang the converter, or keep it busy for seconds.
func checkRefused(t *testing.T, cases []refusedSchema) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inChildProcess(t, 20*time.Second, func(t *testing.T) {
				start := time.Now()
				g, err := SchemaToGrammar([]byte(tc.schema))
				if err == nil {
					t.Fatalf("accepted (%d-byte grammar in %v); want an error with %q", len(g), time.Since(start), tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %q; want one with %q", err, tc.want)
				}
			})
		})
	}
}

func TestSchemaToGrammarRefusesCrashingPatterns(t *testing.T) {
	pattern := func(p string) string { return `{"type":"string","pattern":"` + p + `"}` }
	checkRefused(t, []refusedSchema{
		{"* at the start", pattern(`^*$`), "nothing to repeat"},
		{"+ at the start", pattern(`^+a$`), "nothing to repeat"},
		{"{n} at the start", pattern(`^{2}$`), "nothing to repeat"},
		{"? after (", pattern(`^(?a)$`), "(?...)"},
		{"non-capturing group", pattern(`^(?:ab)+$`), "(?...)"},
		{"* after (", pattern(`^a(*b)$`), "nothing to repeat"},
		{"{m,n} after (", pattern(`^(|{1,2})$`), "nothing to repeat"},
		{"* after |", pattern(`^a|*$`), "nothing to repeat"},
		{"50,000 nested groups", pattern("^" + strings.Repeat("(", 50000) + "a" + strings.Repeat(")", 50000) + "$"), "100003-byte pattern"},
		{"65 nested groups", pattern("^" + strings.Repeat("(", 65) + "a" + strings.Repeat(")", 65) + "$"), "nest more than 64"},
		{"stray ] (loops forever)", pattern(`^a]$`), "unescaped ']'"},
		{"stray } (loops forever)", pattern(`^}$`), "unescaped '}'"},
		{"] first in a class (loops forever)", pattern(`^[]a]$`), "unescaped ']'"},
		{"unbalanced )", pattern(`^a)b$`), "unbalanced )"},
		{"unbalanced (", pattern(`^(a$`), "unbalanced ("},
		{"unbalanced [", pattern(`^[a$`), "unbalanced ["},
		{"trailing backslash", pattern(`^a\\$`), "backslash"},
		{"reversed bounds", pattern(`^a{3,1}$`), "minimum above its maximum"},
		{"negative bound", pattern(`^a{-3}$`), "not a repetition count"},
		{"NUL", pattern(`^a\u0000$`), "NUL"},
		{"no anchors", pattern(`a+`), "must start with ^"},
		{"pattern under anyOf in a type list", `{"type":["string","null"],"anyOf":[{"pattern":"^*$"}]}`, "nothing to repeat"},
	})
}

func TestSchemaToGrammarRefusesCrashingNamesAndRefs(t *testing.T) {
	long := strings.Repeat("a", 100000)
	bang := strings.Repeat("!", 30000)
	checkRefused(t, []refusedSchema{
		{"100,000-byte property name with additionalProperties",
			`{"type":"object","properties":{"` + long + `":{"type":"integer"}},"additionalProperties":{"type":"integer"}}`, "100000-byte key"},
		{"30,000-byte property name of punctuation", `{"type":"object","properties":{"` + bang + `":{}}}`, "30000-byte key"},
		{"30,000-byte $ref", `{"$ref":"#/$defs/` + bang + `"}`, "30008-byte $ref"},
		{"allOf through a $ref to itself", `{"allOf":[{"$ref":"#/$defs/a"}],"$defs":{"a":{"$ref":"#/$defs/a"}}}`, "cycle"},
		{"allOf through a $ref cycle", `{"allOf":[{"$ref":"#/$defs/a"}],"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}}}`, "cycle"},
		{"3,000 objects chained by $ref", refChain(3000), "too large or too repetitive"},
		{"100 objects chained by $ref", refChain(100), "more than 128 schemas deep"},
		{"remote $ref", `{"$ref":"https://example.com/s.json#/a"}`, "only local"},
		{"$ref to nothing", `{"$ref":"#/$defs/none","$defs":{}}`, "points to nothing"},
		{"duplicate keys", `{"type":"string","pattern":"^a$","pattern":"^*$"}`, "repeats the key"},
	})
}

// refChain is an object whose property is a $ref to an object whose
// property is a $ref ... n deep ($defs is an array: the converter takes
// indexes, and the chain is longer than an object may be wide).
func refChain(n int) string {
	var defs []string
	for i := range n {
		defs = append(defs, fmt.Sprintf(`{"type":"object","properties":{"x":{"$ref":"#/$defs/%d"}}}`, i+1))
	}
	defs = append(defs, `{"type":"integer"}`)
	return `{"type":"object","properties":{"a":{"$ref":"#/$defs/0"}},"$defs":[` + strings.Join(defs, ",") + `]}`
}

// nested wraps inner n times in wrap (which holds %s).
func nested(n int, wrap, inner string) string {
	for range n {
		inner = fmt.Sprintf(wrap, inner)
	}
	return inner
}

func TestSchemaToGrammarRefusesCostlySchemas(t *testing.T) {
	var allOfDefs []string
	for i := range 20 {
		allOfDefs = append(allOfDefs, fmt.Sprintf(`"d%d":{"properties":{"x":{"allOf":[{"$ref":"#/$defs/d%d"}]},"y":{"allOf":[{"$ref":"#/$defs/d%d"}]}}}`, i, i+1, i+1))
	}
	allOfDefs = append(allOfDefs, `"d20":{"properties":{"z":{"type":"integer"}}}`)
	var refProps, refDefs []string
	for i := range 600 {
		refProps = append(refProps, fmt.Sprintf(`"r%d":{"$ref":"#/$defs/d%d"}`, i, i))
		refDefs = append(refDefs, fmt.Sprintf(`"d%d":{"type":"integer","description":"%s"}`, i, strings.Repeat("x", 100)))
	}
	checkRefused(t, []refusedSchema{
		{"1,000 optional properties (cubic)", objectWithProps(1000, false, func(i int) string { return fmt.Sprintf(`"p%d":{}`, i) }), "1000 optional properties"},
		{"129 optional properties", objectWithProps(129, false, func(i int) string { return fmt.Sprintf(`"p%d":{}`, i) }), "129 optional properties"},
		{"type lists 20 deep (doubling)", nested(20, `{"type":["object","object"],"properties":{"x":%s}}`, `{"type":"integer"}`), "too large or too repetitive"},
		{"allOf of $ref 20 deep (doubling)", `{"allOf":[{"$ref":"#/$defs/d0"}],"$defs":{` + strings.Join(allOfDefs, ",") + `}}`, "too large or too repetitive"},
		{"600 $refs, each copying the schema", `{"type":"object","properties":{` + strings.Join(refProps, ",") + `},"required":[],"$defs":{` + strings.Join(refDefs, ",") + `}}`, "too large or too repetitive"},
		{"10,000 required properties (quadratic parse)", objectWithProps(10000, true, func(i int) string { return fmt.Sprintf(`"p%d":{"type":"integer"}`, i) }), "more than 1000 keys"},
	})
}

// TestSchemaToGrammarRefusesOversizedGrammar: the binding cuts a grammar
// larger than its buffer (4 bytes per schema byte) and returns the piece as
// if whole. Long property names nested 30 deep make a 62 kB schema whose
// grammar repeats each name in every rule below it.
func TestSchemaToGrammarRefusesOversizedGrammar(t *testing.T) {
	name := strings.Repeat("n", 1000)
	schema := nested(30, `{"type":"object","properties":{"`+name+`":%s},"required":["`+name+`"]}`, `{"type":"integer"}`)
	g, err := SchemaToGrammar([]byte(schema))
	if err == nil {
		t.Fatalf("accepted a %d-byte grammar from a %d-byte schema (the converter's is larger: cut by the binding)", len(g), len(schema))
	}
	if !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("error %q; want one about the grammar's size", err)
	}
}

// TestSchemaToGrammarAcceptsOrdinarySchemas: the checks leave the schemas
// people send alone, including the largest the limits allow.
func TestSchemaToGrammarAcceptsOrdinarySchemas(t *testing.T) {
	for _, tc := range []struct{ name, schema string }{
		{"weather tool", `{"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}`},
		{"required and optional", `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":150},"email":{"type":"string","format":"email"}},"required":["name"],"additionalProperties":false}`},
		{"nested objects and arrays", `{"type":"object","properties":{"user":{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":5}},"required":["tags"]},"points":{"type":"array","items":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"]}}}}`},
		{"enum and const", `{"type":"object","properties":{"unit":{"type":"string","enum":["celsius","fahrenheit"]},"v":{"const":1}},"required":["unit","v"]}`},
		{"anyOf and nullable", `{"type":"object","properties":{"id":{"anyOf":[{"type":"string"},{"type":"integer"}]},"note":{"type":["string","null"]}},"required":["id","note"]}`},
		{"$ref to $defs, recursive", `{"type":"object","properties":{"root":{"$ref":"#/$defs/node"}},"required":["root"],"$defs":{"node":{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["value","children"]}}}`},
		{"allOf", `{"allOf":[{"$ref":"#/$defs/base"},{"properties":{"extra":{"type":"boolean"}}}],"$defs":{"base":{"properties":{"id":{"type":"integer"}}}}}`},
		{"formats", `{"type":"object","properties":{"d":{"type":"string","format":"date"},"t":{"type":"string","format":"time"},"dt":{"type":"string","format":"date-time"},"u":{"type":"string","format":"uuid"}},"required":["d","t","dt","u"]}`},
		{"patterns", `{"type":"object","properties":{"slug":{"type":"string","pattern":"^[a-z]+$"},"phone":{"type":"string","pattern":"^\\d{3}-\\d{4}$"},"code":{"type":"string","pattern":"^([A-Z]{2}|[0-9]{3,})(-[a-z0-9]+)*\\.?$"}},"required":["slug","phone","code"]}`},
		{"string lengths", `{"type":"string","minLength":2,"maxLength":20}`},
		{"number bounds", `{"type":"object","properties":{"n":{"type":"integer","minimum":-40,"maximum":125},"f":{"type":"number","minimum":0.5}},"required":["n","f"]}`},
		{"tuple", `{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}]}`},
		{"any object", `{"type":"object"}`},
		{"128 optional properties", objectWithProps(128, false, func(i int) string { return fmt.Sprintf(`"p%d":{"type":"integer"}`, i) })},
		{"1000 required properties", objectWithProps(1000, true, func(i int) string { return fmt.Sprintf(`"p%d":{"type":"integer"}`, i) })},
		{"1 KiB property names", objectWithProps(4, false, func(i int) string { return fmt.Sprintf(`"%s%d":{}`, strings.Repeat("a", 1020), i) })},
		{"pattern nesting 64 groups", `{"type":"string","pattern":"^` + strings.Repeat("(", 64) + "a" + strings.Repeat(")", 64) + `$"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			g, err := SchemaToGrammar([]byte(tc.schema))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !strings.Contains(g, "root ::=") {
				t.Fatalf("no root rule in %q", g)
			}
			t.Logf("%d-byte grammar in %v", len(g), time.Since(start))
		})
	}
}
