package toolformat

import (
	"encoding/json"
	"strings"
)

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
	// keySeen and valueSeen are where the searches for an argument's
	// closing tags resume, so a long argument is searched once, not once
	// per Push.
	keySeen, valueSeen int
	json               *closedSection
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
				g.json = closedCall(newCallObject(nameKeys, argumentsKeys), "</tool_call>")
				return g.json.feed(p, s, final)
			}
			// The name is a bare word, which prose after the tag can look
			// like, so it must be an offered tool's: while the line goes
			// on, the beginning of one. The name so far decides the same
			// way whether its end came in this Push or a later one.
			name := s[g.off:]
			end := strings.IndexAny(name, "\n<")
			if end >= 0 {
				name = name[:end]
			}
			name = strings.TrimRight(name, spaces)
			if end < 0 {
				if !p.toolPrefix(name) {
					return 0, notCall
				}
				return 0, more
			}
			var ok bool
			if g.tool, ok = p.tool(name); !ok {
				return 0, notCall
			}
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
	ke := find(s, k, "</arg_key>", &g.keySeen)
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
	ve := find(s, v, "</arg_value>", &g.valueSeen)
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

// find returns the offset of tag in s from from on (relative to from), or
// -1; the search resumes at *seen, where the last one for the tag stopped.
func find(s string, from int, tag string, seen *int) int {
	at := max(from, *seen)
	i := strings.Index(s[at:], tag)
	if i < 0 {
		if scanHook != nil {
			scanHook(len(s) - at)
		}
		*seen = max(at, len(s)-len(tag)+1)
		return -1
	}
	if scanHook != nil {
		scanHook(i + len(tag))
	}
	return at + i - from
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
