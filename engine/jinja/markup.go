package jinja

import (
	"bytes"
	"html"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Markup is a string marked safe by the safe or escape filters, like
// markupsafe.Markup. Autoescaping is off in chat templates, so it matters
// only where Python's Markup differs from str: "+" and "%" escape the plain
// strings mixed into it. Everywhere else it behaves as a plain string.
type Markup string

// plain turns Markup into an ordinary string so the rest of the
// interpreter only deals with string.
func plain(v any) any {
	if m, ok := v.(Markup); ok {
		return string(m)
	}
	return v
}

// escapeFor is markupsafe.escape: Markup passes through, anything else is
// converted to a string and HTML-escaped.
func escapeFor(v any) Markup {
	if m, ok := v.(Markup); ok {
		return m
	}
	return Markup(htmlEscape(toStr(v)))
}

// markupOp handles "+" and "%" when an operand is Markup; ok is false when
// Markup plays no part.
func markupOp(op string, a, b any) (v any, ok bool, err error) {
	ma, aIsM := a.(Markup)
	_, bIsM := b.(Markup)
	if !aIsM && !bIsM {
		return nil, false, nil
	}
	switch op {
	case "+":
		_, aStr := a.(string)
		_, bStr := b.(string)
		if (aIsM || aStr) && (bIsM || bStr) {
			return escapeFor(a) + escapeFor(b), true, nil
		}
	case "%":
		if aIsM {
			var args any
			switch x := b.(type) {
			case *List:
				if x.Tuple {
					items := make([]any, len(x.Items))
					for i, it := range x.Items {
						items[i] = escapeFor(it)
					}
					args = &List{Items: items, Tuple: true}
				} else {
					args = escapeFor(x)
				}
			default:
				args = escapeFor(plain(b))
			}
			s, err := percentFormat(string(ma), args)
			if err != nil {
				return nil, true, err
			}
			return Markup(s.(string)), true, nil
		}
	}
	return nil, false, nil
}

// stripTags is markupsafe's Markup.striptags, which the striptags filter
// is: comments, then tags, cut out; whitespace runs made one space; then
// HTML entities decoded ("&amp;" becomes "&").
func stripTags(s string) string {
	s = cutSpans(s, "<!--", "-->")
	s = cutSpans(s, "<", ">")
	return htmlUnescape(strings.Join(strings.FieldsFunc(s, isSpace), " "))
}

// cutSpans does what markupsafe's loops do: while the first open has a
// close at or after it, cut from the open through the close, then look
// again from the start. A "<" with no ">" after it stays, with what
// follows it. Looking again from the start would be quadratic; only the
// last len(open)-1 bytes before a cut can join what follows it into a new
// open, so they move up to just before what follows, over the cut text
// (which is longer), and the search goes on from them.
func cutSpans(s, open, close string) string {
	if !strings.Contains(s, open) {
		return s
	}
	buf := []byte(s)
	var b strings.Builder
	for {
		start := bytes.Index(buf, []byte(open))
		if start < 0 {
			break
		}
		n := bytes.Index(buf[start:], []byte(close))
		if n < 0 {
			break
		}
		end := start + n + len(close)
		k := max(0, start-len(open)+1)
		b.Write(buf[:k])
		pending := start - k
		copy(buf[end-pending:end], buf[k:start])
		buf = buf[end-pending:]
	}
	b.Write(buf)
	return b.String()
}

// htmlUnescape is Python's html.unescape: "&name;" (and the names HTML
// allows without ";", such as "&amp"), "&#n;" and "&#xh;", each taken
// as Python's regular expression takes it. Named references are decoded by
// Go's html package, which has the same HTML5 table but for two; numeric
// ones here, since Python drops the control and noncharacter code points
// that Go keeps.
func htmlUnescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:] // from the '&'
		if ref, n := numericCharRef(s[1:]); n > 0 {
			b.WriteString(ref)
			s = s[1+n:]
			continue
		}
		n := entityNameLen(s[1:])
		if n == 0 {
			b.WriteByte('&')
			s = s[1:]
			continue
		}
		if ref, ok := entitiesGoLacks[s[1:1+n]]; ok {
			b.WriteString(ref)
		} else {
			b.WriteString(html.UnescapeString(s[:1+n]))
		}
		s = s[1+n:]
	}
}

// entitiesGoLacks are the references of HTML5's table that Go's html
// package leaves out.
var entitiesGoLacks = map[string]string{"nGt;": "\u226B\u20D2", "nLt;": "\u226A\u20D2"}

// entityNameLen is the length of the named reference at the start of s, as
// Python matches it: 1 to 32 characters other than tab, newline, form
// feed, space, '<', '&', '#' and ';', and a ';' after them.
func entityNameLen(s string) int {
	n, chars := 0, 0
	for n < len(s) && chars < 32 && !strings.ContainsRune("\t\n\f <&#;", rune(s[n])) {
		_, w := utf8.DecodeRuneInString(s[n:])
		n += w
		chars++
	}
	if n > 0 && n < len(s) && s[n] == ';' {
		n++
	}
	return n
}

// numericCharRef decodes "#n;" or "#xh;" (the ";" optional) at the start
// of s as Python's html.unescape does, returning what it stands for and
// its length, 0 if s does not start with one.
func numericCharRef(s string) (string, int) {
	if !strings.HasPrefix(s, "#") {
		return "", 0
	}
	base, digits := 10, "0123456789"
	i := 1
	if len(s) > 1 && (s[1] == 'x' || s[1] == 'X') {
		base, digits, i = 16, "0123456789abcdefABCDEF", 2
	}
	start := i
	n := 0 // saturates past the last code point
	for i < len(s) && strings.IndexByte(digits, s[i]) >= 0 {
		d := strings.IndexByte("0123456789abcdef", s[i]|0x20) // 'A' to 'a'
		n = min(n*base+d, 0x110000)
		i++
	}
	if i == start {
		return "", 0
	}
	if i < len(s) && s[i] == ';' {
		i++
	}
	return codePointRef(n), i
}

// codePointRef is what Python makes of the reference &#n;: the
// replacement character for NUL, surrogates and what is past Unicode;
// Windows-1252's characters for 0x80..0x9F, as browsers read them (Go's
// html package maps them the same); nothing for the other control
// characters and the noncharacters; otherwise the character.
func codePointRef(n int) string {
	switch {
	case n == 0 || n >= 0xD800 && n <= 0xDFFF || n > 0x10FFFF:
		return "\uFFFD"
	case n >= 0x80 && n <= 0x9F:
		return html.UnescapeString("&#" + strconv.Itoa(n) + ";")
	case n < 0x09 || n == 0x0B || n >= 0x0E && n <= 0x1F || n == 0x7F ||
		n >= 0xFDD0 && n <= 0xFDEF || n&0xFFFE == 0xFFFE:
		return ""
	}
	return string(rune(n))
}
