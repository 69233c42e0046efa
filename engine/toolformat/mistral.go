package toolformat

import "strings"

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

// maxCallID bounds a [CALL_ID] id.
const maxCallID = 64

type mistralSection struct {
	list  *callList
	st    int
	off   int
	index int
	valAt int       // where the arguments start
	check argsCheck // the arguments
	skip  valueScan // the rest of arguments that broke
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
			// The name so far, less the space that may end it, decides
			// the same way whether the '[' after it came in this Push or
			// a later one. It must begin an offered tool's name, which
			// also bounds how much is scanned before deciding.
			end := strings.IndexByte(s[i:], '[')
			if end < 0 {
				if !p.mayBeName(strings.TrimRight(s[i:], spaces)) {
					return 0, notCall
				}
				return 0, more
			}
			name := strings.TrimSpace(s[i : i+end])
			if !validName(name) || !p.offered(name) {
				return 0, notCall
			}
			rest := s[i+end:]
			switch {
			case strings.HasPrefix(rest, "[ARGS]"):
				m.off = i + end + len("[ARGS]")
			case strings.HasPrefix(rest, "[CALL_ID]"):
				// The id, like the name, is a word: anything else
				// is not a call, before [ARGS] arrives as after.
				id := rest[len("[CALL_ID]"):]
				a := strings.Index(id, "[ARGS]")
				if a >= 0 {
					id = id[:a]
				} else {
					id = id[:len(id)-partialSuffix(id, []string{"[ARGS]"})]
				}
				// Ids are short (nine characters); a long word is
				// prose, and the bound keeps the rescan cheap.
				if id = strings.TrimSpace(id); !validName(id) || len(id) > maxCallID {
					return 0, notCall
				}
				if a < 0 {
					return 0, more
				}
				m.off = i + end + len("[CALL_ID]") + a + len("[ARGS]")
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
			m.valAt, m.st = m.off, 2
		case 2:
			v := s[m.valAt:]
			isDone, bad := m.check.check(v, final)
			p.args(m.index, m.check.take(v))
			switch {
			case isDone:
				return m.valAt + m.check.off, done
			case !bad:
				return m.cut(p, s, final)
			}
			// The call was made at [ARGS]: it keeps the valid part of
			// its arguments, and the rest of them is dropped.
			p.args(m.index, m.check.closing())
			m.st = 3
		case 3:
			isDone, bad := m.skip.scan(s[m.valAt:], final)
			switch {
			case bad:
				return m.valAt, done
			case !isDone:
				return m.cut(p, s, final)
			}
			return m.valAt + m.skip.off, done
		}
	}
}

func (m *mistralSection) cut(p *Parser, s string, final bool) (int, result) {
	if final {
		return len(s), done
	}
	return 0, more
}
