package toolformat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Converter turns a JSON schema into GBNF whose rule "root" matches it
// (llama.cpp's converter; the caller passes it in so this package stays
// free of cgo).
type Converter func(schema []byte) (string, error)

// GrammarOptions say which calls a forced-call grammar allows.
type GrammarOptions struct {
	// Tools the call may use: all offered tools for tool_choice
	// "required", the one named otherwise.
	Tools []Tool
	// Parallel allows more than one call where the family can write them.
	Parallel bool
	// InReasoning: the output starts inside a reasoning block (see
	// OpensReasoning), which the grammar lets the model close before the
	// call.
	InReasoning bool
}

// Grammar returns GBNF that forces the output to be tool calls in the
// family's markup, each call's arguments valid for its tool's schema, so
// even a weak model answers with a call the parser reads back.
func (f Format) Grammar(opts GrammarOptions, convert Converter) (string, error) {
	if len(opts.Tools) == 0 {
		return "", fmt.Errorf("tool grammar: no tools")
	}
	g := &gbnf{convert: convert}
	st := f.family.grammar
	alts := make([]string, 0, len(opts.Tools))
	for i, t := range opts.Tools {
		args, err := st.arguments(g, fmt.Sprintf("t%d-", i), t)
		if err != nil {
			return "", fmt.Errorf("tool grammar: tool %q: %w", t.Name, err)
		}
		alts = append(alts, st.call(t.Name, args))
	}
	call := g.add("call", strings.Join(alts, " | "))
	body := st.calls(call, opts.Parallel && st.parallel)
	if f.think != nil && opts.InReasoning {
		// The prompt opened reasoning: let the model close it first. A
		// model that would open reasoning itself is asked for the call
		// straight away, as llama-server does, so that a weak model cannot
		// ramble in an unbounded block.
		text := g.add("reasoning-text", notContaining(f.think.close))
		body = text + " " + lit(f.think.close) + ` [ \n]{0,2} ` + body
	}
	g.rules = append([]string{"root ::= " + body}, g.rules...)
	return strings.Join(g.rules, "\n") + "\n", nil
}

// grammarStyle is how a family writes forced calls.
type grammarStyle struct {
	// call is one call of the tool named name whose arguments match the
	// rule args.
	call func(name, args string) string
	// calls is the whole output made of the rule call (once, or one or
	// more when parallel).
	calls func(call string, parallel bool) string
	// parallel: the family can write several calls in one message.
	parallel bool
	// args writes the arguments; nil: JSON for the tool's schema.
	args func(g *gbnf, prefix string, t Tool) (string, error)
}

func (st grammarStyle) arguments(g *gbnf, prefix string, t Tool) (string, error) {
	if st.args != nil {
		return st.args(g, prefix, t)
	}
	return g.jsonArgs(prefix, t.Parameters)
}

// jsonName is a name inside a JSON string literal.
func jsonName(name string) string {
	b, _ := json.Marshal(name)
	return string(b[1 : len(b)-1])
}

// repeat is one call, or one or more separated by sep.
func repeat(call, sep string, parallel bool) string {
	if !parallel {
		return call
	}
	return call + " ( " + sep + call + " )*"
}

