package jinja

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// callMethod runs a Python method of a str, dict, list or loop object.
func (r *renderer) callMethod(recv any, name string, args []any, kw map[string]any) (any, error) {
	switch x := recv.(type) {
	case string:
		return strMethod(x, name, args, kw)
	case *Dict:
		return dictMethod(x, name, args)
	case *List:
		return listMethod(x, name, args)
	case *loopInfo:
		return x.method(name, args)
	case *cycler:
		if name == "reset" {
			x.pos = 0
			return nil, nil
		}
		v := x.items[x.pos]
		x.pos = (x.pos + 1) % len(x.items)
		return v, nil
	}
	return nil, fmt.Errorf("'%s' object has no method '%s'", typeName(recv), name)
}

// argAt returns positional argument i, or keyword name, or dflt.
func argAt(args []any, kw map[string]any, i int, name string, dflt any) any {
	if i < len(args) {
		return args[i]
	}
	if v, ok := kw[name]; ok {
		return v
	}
	return dflt
}

func wantStr(v any, what string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be str, not %s", what, typeName(v))
	}
	return s, nil
}

func wantInt(v any, what string) (int64, error) {
	i, ok := asInt(v)
	if !ok {
		return 0, fmt.Errorf("%s must be an integer, not %s", what, typeName(v))
	}
	return i, nil
}

// stripChars implements str.strip/lstrip/rstrip: whitespace by default.
func stripChars(s string, chars any, left, right bool) (string, error) {
	var f func(rune) bool
	switch c := chars.(type) {
	case nil, Undefined:
		f = isSpace
	case string:
		f = func(r rune) bool { return strings.ContainsRune(c, r) }
	default:
		return "", fmt.Errorf("strip arg must be None or str")
	}
	if left {
		s = strings.TrimLeftFunc(s, f)
	}
	if right {
		s = strings.TrimRightFunc(s, f)
	}
	return s, nil
}

func strList(parts []string) *List {
	items := make([]any, len(parts))
	for i, p := range parts {
		items[i] = p
	}
	return &List{Items: items}
}

// pySplit is str.split: runs of whitespace when sep is None, else sep.
// Whitespace is Python's (isSpace), which strings.Fields's is not: it
// leaves out the separators U+001C..U+001F.
func pySplit(s string, sep any, maxsplit int64) (*List, error) {
	if sep == nil {
		if maxsplit < 0 {
			return strList(strings.FieldsFunc(s, isSpace)), nil
		}
		var parts []string
		rest := strings.TrimLeftFunc(s, isSpace)
		for rest != "" && int64(len(parts)) < maxsplit {
			i := strings.IndexFunc(rest, isSpace)
			if i < 0 {
				break
			}
			parts = append(parts, rest[:i])
			rest = strings.TrimLeftFunc(rest[i:], isSpace)
		}
		if rest != "" {
			parts = append(parts, rest)
		}
		return strList(parts), nil
	}
	sp, err := wantStr(sep, "separator")
	if err != nil {
		return nil, err
	}
	if sp == "" {
		return nil, fmt.Errorf("empty separator")
	}
	n := -1
	if maxsplit >= 0 {
		n = int(maxsplit) + 1
	}
	return strList(strings.SplitN(s, sp, n)), nil
}

func pyRSplit(s string, sep any, maxsplit int64) (*List, error) {
	if maxsplit < 0 {
		return pySplit(s, sep, -1)
	}
	if sep == nil {
		var parts []string
		rest := strings.TrimRightFunc(s, isSpace)
		for rest != "" && int64(len(parts)) < maxsplit {
			i := strings.LastIndexFunc(rest, isSpace)
			if i < 0 {
				break
			}
			_, w := utf8.DecodeRuneInString(rest[i:])
			parts = append(parts, rest[i+w:])
			rest = strings.TrimRightFunc(rest[:i], isSpace)
		}
		if rest != "" {
			parts = append(parts, rest)
		}
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
		return strList(parts), nil
	}
	sp, err := wantStr(sep, "separator")
	if err != nil {
		return nil, err
	}
	if sp == "" {
		return nil, fmt.Errorf("empty separator")
	}
	var parts []string
	rest := s
	for int64(len(parts)) < maxsplit {
		i := strings.LastIndex(rest, sp)
		if i < 0 {
			break
		}
		parts = append(parts, rest[i+len(sp):])
		rest = rest[:i]
	}
	parts = append(parts, rest)
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strList(parts), nil
}

