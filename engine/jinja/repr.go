package jinja

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// formatFloat renders f the way Python's repr(float) does: the shortest
// round-tripping digits, fixed notation for exponents in [-4, 16), and a
// trailing ".0" on integral values.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expStr, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expStr)
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	digits := strings.Replace(mant, ".", "", 1)
	var out string
	if exp >= -5 && exp < 16 {
		// Python switches to exponent form when exp < -4.
		if exp < -4 {
			out = sci(digits, exp)
		} else if exp < 0 {
			out = "0." + strings.Repeat("0", -exp-1) + digits
		} else if len(digits) <= exp+1 {
			out = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
		} else {
			out = digits[:exp+1] + "." + digits[exp+1:]
		}
	} else {
		out = sci(digits, exp)
	}
	if neg {
		return "-" + out
	}
	return out
}

func sci(digits string, exp int) string {
	m := digits[:1]
	if len(digits) > 1 {
		m += "." + digits[1:]
	}
	sign := "+"
	if exp < 0 {
		sign = "-"
		exp = -exp
	}
	e := strconv.Itoa(exp)
	if len(e) < 2 {
		e = "0" + e
	}
	return m + "e" + sign + e
}

// toStr is Python's str() of a template value.
func toStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case Markup:
		return string(x)
	case nil:
		return "None"
	case Undefined:
		return ""
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case bigInt:
		return x.dec
	case float64:
		return formatFloat(x)
	}
	var b strings.Builder
	writeRepr(&b, v, nil)
	return b.String()
}

// repr is Python's repr() of a template value.
func repr(v any) string {
	var b strings.Builder
	writeRepr(&b, v, nil)
	return b.String()
}

// writeRepr writes Python's repr of v. active holds the containers being
// written, so that a namespace reachable from itself prints "{...}" or
// "[...]" as Python's recursion guard does instead of recursing forever.
func writeRepr(b *strings.Builder, v any, active map[any]bool) {
	switch x := v.(type) {
	case *List, *Dict:
		if active[x] {
			switch {
			case isTuple(x):
				b.WriteString("(...)")
			case isDict(x):
				b.WriteString("{...}")
			default:
				b.WriteString("[...]")
			}
			return
		}
		if active == nil {
			active = map[any]bool{}
		}
		active[x] = true
		defer delete(active, x)
	}
	switch x := v.(type) {
	case Markup:
		b.WriteString("Markup(")
		writeStrRepr(b, string(x))
		b.WriteString(")")
	case string:
		writeStrRepr(b, x)
	case *List:
		open, close := "[", "]"
		if x.Tuple {
			open, close = "(", ")"
		}
		b.WriteString(open)
		for i, it := range x.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, it, active)
		}
		if x.Tuple && len(x.Items) == 1 {
			b.WriteString(",")
		}
		b.WriteString(close)
	case *Dict:
		b.WriteString("{")
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, k, active)
			b.WriteString(": ")
			writeRepr(b, x.vals[i], active)
		}
		b.WriteString("}")
	case *Namespace:
		b.WriteString("<Namespace ")
		writeRepr(b, x.attrs, active)
		b.WriteString(">")
	case Undefined:
		b.WriteString("Undefined")
	case *macro:
		b.WriteString("<Macro '" + x.def.name + "'>")
	case Func, boundMethod:
		b.WriteString("<built-in function>")
	case *loopInfo:
		b.WriteString("<LoopContext>")
	case *iterator:
		b.WriteString("<" + x.kind + " object>")
	case *dictView:
		b.WriteString(x.kind + "(")
		writeRepr(b, &List{Items: x.items}, active)
		b.WriteString(")")
	case *rangeValue:
		b.WriteString("range(" + toStr(x.start) + ", " + toStr(x.stop))
		if x.step != 1 {
			b.WriteString(", " + toStr(x.step))
		}
		b.WriteString(")")
	case nil, bool, int64, bigInt, float64:
		b.WriteString(toStr(v))
	default:
		// Functions, cyclers and other objects: Python shows a type tag.
		b.WriteString("<" + typeName(v) + " object>")
	}
}

// writeStrRepr quotes s like Python: single quotes unless s contains a
// single quote and no double quote.
func writeStrRepr(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(hex2(int(r)))
		// U+FFFD is printable to Python (category So) and printed as is;
		// template strings are valid UTF-8, so it is never a decoding error.
		case r >= 0x80 && !unicode.IsPrint(r) && r != ' ':
			switch {
			case r < 0x100:
				b.WriteString(`\x` + hex2(int(r)))
			case r < 0x10000:
				b.WriteString(`\u` + hex2(int(r>>8)) + hex2(int(r&0xff)))
			default:
				b.WriteString(fmt.Sprintf(`\U%08x`, r))
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
}

func hex2(n int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[n>>4&0xf], digits[n&0xf]})
}

// isSpace is Python's str.isspace for one character: Go's unicode.IsSpace
// plus the information separators U+001C..U+001F, which Python (and so
// jinja2's \s and str.strip) treats as whitespace.
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func isTuple(v any) bool { l, ok := v.(*List); return ok && l.Tuple }
func isDict(v any) bool  { _, ok := v.(*Dict); return ok }
