package toolformat

import (
	"encoding/json"
	"strings"
)

// family is one way of writing tool calls. To add one, see
// docs/tool-formats.md.
type family struct {
	name string
	// markers start tool-call markup in the answer.
	markers []string
	// strip are markers removed from the answer wherever they appear
	// (Command R wraps its answer in response tags).
	strip []string
	// bare, when set, parses a call written as plain JSON at the very
	// start of the answer (Llama 3).
	bare func(p *Parser) section
	// section parses the markup after one of markers.
	section func(p *Parser, marker string) section
	// preserved are markers that vocabularies may hold as special tokens.
	preserved []string
	// shortIDs: the template wants 9-character call ids (Mistral).
	shortIDs bool
	// think are reasoning tags the family always uses (templates of other
	// families are checked for <think>).
	think *tags
	// grammar writes GBNF for forced calls (see grammar.go).
	grammar grammarStyle
}

// families are the known families by name.
var families = byName(hermes, glm45, llama3, mistral, devstral, deepseek, deepseek31, commandR)

func byName(fs ...*family) map[string]*family {
	m := make(map[string]*family, len(fs))
	for _, f := range fs {
		m[f.name] = f
	}
	return m
}

var (
	argumentsKeys = []string{"arguments", "parameters"}
	nameKeys      = []string{"name"}
)

// Hermes 2 Pro / 3, Qwen 2.5, Qwen 3, QwQ and most fine-tunes:
//
//	<tool_call>
//	{"name": "get_weather", "arguments": {"city": "Paris"}}
//	</tool_call>
var hermes = &family{
	name:      "hermes",
	markers:   []string{"<tool_call>"},
	preserved: []string{"<tool_call>", "</tool_call>"},
	section: func(*Parser, string) section {
		return &closedSection{body: newCallObject(nameKeys, argumentsKeys), close: "</tool_call>"}
	},
	grammar: hermesGrammar,
}

// closedSection is a body followed by an optional closing marker (a model
// may stop right after the body).
type closedSection struct {
	body   section
	close  string
	bodyN  int
	closed bool
}

func (c *closedSection) feed(p *Parser, s string, final bool) (int, result) {
	if !c.closed {
		n, r := c.body.feed(p, s, final)
		if r != done {
			return n, r
		}
		c.bodyN, c.closed = n, true
	}
	i := skipSpace(s, c.bodyN)
	next, ok, partial := expect(s, i, c.close)
	switch {
	case ok:
		return next, done
	case partial && final:
		return len(s), done // cut inside the closing marker
	case partial:
		return 0, more
	}
	return c.bodyN, done
}

// GLM-4.5 / 4.6: the name, then one tag pair per argument; strings are
// written as they are, other values as JSON:
//
//	<tool_call>get_weather
//	<arg_key>city</arg_key>
//	<arg_value>Paris</arg_value>
//	</tool_call>
var glm45 = &family{
	name:    "glm4.5",
	markers: []string{"<tool_call>"},
	preserved: []string{"<tool_call>", "</tool_call>", "<arg_key>", "</arg_key>",
		"<arg_value>", "</arg_value>"},
	think:   thinkTags,
	section: func(*Parser, string) section { return &glmSection{} },
	grammar: glmGrammar,
}

type glmSection struct {
	st    int
	off   int
	index int
	tool  Tool
	args  int // arguments written
	json  *closedSection
}

