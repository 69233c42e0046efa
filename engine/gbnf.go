package engine

import (
	"fmt"
	"strconv"
	"strings"
)

// A GBNF parser that mirrors llama.cpp's (src/llama-grammar.cpp,
// llama_grammar_parser) closely enough to analyse what llama.cpp will
// build: groups become generated rules as there, repetitions stay one
// symbol (llama.cpp expands them into copies and chained rules, which the
// analysis accounts for in closed form instead of materialising).

// gSymKind is what one symbol of a sequence is.
type gSymKind uint8

const (
	symTerm gSymKind = iota // a string literal, char class, '.', or token: consumes input
	symRef                  // a reference to a rule (named or a generated group)
	symRep                  // a repetition of sub
)

type gSym struct {
	kind     gSymKind
	rule     int   // symRef: the referenced rule
	sub      *gSym // symRep: the repeated symbol (a term or a ref)
	min, max int   // symRep: max < 0 means unbounded
	elems    int   // llama.cpp elements it occupies inline (terminals: one per char)
}

type gRule struct {
	name    string // for generated rules: the named rule they come from
	defined bool
	alts    [][]gSym
}

type gGrammar struct {
	rules []gRule
	ids   map[string]int
	elems uint64 // llama.cpp grammar elements after expanding repetitions (saturating)
}

// gbnfParser walks the text as llama.cpp does: byte by byte, a NUL ends
// the input (the C side sees the string up to its first NUL).
type gbnfParser struct {
	src string
	pos int
	g   *gGrammar
}

type gbnfSyntaxError struct {
	msg  string
	line int
}

func (e *gbnfSyntaxError) Error() string {
	return fmt.Sprintf("invalid grammar: %s (line %d)", e.msg, e.line)
}

// parseGBNF parses a grammar or returns a *gbnfSyntaxError.
func parseGBNF(src string) (*gGrammar, error) {
	if i := strings.IndexByte(src, 0); i >= 0 {
		src = src[:i]
	}
	p := &gbnfParser{src: src, g: &gGrammar{ids: map[string]int{}}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.g, nil
}

func (p *gbnfParser) fail(format string, args ...any) error {
	return &gbnfSyntaxError{msg: fmt.Sprintf(format, args...), line: 1 + strings.Count(p.src[:p.pos], "\n")}
}

func (p *gbnfParser) peek(off int) byte {
	if p.pos+off < len(p.src) {
		return p.src[p.pos+off]
	}
	return 0
}

func (p *gbnfParser) parse() error {
	p.space(true)
	for p.pos < len(p.src) {
		if err := p.rule(); err != nil {
			return err
		}
	}
	return nil
}

// space skips blanks and comments; newlines only where newlineOK (inside
// groups, after ::= and |): at the top level a newline ends a rule.
func (p *gbnfParser) space(newlineOK bool) {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\r' && p.src[p.pos] != '\n' {
				p.pos++
			}
		case c == ' ' || c == '\t' || newlineOK && (c == '\r' || c == '\n'):
			p.pos++
		default:
			return
		}
	}
}

func isGBNFWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

