package jinja

import (
	"fmt"
	"strconv"
	"strings"
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
	case 'r', 'a':
		return fmt.Sprintf("%"+spec+"s", repr(val)), nil
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
	auto := 0
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
			name, spec, _ := strings.Cut(field, ":")
			var val any
			if name == "" {
				if auto >= len(args) {
					return nil, fmt.Errorf("replacement index %d out of range", auto)
				}
				val = args[auto]
				auto++
			} else if n, err := strconv.Atoi(name); err == nil {
				if n >= len(args) {
					return nil, fmt.Errorf("replacement index %d out of range", n)
				}
				val = args[n]
			} else {
				v, ok := kw[name]
				if !ok {
					return nil, fmt.Errorf("KeyError: %s", repr(name))
				}
				val = v
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

func formatSpec(val any, spec string) (string, error) {
	if len(spec) > 6 {
		return "", fmt.Errorf("format spec %q too long", spec)
	}
	if spec == "" {
		return toStr(val), nil
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