var (
	hermesGrammar = grammarStyle{
		call: func(name, args string) string {
			return lit(`<tool_call>`+"\n"+`{"name": "`+jsonName(name)+`", "arguments": `) + " " + args + " " + lit("}\n</tool_call>")
		},
		calls:    func(c string, par bool) string { return repeat(c, lit("\n")+" ", par) },
		parallel: true,
	}
	llamaGrammar = grammarStyle{
		call: func(name, args string) string {
			return lit(`{"name": "`+jsonName(name)+`", "parameters": `) + " " + args + " " + lit("}")
		},
		calls: func(c string, _ bool) string { return c },
	}
	mistralGrammar = grammarStyle{
		call: func(name, args string) string {
			return lit(`{"name": "`+jsonName(name)+`", "arguments": `) + " " + args + " " + lit("}")
		},
		calls: func(c string, par bool) string {
			return lit("[TOOL_CALLS][") + " " + repeat(c, lit(", ")+" ", par) + " " + lit("]")
		},
		parallel: true,
	}
	devstralGrammar = grammarStyle{
		call: func(name, args string) string {
			return lit("[TOOL_CALLS]"+name+"[ARGS]") + " " + args
		},
		calls:    func(c string, par bool) string { return repeat(c, "", par) },
		parallel: true,
	}
	deepseekGrammar = grammarStyle{
		call: func(name, args string) string {
			return lit(dsCallBegin+"function"+dsSep+name+"\n```json\n") + " " + args + " " + lit("\n```"+dsCallEnd)
		},
		calls: func(c string, par bool) string {
			return lit(dsCallsBegin) + " " + repeat(c, lit("\n")+" ", par) + " " + lit(dsCallsEnd)
		},
		parallel: true,
	}
	deepseek31Grammar = grammarStyle{
		call: func(name, args string) string {
			return lit(dsCallBegin+name+dsSep) + " " + args + " " + lit(dsCallEnd)
		},
		calls: func(c string, par bool) string {
			return lit(dsCallsBegin) + " " + repeat(c, "", par) + " " + lit(dsCallsEnd)
		},
		parallel: true,
	}
	glmGrammar = grammarStyle{
		call: func(name, args string) string {
			return lit("<tool_call>"+name+"\n") + " " + args + " " + lit("</tool_call>")
		},
		calls:    func(c string, par bool) string { return repeat(c, lit("\n")+" ", par) },
		parallel: true,
		args:     glmArgs,
	}
	commandRGrammar = grammarStyle{
		call: func(name, args string) string {
			return lit(`{"tool_call_id": "`) + ` [0-9] ` + lit(`", "tool_name": "`+jsonName(name)+`", "parameters": `) + " " + args + " " + lit("}")
		},
		calls: func(c string, par bool) string {
			return lit("<|START_ACTION|>[") + " " + repeat(c, lit(", ")+" ", par) + " " + lit("]<|END_ACTION|>")
		},
		parallel: true,
	}
)

// glmArgs writes one <arg_key>/<arg_value> pair per property, required
// ones always and in the schema's order, optional ones maybe; strings as
// plain text, other values as JSON for the property's schema.
func glmArgs(g *gbnf, prefix string, t Tool) (string, error) {
	props, required, err := objectProperties(t.Parameters)
	if err != nil {
		return "", err
	}
	if len(props) == 0 {
		return `""`, nil
	}
	parts := make([]string, 0, len(props))
	for i, p := range props {
		var value string
		var enum []string
		isString := propertyType(t.Parameters, p.name) == "string"
		if isString && hasKey(p.schema, "enum") {
			var e struct {
				Enum []string `json:"enum"`
			}
			if err := json.Unmarshal(p.schema, &e); err != nil || len(e.Enum) == 0 {
				return "", fmt.Errorf("property %q: a string enum must list strings", p.name)
			}
			enum = e.Enum
		}
		switch {
		case enum != nil: // written as they are, unquoted
			alts := make([]string, len(enum))
			for j, v := range enum {
				alts[j] = lit(v)
			}
			value = g.add(fmt.Sprintf("%sv%d", prefix, i), strings.Join(alts, " | "))
		case isString:
			// Plain text up to the closing tag, as long as the schema
			// allows.
			text := `[^<]*`
			var limits struct {
				MaxLength *int `json:"maxLength"`
			}
			if json.Unmarshal(p.schema, &limits) == nil && limits.MaxLength != nil {
				text = fmt.Sprintf(`[^<]{0,%d}`, *limits.MaxLength)
			}
			value = g.add(fmt.Sprintf("%sv%d", prefix, i), text)
		default:
			v, err := g.schema(fmt.Sprintf("%sv%d-", prefix, i), p.schema)
			if err != nil {
				return "", fmt.Errorf("property %q: %w", p.name, err)
			}
			value = v
		}
		pair := lit("<arg_key>"+p.name+"</arg_key>\n<arg_value>") + " " + value + " " + lit("</arg_value>\n")
		if !required[p.name] {
			pair = "( " + pair + " )?"
		}
		parts = append(parts, pair)
	}
	return strings.Join(parts, " "), nil
}

