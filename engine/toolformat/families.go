package toolformat

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
		return closedCall(newCallObject(nameKeys, argumentsKeys), "</tool_call>")
	},
	grammar: hermesGrammar,
}

// closedCall is one call object closed by a marker, at which the object
// ends at the latest if it breaks.
func closedCall(o *callObject, close string) *closedSection {
	o.until = close
	return &closedSection{body: o, close: close}
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

// validName accepts function names as models write them.
func validName(s string) bool {
	for _, c := range s {
		if !(c == '_' || c == '-' || c == '.' || c == ':' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c > 127) {
			return false
		}
	}
	return true
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
			o := newCallObject([]string{"tool_name", "name"}, []string{"parameters", "arguments"})
			o.until = "<|END_ACTION|>"
			return o
		}}}
	},
	grammar: commandRGrammar,
}