func (g *glmSection) feed(p *Parser, s string, final bool) (int, result) {
	if g.json != nil {
		return g.json.feed(p, s, final)
	}
	for {
		switch g.st {
		case 0: // the name, up to the end of its line
			g.off = skipSpace(s, 0)
			if g.off < len(s) && s[g.off] == '{' {
				// Some GLM fine-tunes write Hermes JSON inside the tags.
				g.json = &closedSection{body: newCallObject(nameKeys, argumentsKeys), close: "</tool_call>"}
				return g.json.feed(p, s, final)
			}
			end := strings.IndexAny(s[g.off:], "\n<")
			if end < 0 {
				if !validName(s[g.off:]) {
					return 0, notCall
				}
				return 0, more
			}
			name := strings.TrimSpace(s[g.off : g.off+end])
			if name == "" || !validName(name) {
				return 0, notCall
			}
			g.tool, _ = p.tool(name)
			g.index = p.startCall(name)
			g.off += end
			g.st = 1
		case 1: // arguments, then the end
			i := skipSpace(s, g.off)
			rest := s[i:]
			switch {
			case strings.HasPrefix(rest, "</tool_call>"):
				p.args(g.index, g.close())
				return i + len("</tool_call>"), done
			case strings.HasPrefix(rest, "<arg_key>"):
				n, complete := g.argument(p, s, i)
				if complete {
					g.off = n
					continue
				}
				if n < 0 { // not an argument: the call ends here
					p.args(g.index, g.close())
					return i, done
				}
				if final {
					return len(s), done // cut inside an argument: left unfinished
				}
				return 0, more
			case strings.HasPrefix("</tool_call>", rest) || strings.HasPrefix("<arg_key>", rest):
				if final {
					// Cut before the closing tag: the arguments stay
					// unfinished, as they do when a JSON call is cut.
					return len(s), done
				}
				return 0, more
			}
			// Something else after whole arguments: the call ends there.
			p.args(g.index, g.close())
			return i, done
		}
	}
}

// argument parses <arg_key>k</arg_key><arg_value>v</arg_value> at i and
// sends it. It returns the offset after it and true; or false with -1 when
// the text is not an argument, 0 when it is incomplete.
func (g *glmSection) argument(p *Parser, s string, i int) (int, bool) {
	k := i + len("<arg_key>")
	ke := strings.Index(s[k:], "</arg_key>")
	if ke < 0 {
		return 0, false
	}
	key := strings.TrimSpace(s[k : k+ke])
	v := skipSpace(s, k+ke+len("</arg_key>"))
	v, ok, partial := expect(s, v, "<arg_value>")
	if !ok {
		if partial {
			return 0, false
		}
		return -1, false
	}
	ve := strings.Index(s[v:], "</arg_value>")
	if ve < 0 {
		return 0, false
	}
	sep := ", "
	if g.args == 0 {
		sep = "{"
	}
	keyJSON, _ := json.Marshal(key)
	p.args(g.index, sep+string(keyJSON)+": "+typedValue(g.tool, key, s[v:v+ve]))
	g.args++
	return v + ve + len("</arg_value>"), true
}

func (g *glmSection) close() string {
	if g.args == 0 {
		return "{}"
	}
	return "}"
}

