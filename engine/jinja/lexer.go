package jinja

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind classifies lexer output.
type tokenKind int

const (
	tokText tokenKind = iota
	tokVarBegin
	tokVarEnd
	tokBlockBegin
	tokBlockEnd
	tokName
	tokString
	tokInt
	tokFloat
	tokOp
	tokEOF
)

type token struct {
	kind tokenKind
	val  string // text, name, unescaped string literal, number text or operator
	pos  Pos
}

// Pos is a 1-based line and column in the template source.
type Pos struct{ Line, Col int }

func (p Pos) String() string { return fmt.Sprintf("line %d, column %d", p.Line, p.Col) }

// lexer turns template source into tokens, applying whitespace control the
// way jinja2's lexer does with trim_blocks and lstrip_blocks enabled.
type lexer struct {
	src    string
	pos    int
	toks   []token
	lineAt []int // byte offset of the start of each line, for positions
	// lineStart reports whether the previous tag ended with a newline (or we
	// are at the start): lstrip_blocks then applies to text with no newline.
	lineStart bool
}

// SyntaxError is a template error with its source position.
type SyntaxError struct {
	Pos Pos
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("jinja: %s: %s", e.Pos, e.Msg) }

func normalizeSource(src string) string {
	if strings.ContainsRune(src, '\r') {
		src = strings.ReplaceAll(src, "\r\n", "\n")
		src = strings.ReplaceAll(src, "\r", "\n")
	}
	// jinja2's default keep_trailing_newline=False drops one final newline.
	return strings.TrimSuffix(src, "\n")
}

func lex(src string) ([]token, error) {
	l := &lexer{src: src, lineStart: true}
	l.lineAt = append(l.lineAt, 0)
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			l.lineAt = append(l.lineAt, i+1)
		}
	}
	if err := l.run(); err != nil {
		return nil, err
	}
	return l.toks, nil
}

