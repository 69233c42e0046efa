package toolformat

import (
	"encoding/json"
	"strings"
)

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
	section: func(*Parser, string) section { return &llamaSection{} },
	grammar: llamaGrammar,
}

type llamaSection struct {
	obj   *callObject
	objAt int
	code  bool // python code after the tag
	index int
	// tried is how much of a built-in call's text parseKwargs has seen
	// end without its ')': it is tried again only when a ')' arrives.
	tried int
}

func (l *llamaSection) feed(p *Parser, s string, final bool) (int, result) {
	if l.obj == nil && !l.code {
		i := skipSpace(s, 0)
		if i == len(s) {
			return 0, more
		}
		if s[i] == '{' {
			l.obj, l.objAt = newCallObject(nameKeys, argumentsKeys), i
		} else if n, r, ok := l.builtin(p, s[i:]); ok {
			return i + n, r
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

// builtin parses name.call(key="value", ...) for an offered tool; ok is
// false when the text is not such a call (then it is code).
func (l *llamaSection) builtin(p *Parser, s string) (n int, r result, ok bool) {
	const open = ".call("
	dot := strings.Index(s, open)
	if dot < 0 {
		if p.mayBeName(s[:len(s)-partialSuffix(s, []string{open})]) {
			// May become name.call(: wait, or drop it when cut here.
			return 0, more, true
		}
		return 0, notCall, false
	}
	name := s[:dot]
	if !p.offered(name) {
		return 0, notCall, false
	}
	kw := s[dot+len(open):]
	if strings.IndexByte(kw[min(l.tried, len(kw)):], ')') < 0 {
		l.tried = len(kw)
		return 0, more, true
	}
	args, end, ok := parseKwargs(kw)
	if !ok {
		l.tried = len(kw)
		return 0, more, true // unfinished (dropped if the output ends here)
	}
	i := p.startCall(name)
	p.args(i, args)
	return dot + len(open) + end, done, true
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