func (p *gbnfParser) name() (string, error) {
	start := p.pos
	for p.pos < len(p.src) && isGBNFWordChar(p.src[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", p.fail("expecting a rule name")
	}
	return p.src[start:p.pos], nil
}

// ruleID returns the id of a named rule, creating it on first mention.
func (p *gbnfParser) ruleID(name string) int {
	if id, ok := p.g.ids[name]; ok {
		return id
	}
	p.g.ids[name] = len(p.g.rules)
	p.g.rules = append(p.g.rules, gRule{name: name})
	return len(p.g.rules) - 1
}

func (p *gbnfParser) newRule(from string) int {
	p.g.rules = append(p.g.rules, gRule{name: from})
	return len(p.g.rules) - 1
}

func (p *gbnfParser) rule() error {
	name, err := p.name()
	if err != nil {
		return err
	}
	p.space(false)
	if !strings.HasPrefix(p.src[p.pos:], "::=") {
		return p.fail("expecting ::= after rule name %q", name)
	}
	p.pos += 3
	p.space(true)
	id := p.ruleID(name)
	if err := p.alternatives(name, id, false); err != nil {
		return err
	}
	switch {
	case p.peek(0) == '\r':
		p.pos++
		if p.peek(0) == '\n' {
			p.pos++
		}
	case p.peek(0) == '\n':
		p.pos++
	case p.pos < len(p.src):
		return p.fail("expecting newline or end after rule %q, found %q", name, p.src[p.pos])
	}
	p.space(true)
	return nil
}

func (p *gbnfParser) alternatives(name string, id int, nested bool) error {
	var alts [][]gSym
	for {
		seq, err := p.sequence(name, nested)
		if err != nil {
			return err
		}
		alts = append(alts, seq)
		if p.peek(0) != '|' {
			break
		}
		p.pos++
		p.space(true)
	}
	// A later definition of the same name replaces an earlier one, as in
	// llama.cpp's add_rule.
	p.g.rules[id].alts = alts
	p.g.rules[id].defined = true
	for _, seq := range alts {
		for _, s := range seq {
			p.g.elems = satAdd(p.g.elems, uint64(s.elems))
		}
		p.g.elems = satAdd(p.g.elems, 1) // ALT or END
	}
	return nil
}

func (p *gbnfParser) sequence(name string, nested bool) ([]gSym, error) {
	var seq []gSym
	last := -1 // index in seq of the item a repetition applies to
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		var sym gSym
		var err error
		switch {
		case c == '"':
			sym, err = p.literal()
			if err == nil && sym.elems == 0 {
				last = -1 // "" adds nothing: a repetition after it is an error
				p.space(nested)
				continue
			}
		case c == '[':
			sym, err = p.charClass()
			if err == nil && sym.elems == 0 {
				last = -1 // so does [], as in llama.cpp
				p.space(nested)
				continue
			}
		case c == '<' || c == '!':
			sym, err = p.token()
		case isGBNFWordChar(c):
			var ref string
			ref, err = p.name()
			sym = gSym{kind: symRef, rule: p.ruleID(ref), elems: 1}
		case c == '(':
			sym, err = p.group(name)
		case c == '.':
			p.pos++
			sym = gSym{kind: symTerm, elems: 1}
		case c == '*' || c == '+' || c == '?' || c == '{':
			if last < 0 {
				return nil, p.fail("expecting an item before %q", c)
			}
			seq[last], err = p.repetition(name, seq[last], nested)
			if err != nil {
				return nil, err
			}
			p.space(nested)
			continue
		default:
			return seq, nil
		}
		if err != nil {
			return nil, err
		}
		p.space(nested)
		seq = append(seq, sym)
		last = len(seq) - 1
	}
	return seq, nil
}

// char consumes one character of a literal or class: an escape or one
// UTF-8 sequence (whose length llama.cpp takes from the first byte).
func (p *gbnfParser) char() error {
	if p.pos >= len(p.src) {
		return p.fail("unexpected end of input")
	}
	if p.src[p.pos] != '\\' {
		n := [16]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4}[p.src[p.pos]>>4]
		p.pos = min(p.pos+n, len(p.src))
		return nil
	}
	hex := map[byte]int{'x': 2, 'u': 4, 'U': 8}
	switch e := p.peek(1); e {
	case 't', 'r', 'n', '\\', '"', '[', ']':
		p.pos += 2
	case 'x', 'u', 'U':
		p.pos += 2
		for range hex[e] {
			if !isHexDigit(p.peek(0)) {
				return p.fail("expecting %d hex digits after \\%c", hex[e], e)
			}
			p.pos++
		}
	default:
		return p.fail("unknown escape \\%c", e)
	}
	return nil
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (p *gbnfParser) literal() (gSym, error) {
	p.pos++
	n := 0
	for p.peek(0) != '"' {
		if err := p.char(); err != nil {
			return gSym{}, err
		}
		n++
	}
	p.pos++
	return gSym{kind: symTerm, elems: n}, nil
}

func (p *gbnfParser) charClass() (gSym, error) {
	p.pos++
	if p.peek(0) == '^' {
		p.pos++
	}
	n := 0
	for p.peek(0) != ']' {
		if err := p.char(); err != nil {
			return gSym{}, err
		}
		n++
		if p.peek(0) == '-' && p.peek(1) != ']' {
			p.pos++
			if err := p.char(); err != nil {
				return gSym{}, err
			}
			n++
		}
	}
	p.pos++
	return gSym{kind: symTerm, elems: n}, nil
}