func (l *lexer) position(off int) Pos {
	lo, hi := 0, len(l.lineAt)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if l.lineAt[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return Pos{Line: lo + 1, Col: len([]rune(l.src[l.lineAt[lo]:off])) + 1}
}

func (l *lexer) errorf(off int, format string, args ...any) error {
	return &SyntaxError{Pos: l.position(off), Msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) emit(kind tokenKind, val string, off int) {
	l.toks = append(l.toks, token{kind: kind, val: val, pos: l.position(off)})
}

// nextTag finds the next "{{", "{%" or "{#" at or after from.
func (l *lexer) nextTag(from int) int {
	for i := from; i+1 < len(l.src); i++ {
		if l.src[i] == '{' {
			switch l.src[i+1] {
			case '{', '%', '#':
				return i
			}
		}
	}
	return -1
}

// leadingText applies "-" (strip all trailing whitespace) or lstrip_blocks
// (strip spaces and tabs back to the line start) to the text before a tag.
func (l *lexer) leadingText(text string, kind byte, sign byte) string {
	if sign == '-' {
		return strings.TrimRightFunc(text, isSpace)
	}
	if sign == '+' || kind == '{' {
		return text
	}
	lpos := strings.LastIndexByte(text, '\n') + 1
	if lpos > 0 || l.lineStart {
		if strings.Trim(text[lpos:], " \t") == "" {
			return text[:lpos]
		}
	}
	return text
}

func (l *lexer) run() error {
	src := l.src
	for l.pos < len(src) {
		start := l.nextTag(l.pos)
		if start < 0 {
			l.emit(tokText, src[l.pos:], l.pos)
			l.pos = len(src)
			break
		}
		kind := src[start+1]
		var sign byte
		if start+2 < len(src) && (src[start+2] == '-' || src[start+2] == '+') {
			sign = src[start+2]
		}
		if kind == '%' && l.isRawBegin(start) {
			if err := l.lexRaw(start, sign); err != nil {
				return err
			}
			continue
		}
		text := l.leadingText(src[l.pos:start], kind, sign)
		if text != "" {
			l.emit(tokText, text, l.pos)
		}
		body := start + 2
		if sign != 0 {
			body++
		}
		var err error
		switch kind {
		case '#':
			err = l.lexComment(start, body)
		case '{':
			l.emit(tokVarBegin, "{{", start)
			err = l.lexTag(body, "}}")
		case '%':
			l.emit(tokBlockBegin, "{%", start)
			err = l.lexTag(body, "%}")
		}
		if err != nil {
			return err
		}
	}
	l.emit(tokEOF, "", len(src))
	return nil
}

// skipSpace returns where the whitespace that starts at p in s ends. It is
// Python's \s, as jinja2's lexer matches it: Unicode whitespace too
// (U+00A0, U+3000, …), so it decodes runes rather than reading bytes.
func skipSpace(s string, p int) int {
	for p < len(s) {
		if c := s[p]; c < utf8.RuneSelf {
			if !isSpace(rune(c)) {
				break
			}
			p++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[p:])
		if !isSpace(r) {
			break
		}
		p += n
	}
	return p
}

// nameEnd returns where the name that starts at p in src ends: at the first
// byte that is not a letter, digit or '_', except that any character
// outside ASCII continues it unless it is whitespace (which, as Python's \s,
// separates names: "if\u00a0t").
func nameEnd(src string, p int) int {
	for p < len(src) {
		c := src[p]
		if c < utf8.RuneSelf {
			if c != '_' && !unicode.IsLetter(rune(c)) && (c < '0' || c > '9') {
				break
			}
			p++
			continue
		}
		r, n := utf8.DecodeRuneInString(src[p:])
		if isSpace(r) {
			break
		}
		p += n
	}
	return p
}

// afterTagEnd consumes what follows a tag end: "-" strips all whitespace,
// trim_blocks (for blocks and comments, not "+") removes one newline.
func (l *lexer) afterTagEnd(end int, sign byte, trim bool) {
	p := end
	switch {
	case sign == '-':
		p = skipSpace(l.src, p)
	case sign == '+':
	case trim && p < len(l.src) && l.src[p] == '\n':
		p++
	}
	l.lineStart = p > 0 && l.src[p-1] == '\n'
	l.pos = p
}

func (l *lexer) lexComment(start, body int) error {
	idx := strings.Index(l.src[body:], "#}")
	if idx < 0 {
		return l.errorf(start, "unterminated comment")
	}
	end := body + idx
	var sign byte
	if end > body && (l.src[end-1] == '-' || l.src[end-1] == '+') {
		sign = l.src[end-1]
	}
	l.afterTagEnd(end+2, sign, true)
	return nil
}

// isRawBegin reports whether the block tag at start is "{% raw %}".
func (l *lexer) isRawBegin(start int) bool {
	p := start + 2
	if p < len(l.src) && (l.src[p] == '-' || l.src[p] == '+') {
		p++
	}
	p = skipSpace(l.src, p)
	if !strings.HasPrefix(l.src[p:], "raw") {
		return false
	}
	p += 3
	p = skipSpace(l.src, p)
	return strings.HasPrefix(l.src[p:], "%}") || strings.HasPrefix(l.src[p:], "-%}")
}

func (l *lexer) lexRaw(start int, sign byte) error {
	text := l.leadingText(l.src[l.pos:start], '%', sign)
	if text != "" {
		l.emit(tokText, text, l.pos)
	}
	p := strings.Index(l.src[start:], "%}") + start
	contentStart := p + 2
	if l.src[p-1] == '-' {
		contentStart = skipSpace(l.src, contentStart)
	}
	// Find "{%[-+]? endraw [-+]?%}".
	for search := contentStart; ; {
		i := strings.Index(l.src[search:], "{%")
		if i < 0 {
			return l.errorf(start, "missing endraw")
		}
		i += search
		q := i + 2
		var esign byte
		if q < len(l.src) && (l.src[q] == '-' || l.src[q] == '+') {
			esign = l.src[q]
			q++
		}
		q = skipSpace(l.src, q)
		if !strings.HasPrefix(l.src[q:], "endraw") {
			search = i + 2
			continue
		}
		q += len("endraw")
		q = skipSpace(l.src, q)
		var tsign byte
		if q < len(l.src) && (l.src[q] == '-' || l.src[q] == '+') {
			tsign = l.src[q]
			q++
		}
		if !strings.HasPrefix(l.src[q:], "%}") {
			search = i + 2
			continue
		}
		saved := l.lineStart
		l.lineStart = false
		content := l.leadingText(l.src[contentStart:i], '%', esign)
		l.lineStart = saved
		if content != "" {
			l.emit(tokText, content, contentStart)
		}
		l.afterTagEnd(q+2, tsign, true)
		return nil
	}
}

var ops2 = []string{"//", "**", "==", "!=", "<=", ">="}

const ops1 = "+-*/%~<>=.,:|()[]{}"

// lexTag tokenizes the inside of a "{{ }}" or "{% %}" tag up to end.
func (l *lexer) lexTag(p int, end string) error {
	src := l.src
	depth := 0
	for {
		p = skipSpace(src, p)
		if p >= len(src) {
			return l.errorf(p, "unexpected end of template, expected %q", end)
		}
		if depth == 0 {
			if strings.HasPrefix(src[p:], end) {
				l.closeTag(p, p+2, 0, end)
				return nil
			}
			if (src[p] == '-' || src[p] == '+') && strings.HasPrefix(src[p+1:], end) {
				l.closeTag(p, p+3, src[p], end)
				return nil
			}
		}
		c := src[p]
		switch {
		case c == '"' || c == '\'':
			s, n, err := l.lexString(p)
			if err != nil {
				return err
			}
			l.emit(tokString, s, p)
			p = n
		case c >= '0' && c <= '9':
			p = l.lexNumber(p)
		case c == '_' || c >= 0x80 || unicode.IsLetter(rune(c)):
			q := nameEnd(src, p)
			l.emit(tokName, src[p:q], p)
			p = q
		default:
			matched := false
			for _, op := range ops2 {
				if strings.HasPrefix(src[p:], op) {
					l.emit(tokOp, op, p)
					p += 2
					matched = true
					break
				}
			}
			if matched {
				continue
			}
			if strings.IndexByte(ops1, c) < 0 {
				return l.errorf(p, "unexpected character %q", c)
			}
			switch c {
			case '(', '[', '{':
				depth++
			case ')', ']', '}':
				if depth > 0 {
					depth--
				}
			}
			l.emit(tokOp, string(c), p)
			p++
		}
	}
}

func (l *lexer) closeTag(at, after int, sign byte, end string) {
	if end == "}}" {
		l.emit(tokVarEnd, end, at)
	} else {
		l.emit(tokBlockEnd, end, at)
	}
	l.afterTagEnd(after, sign, end == "%}")
}

func (l *lexer) lexNumber(p int) int {
	src := l.src
	// 0x, 0o and 0b integer literals.
	if p+2 < len(src) && src[p] == '0' {
		base := map[byte]int{'x': 16, 'X': 16, 'o': 8, 'O': 8, 'b': 2, 'B': 2}[src[p+1]]
		q := p + 2
		for base != 0 && q < len(src) && (src[q] == '_' || (hexDigit(src[q]) >= 0 && hexDigit(src[q]) < base)) {
			q++
		}
		if base != 0 && q > p+2 {
			n, err := strconv.ParseInt(strings.ReplaceAll(src[p+2:q], "_", ""), base, 64)
			if err == nil {
				l.emit(tokInt, strconv.FormatInt(n, 10), p)
				return q
			}
		}
	}
	q := p
	digits := func() {
		for q < len(src) && ((src[q] >= '0' && src[q] <= '9') || (src[q] == '_' && q+1 < len(src) && src[q+1] >= '0' && src[q+1] <= '9')) {
			q++
		}
	}
	digits()
	isFloat := false
	// "x.0.1" style attribute access: a number right after "." is an int.
	afterDot := len(l.toks) > 0 && l.toks[len(l.toks)-1].kind == tokOp && l.toks[len(l.toks)-1].val == "."
	if !afterDot && q+1 < len(src) && src[q] == '.' && src[q+1] >= '0' && src[q+1] <= '9' {
		isFloat = true
		q++
		digits()
	}
	if !afterDot && q < len(src) && (src[q] == 'e' || src[q] == 'E') {
		r := q + 1
		if r < len(src) && (src[r] == '+' || src[r] == '-') {
			r++
		}
		if r < len(src) && src[r] >= '0' && src[r] <= '9' {
			isFloat = true
			q = r
			digits()
		}
	}
	text := strings.ReplaceAll(src[p:q], "_", "")
	if isFloat {
		l.emit(tokFloat, text, p)
	} else {
		l.emit(tokInt, text, p)
	}
	return q
}

// lexString reads a quoted literal with Python-style backslash escapes.
func (l *lexer) lexString(p int) (string, int, error) {
	src := l.src
	quote := src[p]
	var b strings.Builder
	q := p + 1
	for q < len(src) {
		c := src[q]
		if c == quote {
			return b.String(), q + 1, nil
		}
		if c != '\\' || q+1 >= len(src) {
			b.WriteByte(c)
			q++
			continue
		}
		e := src[q+1]
		q += 2
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\', '\'', '"':
			b.WriteByte(e)
		case '\n':
			// line continuation
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			// Octal escape of up to three digits.
			n := int(e - '0')
			for k := 0; k < 2 && q < len(src) && src[q] >= '0' && src[q] <= '7'; k++ {
				n = n*8 + int(src[q]-'0')
				q++
			}
			b.WriteRune(rune(n))
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if q+n > len(src) {
				return "", 0, l.errorf(q, "truncated \\%c escape", e)
			}
			var r rune
			for _, h := range src[q : q+n] {
				d := hexDigit(byte(h))
				if d < 0 {
					return "", 0, l.errorf(q, "invalid \\%c escape", e)
				}
				r = r*16 + rune(d)
			}
			b.WriteRune(r)
			q += n
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return "", 0, l.errorf(p, "unterminated string")
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