// gbnf collects the rules of one grammar.
type gbnf struct {
	convert Converter
	rules   []string
}

// add appends a rule and returns its name.
func (g *gbnf) add(name, body string) string {
	g.rules = append(g.rules, name+" ::= "+body)
	return name
}

// jsonArgs is the rule for a tool's arguments: an object for its schema,
// "{}" when it takes none.
func (g *gbnf) jsonArgs(prefix string, schema []byte) (string, error) {
	if len(bytes.TrimSpace(schema)) == 0 || string(bytes.TrimSpace(schema)) == "null" {
		return lit("{}"), nil
	}
	var probe map[string]any
	if err := json.Unmarshal(schema, &probe); err != nil {
		return "", fmt.Errorf("parameters is not a JSON schema object: %w", err)
	}
	if len(probe) == 0 {
		return lit("{}"), nil
	}
	return g.schema(prefix, schema)
}

// schema converts a JSON schema and adds its rules, renamed under prefix
// so that several schemas share one grammar; it returns the root rule.
func (g *gbnf) schema(prefix string, schema []byte) (string, error) {
	if g.convert == nil {
		return "", fmt.Errorf("no JSON schema converter")
	}
	text, err := g.convert(schema)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(prefixRules(text, prefix), "\n") {
		if strings.TrimSpace(line) != "" {
			g.rules = append(g.rules, line)
		}
	}
	return prefix + "root", nil
}

// prefixRules renames every rule of a GBNF grammar (definitions and
// references; literals, character classes and repetition counts are left
// alone).
func prefixRules(g, prefix string) string {
	var b strings.Builder
	for i := 0; i < len(g); {
		c := g[i]
		switch {
		case c == '"' || c == '[':
			end := byte('"')
			if c == '[' {
				end = ']'
			}
			j := i + 1
			for j < len(g) && g[j] != end {
				if g[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(g))
			b.WriteString(g[i:j])
			i = j
		case c == '{' || c == '#':
			end := byte('}')
			if c == '#' {
				end = '\n'
			}
			j := strings.IndexByte(g[i:], end)
			if j < 0 {
				j = len(g) - i - 1
			}
			b.WriteString(g[i : i+j+1])
			i += j + 1
		case isRuleByte(c):
			j := i
			for j < len(g) && isRuleByte(g[j]) {
				j++
			}
			b.WriteString(prefix)
			b.WriteString(g[i:j])
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func isRuleByte(c byte) bool {
	return c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// lit is a GBNF string literal.
func lit(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// notContaining approximates "any text without close": no occurrence of
// close's first two characters in a row.
func notContaining(close string) string {
	a, b := classChar(close[0]), classChar(close[1])
	return fmt.Sprintf(`( [^%s] | "%s" [^%s%s] )*`, a, litChar(close[0]), b, a)
}

func classChar(c byte) string {
	if strings.IndexByte(`]\^-[`, c) >= 0 {
		return `\` + string(c)
	}
	return string(c)
}

func litChar(c byte) string {
	if c == '"' || c == '\\' {
		return `\` + string(c)
	}
	return string(c)
}

type property struct {
	name   string
	schema []byte
}

// objectProperties lists an object schema's properties in their order.
func objectProperties(schema []byte) ([]property, map[string]bool, error) {
	var s struct {
		Properties json.RawMessage `json:"properties"`
		Required   []string        `json:"required"`
	}
	if len(bytes.TrimSpace(schema)) == 0 {
		return nil, nil, nil
	}
	if err := json.Unmarshal(schema, &s); err != nil {
		return nil, nil, fmt.Errorf("parameters is not a JSON schema object: %w", err)
	}
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	if len(s.Properties) == 0 {
		return nil, required, nil
	}
	dec := json.NewDecoder(bytes.NewReader(s.Properties))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, fmt.Errorf("properties is not an object")
	}
	var props []property
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		props = append(props, property{name: t.(string), schema: raw})
	}
	return props, required, nil
}

func hasKey(schema []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(schema, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}