// typedValue turns a GLM argument into JSON: strings as the schema says,
// else JSON when it parses as JSON, else a string.
func typedValue(t Tool, key, v string) string {
	if propertyType(t.Parameters, key) != "string" {
		if trimmed := strings.TrimSpace(v); trimmed != "" && json.Valid([]byte(trimmed)) {
			return trimmed
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// propertyType is the declared "type" of a property of an object schema.
func propertyType(schema []byte, key string) string {
	var s struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return ""
	}
	if t, ok := s.Properties[key].Type.(string); ok {
		return t
	}
	return ""
}

// validName accepts function names as models write them.
func validName(s string) bool {
	for _, c := range s {
		if !(c == '_' || c == '-' || c == '.' || c == ':' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c > 127) {
			return false
		}
	}
	return true
}

// Llama 3.1 – 3.3: a JSON object at the start of the answer, or after
// <|python_tag|>; built-in tools as name.call(arg="value"):
//
//	{"name": "get_weather", "parameters": {"city": "Paris"}}
//	<|python_tag|>brave_search.call(query="Paris weather")
var llama3 = &family{
	name:      "llama3",
	markers:   []string{"<|python_tag|>"},
	preserved: []string{"<|python_tag|>"},
	bare: func(*Parser) section {
		return &llamaSection{obj: &callObject{nameKeys: nameKeys, argsKeys: argumentsKeys, bare: true}}
	},
	section: func(*Parser, string) section { return &llamaSection{tagged: true} },
	grammar: llamaGrammar,
}

type llamaSection struct {
	tagged bool
	obj    *callObject
	objAt  int
	code   bool // python code after the tag
	index  int
}

func (l *llamaSection) feed(p *Parser, s string, final bool) (int, result) {
	if l.obj == nil && !l.code {
		i := skipSpace(s, 0)
		if i == len(s) {
			return 0, more
		}
		if s[i] == '{' {
			l.obj, l.objAt = newCallObject(nameKeys, argumentsKeys), i
		} else if n, r, decided := l.builtin(p, s[i:], final); decided {
			return i + n, r
		} else if r == more {
			return 0, more
		} else {
			name := codeTool(p)
			if name == "" {
				return 0, notCall
			}
			l.code, l.index = true, p.startCall(name)
		}
	}
	if l.code {
		if !final {
			return 0, more
		}
		code, _ := json.Marshal(strings.TrimSpace(s))
		p.args(l.index, `{"code": `+string(code)+`}`)
		return len(s), done
	}
	return l.obj.feed(p, s[l.objAt:], final)
}

// builtin parses name.call(key="value", ...). decided is false when the
// text is not such a call (r says whether more text could make it one).
func (l *llamaSection) builtin(p *Parser, s string, final bool) (n int, r result, decided bool) {
	dot := strings.Index(s, ".call(")
	if dot < 0 {
		if validName(s) {
			// May become name.call(: wait, or drop it when cut here.
			return 0, more, true
		}
		return 0, notCall, false
	}
	name := s[:dot]
	if !validName(name) || name == "" {
		return 0, notCall, false
	}
	args, end, ok := parseKwargs(s[dot+len(".call("):])
	if !ok {
		return 0, more, true // unfinished (dropped if the output ends here)
	}
	i := p.startCall(name)
	p.args(i, args)
	return dot + len(".call(") + end, done, true
}

// parseKwargs reads `key="value", n=3)` into a JSON object; end is after
// the ')'.
func parseKwargs(s string) (obj string, end int, ok bool) {
	var b strings.Builder
	b.WriteByte('{')
	i, first := 0, true
	for {
		i = skipSpace(s, i)
		if i == len(s) {
			return "", 0, false
		}
		if s[i] == ')' {
			b.WriteByte('}')
			return b.String(), i + 1, true
		}
		if s[i] == ',' {
			i++
			continue
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return "", 0, false
		}
		key := strings.TrimSpace(s[i : i+eq])
		i = skipSpace(s, i+eq+1)
		if i == len(s) {
			return "", 0, false
		}
		var val string
		if q := s[i]; q == '"' || q == '\'' {
			j := i + 1
			for j < len(s) && s[j] != q {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return "", 0, false
			}
			v, _ := json.Marshal(strings.ReplaceAll(s[i+1:j], `\`+string(q), string(q)))
			val, i = string(v), j+1
		} else {
			j := i
			for j < len(s) && s[j] != ',' && s[j] != ')' {
				j++
			}
			if j == len(s) {
				return "", 0, false
			}
			val = strings.TrimSpace(s[i:j])
			switch val {
			case "True":
				val = "true"
			case "False":
				val = "false"
			case "None":
				val = "null"
			}
			if !json.Valid([]byte(val)) {
				v, _ := json.Marshal(val)
				val = string(v)
			}
			i = j
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		k, _ := json.Marshal(key)
		b.Write(k)
		b.WriteString(": ")
		b.WriteString(val)
	}
}

// codeTool is the offered tool that runs code written after <|python_tag|>.
func codeTool(p *Parser) string {
	for _, name := range []string{"python", "code_interpreter", "ipython"} {
		if _, ok := p.tool(name); ok {
			return name
		}
	}
	return ""
}

// Mistral: [TOOL_CALLS] then a JSON list (Mistral 7B v0.3, Nemo, Small 3.1)
// or, from Small 3.2, Devstral and Magistral on, the name and [ARGS] per
// call. Both are parsed; the names differ in what forced calls are written
// as.
//
//	[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "abcdef123"}]
//	[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}
var (
	mistral  = mistralFamily("mistral", mistralGrammar)
	devstral = mistralFamily("devstral", devstralGrammar)
)

func mistralFamily(name string, g grammarStyle) *family {
	return &family{
		name:      name,
		markers:   []string{"[TOOL_CALLS]"},
		preserved: []string{"[TOOL_CALLS]", "[ARGS]", "[CALL_ID]"},
		shortIDs:  true,
		section:   func(*Parser, string) section { return &mistralSection{} },
		grammar:   g,
	}
}

type mistralSection struct {
	list  *callList
	st    int
	off   int
	index int
	val   valueScan
	sent  int
}

func (m *mistralSection) feed(p *Parser, s string, final bool) (int, result) {
	if m.list != nil {
		return m.list.feed(p, s, final)
	}
	for {
		switch m.st {
		case 0:
			i := skipSpace(s, 0)
			if i == len(s) {
				return 0, more
			}
			if s[i] == '[' {
				m.list = &callList{newItem: func() *callObject { return newCallObject(nameKeys, argumentsKeys) }}
				return m.list.feed(p, s, final)
			}
			end := strings.IndexByte(s[i:], '[')
			if end < 0 {
				if !validName(s[i:]) {
					return 0, notCall
				}
				return 0, more
			}
			name := strings.TrimSpace(s[i : i+end])
			if name == "" || !validName(name) {
				return 0, notCall
			}
			rest := s[i+end:]
			switch {
			case strings.HasPrefix(rest, "[ARGS]"):
				m.off = i + end + len("[ARGS]")
			case strings.HasPrefix(rest, "[CALL_ID]"):
				a := strings.Index(rest, "[ARGS]")
				if a < 0 {
					return 0, more
				}
				m.off = i + end + a + len("[ARGS]")
			case strings.HasPrefix("[CALL_ID]", rest) || strings.HasPrefix("[ARGS]", rest):
				return 0, more
			default:
				return 0, notCall
			}
			m.index = p.startCall(name)
			m.st = 1
		case 1:
			m.off = skipSpace(s, m.off)
			if m.off == len(s) {
				return m.cut(p, s, final)
			}
			m.sent, m.st = m.off, 2
		case 2:
			isDone, bad := m.val.scan(s[m.sent:], final)
			if bad {
				p.args(m.index, "{}")
				return m.sent, done
			}
			end := m.sent + m.val.off
			p.args(m.index, s[m.off:end])
			m.off = end
			if isDone {
				return end, done
			}
			return m.cut(p, s, final)
		}
	}
}

func (m *mistralSection) cut(p *Parser, s string, final bool) (int, result) {
	if final {
		return len(s), done
	}
	return 0, more
}

// DeepSeek R1 and V3 (0324) write the type, the name and fenced JSON;
// V3.1 writes the name and the JSON:
//
//	<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather
//	```json
//	{"city": "Paris"}
//	```<｜tool▁call▁end｜><｜tool▁calls▁end｜>
//
//	<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "Paris"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>
const (
	dsCallsBegin = "<｜tool▁calls▁begin｜>"
	dsCallsEnd   = "<｜tool▁calls▁end｜>"
	dsCallBegin  = "<｜tool▁call▁begin｜>"
	dsCallEnd    = "<｜tool▁call▁end｜>"
	dsSep        = "<｜tool▁sep｜>"
)

var (
	deepseek   = deepseekFamily("deepseek", deepseekGrammar)
	deepseek31 = deepseekFamily("deepseek3.1", deepseek31Grammar)
)

func deepseekFamily(name string, g grammarStyle) *family {
	return &family{
		name:      name,
		markers:   []string{dsCallsBegin, dsCallBegin},
		preserved: []string{dsCallsBegin, dsCallsEnd, dsCallBegin, dsCallEnd, dsSep},
		think:     thinkTags,
		section: func(_ *Parser, marker string) section {
			return &deepseekSection{inCall: marker == dsCallBegin}
		},
		grammar: g,
	}
}

type deepseekSection struct {
	inCall bool // the marker was a call's begin
	st     int
	off    int
	calls  int
	index  int
	val    valueScan
	valAt  int
	sent   int
}

func (d *deepseekSection) feed(p *Parser, s string, final bool) (int, result) {
	if d.inCall {
		d.inCall, d.st = false, 1
	}
	for {
		switch d.st {
		case 0: // between calls
			i := skipSpace(s, d.off)
			rest := s[i:]
			switch {
			case strings.HasPrefix(rest, dsCallsEnd):
				return i + len(dsCallsEnd), done
			case strings.HasPrefix(rest, dsCallBegin):
				d.off, d.st = i+len(dsCallBegin), 1
			case strings.HasPrefix(dsCallsEnd, rest) || strings.HasPrefix(dsCallBegin, rest):
				return d.wait(s, final)
			default:
				return d.end(i)
			}
		case 1: // the head: type or name, then the separator
			sep := strings.Index(s[d.off:], dsSep)
			if sep < 0 {
				if strings.ContainsAny(s[d.off:], "\n{") || len(s)-d.off > 256 {
					return d.end(d.off)
				}
				return d.wait(s, final)
			}
			head := strings.TrimSpace(s[d.off : d.off+sep])
			after := d.off + sep + len(dsSep)
			if after == len(s) {
				return d.wait(s, final)
			}
			if c := s[after]; c == '{' || c == ' ' || c == '\n' {
				// V3.1: the head was the name.
				if !validName(head) || head == "" {
					return d.end(d.off)
				}
				d.index, d.calls = p.startCall(head), d.calls+1
				d.off, d.st = after, 3
				continue
			}
			nl := strings.IndexAny(s[after:], "\n`{")
			if nl < 0 {
				return d.wait(s, final)
			}
			name := strings.TrimSpace(s[after : after+nl])
			if name == "" || !validName(name) {
				return d.end(d.off)
			}
			d.index, d.calls = p.startCall(name), d.calls+1
			d.off, d.st = after+nl, 2
		case 2: // an optional ```json fence
			i := skipSpace(s, d.off)
			rest := s[i:]
			switch {
			case strings.HasPrefix(rest, "```json"):
				i += len("```json")
			case strings.HasPrefix("```json", rest):
				return d.wait(s, final)
			case strings.HasPrefix(rest, "```"):
				i += len("```")
			}
			d.off, d.st = i, 3
		case 3: // the arguments
			d.off = skipSpace(s, d.off)
			if d.off == len(s) {
				return d.wait(s, final)
			}
			d.valAt, d.sent, d.val, d.st = d.off, d.off, valueScan{}, 4
		case 4:
			isDone, bad := d.val.scan(s[d.valAt:], final)
			if bad {
				p.args(d.index, "{}")
				return d.end(d.valAt)
			}
			end := d.valAt + d.val.off
			p.args(d.index, s[d.sent:end])
			d.sent = end
			if !isDone {
				return d.wait(s, final)
			}
			d.off, d.st = end, 5
		case 5: // closing fence and the call's end
			i := skipSpace(s, d.off)
			if rest := s[i:]; strings.HasPrefix(rest, "```") {
				i = skipSpace(s, i+len("```"))
			} else if rest != "" && strings.HasPrefix("```", rest) {
				return d.wait(s, final)
			}
			rest := s[i:]
			switch {
			case strings.HasPrefix(rest, dsCallEnd):
				d.off = i + len(dsCallEnd)
			case strings.HasPrefix(dsCallEnd, rest):
				return d.wait(s, final)
			default:
				d.off = i
			}
			d.st = 0
		}
	}
}

func (d *deepseekSection) wait(s string, final bool) (int, result) {
	if final && d.calls > 0 {
		return len(s), done
	}
	return 0, more
}

func (d *deepseekSection) end(at int) (int, result) {
	if d.calls == 0 {
		return 0, notCall
	}
	return at, done
}

// Command R7B and Command A: reasoning between thinking tags, calls as a
// JSON list between action tags, the answer between response tags:
//
//	<|START_THINKING|>I will look it up.<|END_THINKING|><|START_ACTION|>[
//	    {"tool_call_id": "0", "tool_name": "get_weather", "parameters": {"city": "Paris"}}
//	]<|END_ACTION|>
var commandR = &family{
	name:    "command-r",
	markers: []string{"<|START_ACTION|>"},
	strip:   []string{"<|START_RESPONSE|>", "<|END_RESPONSE|>"},
	preserved: []string{"<|START_ACTION|>", "<|END_ACTION|>", "<|START_RESPONSE|>", "<|END_RESPONSE|>",
		"<|START_THINKING|>", "<|END_THINKING|>"},
	think: cohereThink,
	section: func(*Parser, string) section {
		return &closedSection{close: "<|END_ACTION|>", body: &callList{newItem: func() *callObject {
			return newCallObject([]string{"tool_name", "name"}, []string{"parameters", "arguments"})
		}}}
	},
	grammar: commandRGrammar,
}