// token parses <[id]>, <piece> or their negation !<...>.
func (p *gbnfParser) token() (gSym, error) {
	if p.peek(0) == '!' {
		p.pos++
	}
	if p.peek(0) != '<' {
		return gSym{}, p.fail("expecting '<' after '!'")
	}
	p.pos++
	if p.peek(0) == '[' {
		p.pos++
		start := p.pos
		for p.peek(0) >= '0' && p.peek(0) <= '9' {
			p.pos++
		}
		if p.pos == start || p.peek(0) != ']' || p.peek(1) != '>' {
			return gSym{}, p.fail("expecting a token id as <[123]>")
		}
		p.pos += 2
		return gSym{kind: symTerm, elems: 1}, nil
	}
	end := strings.IndexByte(p.src[p.pos:], '>')
	if end < 0 {
		return gSym{}, p.fail("expecting '>' to end a token")
	}
	p.pos += end + 1
	return gSym{kind: symTerm, elems: 1}, nil
}

func (p *gbnfParser) group(name string) (gSym, error) {
	p.pos++
	p.space(true)
	id := p.newRule(name)
	if err := p.alternatives(name, id, true); err != nil {
		return gSym{}, err
	}
	if p.peek(0) != ')' {
		return gSym{}, p.fail("expecting ')'")
	}
	p.pos++
	return gSym{kind: symRef, rule: id, elems: 1}, nil
}

// maxRepetition is llama.cpp's MAX_REPETITION_THRESHOLD.
const maxRepetition = 2000

// repetition applies *, +, ?, {m}, {m,} or {m,n} to prev. A repetition of
// a repetition wraps the inner one in a rule of its own, so that sub is
// always a single term or reference.
func (p *gbnfParser) repetition(name string, prev gSym, nested bool) (gSym, error) {
	lo, hi := 0, -1
	switch p.src[p.pos] {
	case '*':
		p.pos++
	case '+':
		p.pos++
		lo = 1
	case '?':
		p.pos++
		hi = 1
	default:
		var err error
		if lo, hi, err = p.braces(nested); err != nil {
			return gSym{}, err
		}
	}
	if prev.kind == symRep {
		id := p.newRule(name)
		p.g.rules[id].alts = [][]gSym{{prev}}
		p.g.rules[id].defined = true
		// llama.cpp copies the inner expansion inline: cost it so.
		prev = gSym{kind: symRef, rule: id, elems: prev.elems}
	}
	sub := prev
	r := gSym{kind: symRep, sub: &sub, min: lo, max: hi}
	// Inline: lo copies (none if lo is 0) and a reference to the optional
	// chain; each chained rule holds a copy, a reference, an ALT and END.
	opt := uint64(1)
	if hi >= 0 {
		opt = uint64(hi - lo)
	}
	inline := satMul(uint64(lo), uint64(prev.elems))
	if opt > 0 {
		inline = satAdd(inline, 1)
	}
	r.elems = int(min(inline, 1<<40))
	p.g.elems = satAdd(p.g.elems, satMul(opt, uint64(prev.elems)+3))
	return r, nil
}

// braces parses {m}, {m,} or {m,n}.
func (p *gbnfParser) braces(nested bool) (lo, hi int, err error) {
	p.pos++
	p.space(nested)
	num := func() (int, error) {
		start := p.pos
		for p.peek(0) >= '0' && p.peek(0) <= '9' {
			p.pos++
		}
		if p.pos == start {
			return 0, p.fail("expecting a number in {m,n}")
		}
		v, err := strconv.ParseUint(p.src[start:p.pos], 10, 63)
		if err != nil || v > maxRepetition {
			return 0, p.fail("a repetition count exceeds %d", maxRepetition)
		}
		p.space(nested)
		return int(v), nil
	}
	if lo, err = num(); err != nil {
		return 0, 0, err
	}
	switch p.peek(0) {
	case '}':
		hi = lo
	case ',':
		p.pos++
		p.space(nested)
		hi = -1
		if c := p.peek(0); c >= '0' && c <= '9' {
			if hi, err = num(); err != nil {
				return 0, 0, err
			}
		}
		if p.peek(0) != '}' {
			return 0, 0, p.fail("expecting '}'")
		}
		// llama.cpp computes n-m unsigned: {5,2} would ask it for about
		// 2^64 chained rules.
		if hi >= 0 && hi < lo {
			return 0, 0, p.fail("in {%d,%d} the maximum is below the minimum", lo, hi)
		}
	default:
		return 0, 0, p.fail("expecting ',' or '}' in {m,n}")
	}
	p.pos++
	return lo, hi, nil
}