// isLineBreak reports whether str.splitlines ends a line at r: besides
// "\n" and "\r" (and "\r\n", taken together), Python breaks lines at the
// vertical tab, form feed, file/group/record separators, NEL and the
// Unicode line and paragraph separators.
func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// pySplitlines is str.splitlines; keep leaves each line's break on it.
func pySplitlines(s string, keep bool) []string {
	var lines []string
	for s != "" {
		i := strings.IndexFunc(s, isLineBreak)
		if i < 0 {
			lines = append(lines, s)
			break
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		end := i + w
		if s[i] == '\r' && end < len(s) && s[end] == '\n' {
			end++
		}
		if keep {
			lines = append(lines, s[:end])
		} else {
			lines = append(lines, s[:i])
		}
		s = s[end:]
	}
	return lines
}

// runeIndex converts a byte offset into a code point index (Python indexes
// strings by code point).
func runeIndex(s string, byteOff int) int64 {
	if byteOff < 0 {
		return -1
	}
	return int64(utf8.RuneCountInString(s[:byteOff]))
}

func allRunes(s string, f func(rune) bool) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !f(r) {
			return false
		}
	}
	return true
}

func prefixArgs(v any) ([]string, error) {
	switch p := v.(type) {
	case string:
		return []string{p}, nil
	case *List:
		out := make([]string, 0, len(p.Items))
		for _, it := range p.Items {
			s, err := wantStr(it, "tuple for startswith/endswith")
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("startswith/endswith first arg must be str or a tuple of str, not %s", typeName(v))
}

func strMethod(s, name string, args []any, kw map[string]any) (any, error) {
	switch name {
	case "strip", "lstrip", "rstrip":
		return stripChars(s, argAt(args, kw, 0, "chars", nil), name != "rstrip", name != "lstrip")
	case "split", "rsplit":
		sep := argAt(args, kw, 0, "sep", nil)
		maxsplit, err := wantInt(argAt(args, kw, 1, "maxsplit", int64(-1)), "maxsplit")
		if err != nil {
			return nil, err
		}
		if name == "split" {
			return pySplit(s, sep, maxsplit)
		}
		return pyRSplit(s, sep, maxsplit)
	case "splitlines":
		return strList(pySplitlines(s, truthy(argAt(args, kw, 0, "keepends", false)))), nil
	case "startswith", "endswith":
		if len(args) < 1 {
			return nil, fmt.Errorf("%s() takes at least 1 argument", name)
		}
		prefixes, err := prefixArgs(args[0])
		if err != nil {
			return nil, err
		}
		for _, p := range prefixes {
			if (name == "startswith" && strings.HasPrefix(s, p)) || (name == "endswith" && strings.HasSuffix(s, p)) {
				return true, nil
			}
		}
		return false, nil
	case "replace":
		if len(args) < 2 {
			return nil, fmt.Errorf("replace() takes at least 2 arguments")
		}
		old, err := wantStr(args[0], "replace() argument 1")
		if err != nil {
			return nil, err
		}
		nw, err := wantStr(args[1], "replace() argument 2")
		if err != nil {
			return nil, err
		}
		n, err := wantInt(argAt(args, kw, 2, "count", int64(-1)), "count")
		if err != nil {
			return nil, err
		}
		return replaceAll(s, old, nw, int(n))
	case "upper":
		return pyUpper(s), nil
	case "lower":
		return pyLower(s), nil
	case "casefold":
		return pyCasefold(s), nil
	case "title":
		return pyTitle(s), nil
	case "capitalize":
		return pyCapitalize(s), nil
	case "swapcase":
		return pySwapcase(s), nil
	case "find", "rfind", "index", "rindex", "count":
		if len(args) < 1 {
			return nil, fmt.Errorf("%s() takes at least 1 argument", name)
		}
		sub, err := wantStr(args[0], name+"() argument")
		if err != nil {
			return nil, err
		}
		switch name {
		case "count":
			if sub == "" {
				return int64(utf8.RuneCountInString(s) + 1), nil
			}
			return int64(strings.Count(s, sub)), nil
		case "find", "index":
			i := runeIndex(s, strings.Index(s, sub))
			if i < 0 && name == "index" {
				return nil, fmt.Errorf("substring not found")
			}
			return i, nil
		default:
			i := runeIndex(s, strings.LastIndex(s, sub))
			if i < 0 && name == "rindex" {
				return nil, fmt.Errorf("substring not found")
			}
			return i, nil
		}
	case "join":
		if len(args) != 1 {
			return nil, fmt.Errorf("join() takes exactly one argument")
		}
		items, err := iterate(args[0])
		if err != nil {
			return nil, err
		}
		parts := make([]string, len(items))
		for i, it := range items {
			p, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("sequence item %d: expected str instance, %s found", i, typeName(it))
			}
			parts[i] = p
		}
		return joinStrings(parts, s)
	case "format":
		return pyFormat(s, args, kw)
	case "isdecimal":
		return allRunes(s, unicode.IsDigit), nil // category Nd
	case "isdigit":
		return allRunes(s, isPyDigit), nil
	case "isnumeric":
		return allRunes(s, isNumeric), nil
	case "isalpha":
		return allRunes(s, unicode.IsLetter), nil
	case "isalnum":
		return allRunes(s, isAlnum), nil
	case "isspace":
		return allRunes(s, isSpace), nil
	case "isupper":
		return pyIsUpper(s), nil
	case "islower":
		return pyIsLower(s), nil
	case "istitle":
		return pyIsTitle(s), nil
	case "partition", "rpartition":
		if len(args) != 1 {
			return nil, fmt.Errorf("%s() takes exactly one argument", name)
		}
		sep, err := wantStr(args[0], "separator")
		if err != nil {
			return nil, err
		}
		var i int
		if name == "partition" {
			i = strings.Index(s, sep)
		} else {
			i = strings.LastIndex(s, sep)
		}
		if i < 0 {
			if name == "partition" {
				return &List{Items: []any{s, "", ""}, Tuple: true}, nil
			}
			return &List{Items: []any{"", "", s}, Tuple: true}, nil
		}
		return &List{Items: []any{s[:i], sep, s[i+len(sep):]}, Tuple: true}, nil
	case "removeprefix", "removesuffix":
		if len(args) != 1 {
			return nil, fmt.Errorf("%s() takes exactly one argument", name)
		}
		a, err := wantStr(args[0], name+"() argument")
		if err != nil {
			return nil, err
		}
		if name == "removeprefix" {
			return strings.TrimPrefix(s, a), nil
		}
		return strings.TrimSuffix(s, a), nil
	case "zfill", "center", "ljust", "rjust":
		if len(args) < 1 {
			return nil, fmt.Errorf("%s() takes at least 1 argument", name)
		}
		width, err := wantInt(args[0], "width")
		if err != nil {
			return nil, err
		}
		fill := " "
		if name == "zfill" {
			fill = "0"
		} else if len(args) > 1 {
			if fill, err = wantStr(args[1], "fill character"); err != nil {
				return nil, err
			}
		}
		return pad(s, int(width), fill, name), nil
	case "expandtabs":
		size, err := wantInt(argAt(args, kw, 0, "tabsize", int64(8)), "tabsize")
		if err != nil {
			return nil, err
		}
		return expandTabs(s, size)
	}
	return nil, fmt.Errorf("'str' object has no attribute '%s'", name)
}

// expandTabs is str.expandtabs: a tab pads to the next multiple of size
// columns, counted in code points from the last "\n" or "\r"; with a
// size of 0 or less, tabs are dropped.
func expandTabs(s string, size int64) (string, error) {
	if !strings.Contains(s, "\t") {
		return s, nil
	}
	var b strings.Builder
	col := int64(0)
	for _, r := range s {
		switch r {
		case '\t':
			if size <= 0 {
				continue
			}
			n := size - col%size
			if int64(b.Len())+n > maxOutput {
				return "", errTooLong
			}
			b.WriteString(strings.Repeat(" ", int(n)))
			col += n
		case '\n', '\r':
			b.WriteRune(r)
			col = 0
		default:
			b.WriteRune(r)
			col++
		}
	}
	return b.String(), nil
}

func pad(s string, width int, fill, how string) string {
	width = min(width, maxOutput/4)
	n := utf8.RuneCountInString(s)
	if n >= width {
		return s
	}
	total := width - n
	switch how {
	case "ljust":
		return s + strings.Repeat(fill, total)
	case "rjust":
		return strings.Repeat(fill, total) + s
	case "zfill":
		if s != "" && (s[0] == '-' || s[0] == '+') {
			return s[:1] + strings.Repeat("0", total) + s[1:]
		}
		return strings.Repeat("0", total) + s
	}
	// Python's center puts the extra character on the left when the
	// padding is odd and the width is odd.
	left := total / 2
	if total%2 == 1 && width%2 == 1 {
		left++
	}
	return strings.Repeat(fill, left) + s + strings.Repeat(fill, total-left)
}

func dictMethod(d *Dict, name string, args []any) (any, error) {
	switch name {
	case "items":
		return &dictView{items: d.pairs(), kind: "dict_items"}, nil
	case "keys":
		return &dictView{items: append([]any(nil), d.keys...), kind: "dict_keys"}, nil
	case "values":
		return &dictView{items: append([]any(nil), d.vals...), kind: "dict_values"}, nil
	case "get":
		if len(args) < 1 || len(args) > 2 {
			return nil, fmt.Errorf("get expected 1 or 2 arguments, got %d", len(args))
		}
		if v, ok := d.Get(args[0]); ok {
			return v, nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
		return nil, nil
	case "copy":
		c := NewDict()
		for i, k := range d.keys {
			c.Set(k, d.vals[i])
		}
		return c, nil
	}
	return nil, fmt.Errorf("'dict' object has no attribute '%s'", name)
}

func listMethod(l *List, name string, args []any) (any, error) {
	switch name {
	case "index", "count":
		if len(args) < 1 {
			return nil, fmt.Errorf("%s() takes at least 1 argument", name)
		}
		n := int64(0)
		for i, it := range l.Items {
			if equal(it, args[0]) {
				if name == "index" {
					return int64(i), nil
				}
				n++
			}
		}
		if name == "index" {
			return nil, fmt.Errorf("%s is not in list", repr(args[0]))
		}
		return n, nil
	case "copy":
		return &List{Items: append([]any(nil), l.Items...), Tuple: l.Tuple}, nil
	}
	return nil, fmt.Errorf("'list' object has no attribute '%s'", name)
}

func (l *loopInfo) method(name string, args []any) (any, error) {
	switch name {
	case "cycle":
		if len(args) == 0 {
			return nil, fmt.Errorf("no items for cycling given")
		}
		return args[l.i%len(args)], nil
	case "changed":
		if l.lastChanged != nil && len(l.lastChanged) == len(args) {
			same := true
			for i := range args {
				if !equal(args[i], l.lastChanged[i]) {
					same = false
				}
			}
			if same {
				return false, nil
			}
		}
		l.lastChanged = append([]any{}, args...)
		return true, nil
	}
	return nil, fmt.Errorf("loop has no method '%s'", name)
}
