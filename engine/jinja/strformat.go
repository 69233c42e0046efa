package jinja

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// percentFormat implements the common cases of Python's "fmt % args":
// %s %r %d %i %f %x with optional flags, width and precision.
func percentFormat(format string, arg any) (any, error) {
	var args []any
	var named *Dict
	// Python skips the "not all arguments converted" check for arguments
	// that support indexing (lists, dicts), treating them as mappings.
	mappingLike := false
	switch a := arg.(type) {
	case *List:
		if a.Tuple {
			args = a.Items
		} else {
			args = []any{a}
			mappingLike = true
		}
	case *Dict:
		named = a
		args = []any{a}
	case Undefined:
		args = []any{a}
		mappingLike = true // Undefined defines __getitem__
	default:
		args = []any{a}
	}
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return nil, fmt.Errorf("incomplete format")
		}
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		var val any
		haveVal := false
		if format[i] == '(' && named != nil {
			end := strings.IndexByte(format[i:], ')')
			if end < 0 {
				return nil, fmt.Errorf("incomplete format key")
			}
			key := format[i+1 : i+end]
			v, ok := named.Get(key)
			if !ok {
				return nil, fmt.Errorf("KeyError: %s", repr(key))
			}
			val, haveVal = v, true
			i += end + 1
		}
		start := i
		for i < len(format) && strings.IndexByte("-+ #0123456789.", format[i]) >= 0 {
			i++
		}
		if i >= len(format) {
			return nil, fmt.Errorf("incomplete format")
		}
		spec := format[start:i]
		verb := format[i]
		if !haveVal {
			if next >= len(args) {
				return nil, fmt.Errorf("not enough arguments for format string")
			}
			val = args[next]
			next++
		}
		s, err := formatOne(spec, verb, val)
		if err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	if named == nil && !mappingLike && next < len(args) {
		return nil, fmt.Errorf("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

func formatOne(spec string, verb byte, val any) (string, error) {
	if len(strings.TrimLeft(spec, "-+ #0")) > 4 {
		return "", fmt.Errorf("format width or precision too large in %%%s%c", spec, verb)
	}
	switch verb {
	case 's':
		return fmt.Sprintf("%"+spec+"s", toStr(val)), nil
	case 'r':
		return fmt.Sprintf("%"+spec+"s", repr(val)), nil
	case 'a':
		return fmt.Sprintf("%"+spec+"s", asciiRepr(repr(val))), nil
	case 'd', 'i', 'u':
		if f, ok := val.(float64); ok {
			val = int64(f)
		}
		if b, ok := val.(bigInt); ok {
			return fmt.Sprintf("%"+spec+"d", b.big()), nil
		}
		n, ok := asInt(val)
		if !ok {
			return "", fmt.Errorf("%%d format: a real number is required, not %s", typeName(val))
		}
		return fmt.Sprintf("%"+spec+"d", n), nil
	case 'f', 'F', 'e', 'E', 'g', 'G':
		if b, ok := val.(bigInt); ok {
			f, err := b.float()
			if err != nil {
				return "", err
			}
			val = f
		}
		f, ok := asFloat(val)
		if !ok {
			return "", fmt.Errorf("must be real number, not %s", typeName(val))
		}
		if !strings.Contains(spec, ".") {
			spec += ".6"
		}
		return fmt.Sprintf("%"+spec+string(verb), f), nil
	case 'x', 'X', 'o':
		if b, ok := val.(bigInt); ok {
			return fmt.Sprintf("%"+spec+string(verb), b.big()), nil
		}
		n, ok := asInt(val)
		if !ok {
			return "", fmt.Errorf("%%x format: an integer is required, not %s", typeName(val))
		}
		return fmt.Sprintf("%"+spec+string(verb), n), nil
	case 'c':
		if n, ok := asInt(val); ok {
			return string(rune(n)), nil
		}
		return toStr(val), nil
	}
	return "", fmt.Errorf("unsupported format character '%c'", verb)
}

// pyFormat implements str.format for "{}", "{0}", "{name}" fields with
// the simple format specs templates use.
func pyFormat(format string, args []any, kw map[string]any) (any, error) {
	var b strings.Builder
	auto, manual := 0, false // Python refuses "{}" and "{0}" in one format
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case c == '{' && i+1 < len(format) && format[i+1] == '{':
			b.WriteByte('{')
			i++
		case c == '}' && i+1 < len(format) && format[i+1] == '}':
			b.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(format[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("single '{' encountered in format string")
			}
			field := format[i+1 : i+end]
			i += end
			name, conv, spec, err := splitField(field)
			if err != nil {
				return nil, err
			}
			var val any
			if name == "" {
				if manual {
					return nil, fmt.Errorf("cannot switch from manual field specification to automatic field numbering")
				}
				if auto >= len(args) {
					return nil, fmt.Errorf("replacement index %d out of range", auto)
				}
				val = args[auto]
				auto++
			} else if strings.Trim(name, "0123456789") == "" {
				// Only digits index the arguments: "-1" and "+0" are
				// keyword names to Python.
				if auto > 0 {
					return nil, fmt.Errorf("cannot switch from automatic field numbering to manual field specification")
				}
				manual = true
				n, err := strconv.Atoi(name)
				if err != nil || n >= len(args) {
					return nil, fmt.Errorf("replacement index %s out of range", name)
				}
				val = args[n]
			} else {
				v, ok := kw[name]
				if !ok {
					return nil, fmt.Errorf("KeyError: %s", repr(name))
				}
				val = v
			}
			if conv != 0 {
				val = convertField(val, conv)
			}
			s, err := formatSpec(val, spec)
			if err != nil {
				return nil, err
			}
			b.WriteString(s)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// splitField splits a replacement field "name!c:spec" into its parts; conv
// is 0 where the field has no "!c".
func splitField(field string) (name string, conv byte, spec string, err error) {
	i := strings.IndexAny(field, "!:")
	if i < 0 {
		return field, 0, "", nil
	}
	name, rest := field[:i], field[i:]
	if rest[0] == '!' {
		if len(rest) < 2 {
			return "", 0, "", fmt.Errorf("end of string while looking for conversion specifier")
		}
		if len(rest) > 2 && rest[2] != ':' {
			return "", 0, "", fmt.Errorf("expected ':' after conversion specifier")
		}
		if conv = rest[1]; conv != 'r' && conv != 's' && conv != 'a' {
			return "", 0, "", fmt.Errorf("unknown conversion specifier %c", conv)
		}
		rest = rest[2:]
	}
	return name, conv, strings.TrimPrefix(rest, ":"), nil
}

// convertField applies a field's conversion: !s is str(), !r repr(), !a
// ascii(). The format spec then formats the resulting str.
func convertField(val any, conv byte) string {
	switch conv {
	case 's':
		return toStr(val)
	case 'a':
		return asciiRepr(repr(val))
	}
	return repr(val)
}

// asciiRepr is Python's ascii(): a repr with the characters outside ASCII
// escaped as \x, \u or \U.
func asciiRepr(r string) string {
	if isASCII(r) {
		return r
	}
	var b strings.Builder
	for _, c := range r {
		switch {
		case c < utf8.RuneSelf:
			b.WriteRune(c)
		case c <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, c)
		case c <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			fmt.Fprintf(&b, `\U%08x`, c)
		}
	}
	return b.String()
}

func formatSpec(val any, spec string) (string, error) {
	if spec == "" {
		return toStr(val), nil
	}
	switch x := val.(type) {
	case string:
		return formatStr(x, spec)
	case Markup:
		return formatStr(string(x), spec)
	case int64, bigInt, float64, bool:
	default:
		// object.__format__ takes no spec.
		return "", fmt.Errorf("unsupported format string passed to %s.__format__", typeName(val))
	}
	if len(spec) > 6 {
		return "", fmt.Errorf("format spec %q too long", spec)
	}
	verb := spec[len(spec)-1]
	if strings.IndexByte("dfeEgGxXs", verb) >= 0 {
		if verb == 'd' || verb == 's' || verb == 'x' || verb == 'X' {
			return formatOne(spec[:len(spec)-1], verb, val)
		}
		return formatOne(spec[:len(spec)-1], verb, val)
	}
	return fmt.Sprintf("%"+spec+"s", toStr(val)), nil
}

// formatStr is format(s, spec) for a str, whose format spec is
// [[fill]align][0][width][.precision][s]: precision cuts s to that many
// characters, and it is padded to width, on the right unless align says
// otherwise ('>' right, '^' centre with the odd character on the right).
// A sign, '#', '=' or a thousands separator is an error for a str.
func formatStr(s, spec string) (string, error) {
	fill, fillGiven, align := " ", false, byte('<')
	if r, w := utf8.DecodeRuneInString(spec); len(spec) > w && isAlign(spec[w]) {
		fill, fillGiven, align, spec = string(r), true, spec[w], spec[w+1:]
	} else if spec != "" && isAlign(spec[0]) {
		align, spec = spec[0], spec[1:]
	}
	if spec != "" && strings.IndexByte("+- z#", spec[0]) >= 0 {
		return "", fmt.Errorf("sign, 'z' or '#' not allowed in string format specifier")
	}
	if align == '=' {
		return "", fmt.Errorf("'=' alignment not allowed in string format specifier")
	}
	if !fillGiven && strings.HasPrefix(spec, "0") {
		// The zero flag; for a str only a fill: '{:<05}'.format('ab')
		// is 'ab000'.
		fill = "0"
	}
	digits := len(spec) - len(strings.TrimLeft(spec, "0123456789"))
	width, _ := strconv.Atoi(spec[:digits])
	spec = spec[digits:]
	precision := -1
	if strings.HasPrefix(spec, ".") {
		spec = spec[1:]
		digits = len(spec) - len(strings.TrimLeft(spec, "0123456789"))
		if digits == 0 {
			return "", fmt.Errorf("format specifier missing precision")
		}
		precision, _ = strconv.Atoi(spec[:digits])
		spec = spec[digits:]
	}
	if spec != "" && spec != "s" {
		return "", fmt.Errorf("invalid format specifier %q for object of type 'str'", spec)
	}
	if width > maxOutput || precision > maxOutput {
		return "", errTooLong
	}
	if n := utf8.RuneCountInString(s); precision >= 0 && n > precision {
		s = string([]rune(s)[:precision])
	}
	pad := width - utf8.RuneCountInString(s)
	if pad <= 0 {
		return s, nil
	}
	switch align {
	case '>':
		return strings.Repeat(fill, pad) + s, nil
	case '^':
		return strings.Repeat(fill, pad/2) + s + strings.Repeat(fill, pad-pad/2), nil
	}
	return s + strings.Repeat(fill, pad), nil
}

func isAlign(c byte) bool { return c == '<' || c == '>' || c == '^' || c == '=' }
