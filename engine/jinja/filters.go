package jinja

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// filterFunc implements a filter: value | name(args, kwargs).
type filterFunc func(r *renderer, v any, args []any, kw map[string]any) (any, error)

// builtinFilters is read-only after package initialisation.
var builtinFilters map[string]filterFunc

func init() {
	builtinFilters = map[string]filterFunc{
		"trim":        fTrim,
		"upper":       strFilter(pyUpper),
		"lower":       strFilter(pyLower),
		"title":       strFilter(jinjaTitle),
		"capitalize":  strFilter(pyCapitalize),
		"length":      fLength,
		"count":       fLength,
		"first":       fFirst,
		"last":        fLast,
		"join":        fJoin,
		"default":     fDefault,
		"d":           fDefault,
		"replace":     fReplace,
		"list":        fList,
		"tojson":      fToJSON,
		"string":      func(_ *renderer, v any, _ []any, _ map[string]any) (any, error) { return toStr(v), nil },
		"int":         fInt,
		"float":       fFloat,
		"abs":         fAbs,
		"round":       fRound,
		"items":       fItems,
		"dictsort":    fDictSort,
		"groupby":     fGroupBy,
		"selectattr":  selectFilter(true, false),
		"rejectattr":  selectFilter(true, true),
		"select":      selectFilter(false, false),
		"reject":      selectFilter(false, true),
		"map":         fMap,
		"unique":      fUnique,
		"sort":        fSort,
		"reverse":     fReverse,
		"batch":       fBatch,
		"indent":      fIndent,
		"center":      fCenter,
		"safe":        fSafe,
		"escape":      fEscape,
		"e":           fEscape,
		"forceescape": fForceEscape,
		"wordcount":   fWordCount,
		"min":         minMax(true),
		"max":         minMax(false),
		"sum":         fSum,
		"attr":        fAttr,
		"format":      fFormat,
		"truncate":    fTruncate,
		"pprint":      func(_ *renderer, v any, _ []any, _ map[string]any) (any, error) { return repr(v), nil },
		"striptags":   fStripTags,
	}
}

func strFilter(f func(string) string) filterFunc {
	return func(_ *renderer, v any, _ []any, _ map[string]any) (any, error) { return f(toStr(v)), nil }
}

// jinjaTitle is jinja2's title filter, which is not str.title: words
// start after whitespace, a hyphen or an opening bracket, and each is
// item[0].upper() + item[1:].lower(), so its first letter is upper-cased
// ('ǆa' becomes 'Ǆa'), and a final sigma is judged within the rest alone.
func jinjaTitle(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for s != "" {
		n := strings.IndexFunc(s, isTitleBreak)
		if n < 0 {
			n = len(s)
		}
		if n == 0 {
			n = strings.IndexFunc(s, func(r rune) bool { return !isTitleBreak(r) })
			if n < 0 {
				n = len(s)
			}
			b.WriteString(s[:n]) // breaks have no case
		} else {
			r, w := utf8.DecodeRuneInString(s)
			writeUpper(&b, r)
			b.WriteString(pyLower(s[w:n]))
		}
		s = s[n:]
	}
	return b.String()
}

// isTitleBreak is a character of jinja2's word-beginning split, [-\s({\[<].
func isTitleBreak(r rune) bool { return isSpace(r) || strings.ContainsRune("-({[<", r) }

func fTrim(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	return stripChars(toStr(v), argAt(args, kw, 0, "chars", nil), true, true)
}

func length(v any) (int, error) {
	switch x := v.(type) {
	case string:
		return utf8.RuneCountInString(x), nil
	case *List:
		return len(x.Items), nil
	case *Dict:
		return x.Len(), nil
	case Undefined:
		return 0, nil
	case *dictView:
		return len(x.items), nil
	case *rangeValue:
		return len(x.items), nil
	}
	return 0, fmt.Errorf("object of type '%s' has no len()", typeName(v))
}

func fLength(_ *renderer, v any, _ []any, _ map[string]any) (any, error) {
	n, err := length(v)
	return int64(n), err
}

func fFirst(_ *renderer, v any, _ []any, _ map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return Undefined{Hint: "No first item, sequence was empty."}, nil
	}
	return items[0], nil
}

func fLast(_ *renderer, v any, _ []any, _ map[string]any) (any, error) {
	if it, ok := v.(*iterator); ok {
		return nil, fmt.Errorf("'%s' object is not reversible", it.kind)
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return Undefined{Hint: "No last item, sequence was empty."}, nil
	}
	return items[len(items)-1], nil
}

// attrGetter follows a dotted attribute path ("a.b", "0") as jinja2's
// make_attrgetter does: integer parts index.
func attrGetter(path any) func(any) (any, error) {
	s, ok := path.(string)
	if !ok {
		return func(v any) (any, error) { return getItem(v, path) }
	}
	parts := strings.Split(s, ".")
	return func(v any) (any, error) {
		var err error
		for _, p := range parts {
			if n, e := strconv.ParseInt(p, 10, 64); e == nil {
				v, err = getItem(v, n)
			} else {
				v, err = getItem(v, p)
			}
			if err != nil {
				return nil, err
			}
		}
		return v, nil
	}
}

func fJoin(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	sep := toStr(argAt(args, kw, 0, "d", ""))
	var get func(any) (any, error)
	if a := argAt(args, kw, 1, "attribute", nil); a != nil {
		get = attrGetter(a)
	}
	parts := make([]string, len(items))
	for i, it := range items {
		if get != nil {
			if it, err = get(it); err != nil {
				return nil, err
			}
		}
		parts[i] = toStr(it)
	}
	return joinStrings(parts, sep)
}

func fDefault(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	dflt := argAt(args, kw, 0, "default_value", "")
	boolean := truthy(argAt(args, kw, 1, "boolean", false))
	if _, undef := v.(Undefined); undef || (boolean && !truthy(v)) {
		return dflt, nil
	}
	return v, nil
}

func fReplace(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("replace filter needs old and new strings")
	}
	n := int64(-1)
	if c := argAt(args, kw, 2, "count", nil); c != nil {
		var ok bool
		if n, ok = asInt(c); !ok {
			return nil, fmt.Errorf("replace count must be an integer")
		}
	}
	return replaceAll(toStr(v), toStr(args[0]), toStr(args[1]), int(n))
}

func fList(_ *renderer, v any, _ []any, _ map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	return &List{Items: append([]any(nil), items...)}, nil
}

// fInt is jinja2's int filter: int(value) (int(value, base) for a str),
// and where that raises ValueError or TypeError, int(float(value)), else
// the default. So "42.23"|int is 42, "0x1A"|int(base=16) 26, "_1"|int 0
// (an underscore only goes between digits), "12"|int(base=2) 12 (by way
// of float) and "inf"|int the default.
func fInt(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	dflt := argAt(args, kw, 0, "default", int64(0))
	switch x := v.(type) {
	case Undefined:
		return nil, x.err() // Undefined.__int__ raises
	case int64, bigInt:
		return x, nil
	case bool:
		n, _ := asInt(x)
		return n, nil
	case float64:
		if math.IsInf(x, 0) {
			// int(inf) raises OverflowError, which jinja2 lets through.
			return nil, fmt.Errorf("OverflowError: cannot convert float infinity to integer")
		}
		if math.IsNaN(x) {
			return dflt, nil
		}
		return floatToInt(x), nil
	case string:
		// A base that is no int is int()'s TypeError: float() decides.
		if base, ok := asInt(argAt(args, kw, 1, "base", int64(10))); ok {
			if n, ok := pyIntText(x, base); ok {
				return n, nil
			}
		}
		if f, ok := pyFloatText(x); ok && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return floatToInt(f), nil
		}
	}
	return dflt, nil
}

func fFloat(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	dflt := argAt(args, kw, 0, "default", 0.0)
	switch x := v.(type) {
	case Undefined:
		return nil, x.err() // Undefined.__float__ raises
	case float64:
		return x, nil
	case int64, bool:
		f, _ := asFloat(x)
		return f, nil
	case bigInt:
		return x.float()
	case string:
		if f, ok := pyFloatText(x); ok {
			return f, nil
		}
	}
	return dflt, nil
}

func fAbs(_ *renderer, v any, _ []any, _ map[string]any) (any, error) {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return -x, nil
		}
		return x, nil
	case float64:
		return math.Abs(x), nil
	case bigInt:
		return intValue(new(big.Int).Abs(x.big())), nil
	case bool:
		n, _ := asInt(x)
		return n, nil
	}
	return nil, fmt.Errorf("bad operand type for abs(): '%s'", typeName(v))
}

func fRound(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	if b, ok := v.(bigInt); ok {
		if toStr(argAt(args, kw, 1, "method", "common")) == "common" {
			return b, nil // round(int, n) stays an int
		}
		f, err := b.float()
		if err != nil {
			return nil, err
		}
		v = f // ceil and floor work on value * 10**precision, a float
	}
	f, ok := asFloat(v)
	if !ok {
		return nil, fmt.Errorf("round filter needs a number, got %s", typeName(v))
	}
	prec, _ := asInt(argAt(args, kw, 0, "precision", int64(0)))
	method := toStr(argAt(args, kw, 1, "method", "common"))
	p := math.Pow(10, float64(prec))
	switch method {
	case "common":
		if i, isInt := asInt(v); isInt {
			return i, nil // round(int, n) stays an int in Python (bool too)
		}
		// Python rounds half to even on the binary value; jinja2's "common"
		// uses round(), so do the same.
		return math.RoundToEven(f*p) / p, nil
	case "ceil":
		return math.Ceil(f*p) / p, nil
	case "floor":
		return math.Floor(f*p) / p, nil
	}
	return nil, fmt.Errorf("method must be common, ceil or floor")
}

func fItems(_ *renderer, v any, _ []any, _ map[string]any) (any, error) {
	switch x := v.(type) {
	case Undefined:
		return newGenerator(nil), nil
	case *Dict:
		// jinja2's items filter yields the pairs lazily.
		return newGenerator(x.pairs()), nil
	}
	return &iterator{kind: "generator", err: fmt.Errorf("can only get item pairs from a mapping, not %s", typeName(v))}, nil
}

// sortKey lowers strings for the case-insensitive sorts jinja2 defaults to.
func sortKey(v any, caseSensitive bool) any {
	if s, ok := v.(string); ok && !caseSensitive {
		return pyLower(s)
	}
	return v
}

func sortValues(items []any, key func(any) (any, error), reverse bool) ([]any, error) {
	keys := make([]any, len(items))
	for i, it := range items {
		k, err := key(it)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	var sortErr error
	sort.SliceStable(idx, func(a, b int) bool {
		c, err := compare(keys[idx[a]], keys[idx[b]])
		if err != nil && sortErr == nil {
			sortErr = err
		}
		if reverse {
			return c > 0
		}
		return c < 0
	})
	if sortErr != nil {
		return nil, sortErr
	}
	out := make([]any, len(items))
	for i, j := range idx {
		out[i] = items[j]
	}
	return out, nil
}

func fDictSort(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	d, ok := v.(*Dict)
	if !ok {
		return nil, fmt.Errorf("dictsort needs a mapping, got %s", typeName(v))
	}
	cs := truthy(argAt(args, kw, 0, "case_sensitive", false))
	by := toStr(argAt(args, kw, 1, "by", "key"))
	rev := truthy(argAt(args, kw, 2, "reverse", false))
	pos := 0
	if by == "value" {
		pos = 1
	}
	items, err := sortValues(d.pairs(), func(p any) (any, error) {
		return sortKey(p.(*List).Items[pos], cs), nil
	}, rev)
	if err != nil {
		return nil, err
	}
	return &List{Items: items}, nil
}

// fGroupBy is jinja2's groupby: items sorted by an attribute and grouped
// into (grouper, list) named tuples; the grouper keeps the first item's case.
func fGroupBy(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	attr := argAt(args, kw, 0, "attribute", nil)
	if attr == nil {
		return nil, fmt.Errorf("groupby needs an attribute")
	}
	dflt, hasDefault := kw["default"]
	if len(args) > 1 {
		dflt, hasDefault = args[1], true
	}
	cs := truthy(argAt(args, kw, 2, "case_sensitive", false))
	get := attrGetter(attr)
	key := func(x any) (any, error) {
		k, err := get(x)
		if _, undef := k.(Undefined); undef && hasDefault {
			k = dflt
		}
		return k, err
	}
	sorted, err := sortValues(items, func(x any) (any, error) {
		k, err := key(x)
		return sortKey(k, cs), err
	}, false)
	if err != nil {
		return nil, err
	}
	var groups []any
	var cur *List
	var curKey any
	for _, it := range sorted {
		k, err := key(it)
		if err != nil {
			return nil, err
		}
		if cur == nil || !equal(sortKey(k, cs), curKey) {
			cur = &List{Items: []any{k, &List{}}, Tuple: true, fields: []string{"grouper", "list"}}
			curKey = sortKey(k, cs)
			groups = append(groups, cur)
		}
		members := cur.Items[1].(*List)
		members.Items = append(members.Items, it)
	}
	return &List{Items: groups}, nil
}

// selectFilter builds select/reject/selectattr/rejectattr.
func selectFilter(byAttr, reject bool) filterFunc {
	return func(r *renderer, v any, args []any, kw map[string]any) (any, error) {
		if !truthy(v) {
			// jinja2 checks "if seq:" before iterating, so None is empty.
			return newGenerator(nil), nil
		}
		items, failed := lazy(v)
		if failed != nil {
			return failed, nil
		}
		get := func(x any) (any, error) { return x, nil }
		if byAttr {
			if len(args) == 0 {
				return nil, fmt.Errorf("missing parameter for attribute name")
			}
			get = attrGetter(args[0])
			args = args[1:]
		}
		test := func(x any) (bool, error) { return truthy(x), nil }
		if len(args) > 0 {
			name := toStr(args[0])
			t, ok := builtinTests[name]
			if !ok {
				return nil, fmt.Errorf("no test named '%s'", name)
			}
			targs := args[1:]
			test = func(x any) (bool, error) { return t(x, targs) }
		}
		var out []any
		for _, it := range items {
			x, err := get(it)
			if err != nil {
				return nil, err
			}
			ok, err := test(x)
			if err != nil {
				return nil, err
			}
			if ok != reject {
				out = append(out, it)
			}
		}
		return newGenerator(out), nil
	}
}

func fMap(r *renderer, v any, args []any, kw map[string]any) (any, error) {
	if !truthy(v) {
		return newGenerator(nil), nil
	}
	items, failed := lazy(v)
	if failed != nil {
		return failed, nil
	}
	var err error
	var fn func(any) (any, error)
	if a, ok := kw["attribute"]; ok {
		get := attrGetter(a)
		dflt, hasDefault := kw["default"]
		fn = func(x any) (any, error) {
			y, err := get(x)
			if _, undef := y.(Undefined); undef && hasDefault {
				return dflt, nil
			}
			return y, err
		}
	} else {
		if len(args) == 0 {
			return nil, fmt.Errorf("map requires a filter name or attribute=")
		}
		name := toStr(args[0])
		f, ok := builtinFilters[name]
		if !ok {
			return nil, fmt.Errorf("no filter named '%s'", name)
		}
		fargs := args[1:]
		fn = func(x any) (any, error) { return f(r, x, fargs, kw) }
	}
	out := make([]any, len(items))
	for i, it := range items {
		if out[i], err = fn(it); err != nil {
			return nil, err
		}
	}
	return newGenerator(out), nil
}

func fUnique(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	items, failed := lazy(v)
	if failed != nil {
		return failed, nil
	}
	var err error
	cs := truthy(argAt(args, kw, 0, "case_sensitive", false))
	var get func(any) (any, error)
	if a := argAt(args, kw, 1, "attribute", nil); a != nil {
		get = attrGetter(a)
	}
	var out []any
	seen := map[any]bool{}
	for _, it := range items {
		k := it
		if get != nil {
			if k, err = get(it); err != nil {
				return nil, err
			}
		}
		hk, err := setKey(sortKey(k, cs))
		if err != nil {
			return &iterator{kind: "generator", err: err}, nil
		}
		if !seen[hk] {
			seen[hk] = true
			out = append(out, it)
		}
	}
	return newGenerator(out), nil
}

func fSort(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	rev := truthy(argAt(args, kw, 0, "reverse", false))
	cs := truthy(argAt(args, kw, 1, "case_sensitive", false))
	get := func(x any) (any, error) { return x, nil }
	if a := argAt(args, kw, 2, "attribute", nil); a != nil {
		get = attrGetter(a)
	}
	out, err := sortValues(items, func(x any) (any, error) {
		k, err := get(x)
		return sortKey(k, cs), err
	}, rev)
	if err != nil {
		return nil, err
	}
	return &List{Items: out}, nil
}

func fReverse(_ *renderer, v any, _ []any, _ map[string]any) (any, error) {
	if s, ok := v.(string); ok {
		r := []rune(s)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(items))
	for i, it := range items {
		out[len(items)-1-i] = it
	}
	kind := "list_reverseiterator"
	switch v.(type) {
	case *iterator:
		// reversed() fails on generators; jinja2 then builds a list.
		return &List{Items: out}, nil
	case *Dict:
		kind = "dict_reversekeyiterator"
	}
	return &iterator{items: out, kind: kind}, nil
}

func fBatch(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	items, failed := lazy(v)
	if failed != nil {
		return failed, nil
	}
	n, ok := asInt(argAt(args, kw, 0, "linecount", nil))
	if !ok || n <= 0 {
		return nil, fmt.Errorf("batch needs a positive line count")
	}
	fill, hasFill := kw["fill_with"]
	if len(args) > 1 {
		fill, hasFill = args[1], true
	}
	var out []any
	for i := 0; i < len(items); i += int(n) {
		end := min(i+int(n), len(items))
		row := append([]any(nil), items[i:end]...)
		for hasFill && fill != nil && len(row) < int(n) {
			row = append(row, fill)
		}
		out = append(out, &List{Items: row})
	}
	return newGenerator(out), nil
}

func fIndent(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	width := argAt(args, kw, 0, "width", int64(4))
	first := truthy(argAt(args, kw, 1, "first", false))
	blank := truthy(argAt(args, kw, 2, "blank", false))
	var ind string
	if s, ok := width.(string); ok {
		ind = s
	} else {
		n, _ := asInt(width)
		ind = strings.Repeat(" ", int(min(max(n, 0), 1000)))
	}
	switch v.(type) {
	case string, Markup:
	default:
		// jinja2 does "s += newline", which fails on anything but a string.
		return nil, fmt.Errorf("indent needs a string, not %s", typeName(v))
	}
	s := toStr(v) + "\n"
	lines, _ := strMethod(s, "splitlines", nil, nil)
	ls := lines.(*List).Items
	var rv string
	if blank {
		parts := make([]string, len(ls))
		for i, l := range ls {
			parts[i] = l.(string)
		}
		rv = strings.Join(parts, "\n"+ind)
	} else {
		rv = ls[0].(string)
		for _, l := range ls[1:] {
			rv += "\n"
			if l.(string) != "" {
				rv += ind + l.(string)
			}
		}
	}
	if first {
		rv = ind + rv
	}
	return rv, nil
}

func fCenter(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	w, _ := asInt(argAt(args, kw, 0, "width", int64(80)))
	return pad(toStr(v), int(w), " ", "center"), nil
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// markupFilters see Markup values as such; other filters get plain strings.
var markupFilters = map[string]bool{"safe": true, "escape": true, "e": true, "forceescape": true}

// fSafe is Markup(value): anything but Markup becomes its str().
func fSafe(_ *renderer, v any, _ []any, _ map[string]any) (any, error) {
	if m, ok := v.(Markup); ok {
		return m, nil
	}
	return Markup(toStr(v)), nil
}

func fEscape(_ *renderer, v any, _ []any, _ map[string]any) (any, error) {
	return escapeFor(v), nil
}

func fForceEscape(_ *renderer, v any, _ []any, _ map[string]any) (any, error) {
	return Markup(htmlEscape(toStr(v))), nil
}

// fWordCount counts matches of jinja2's \w+, whose \w is Python's: a
// character str.isalnum accepts, or '_'.
func fWordCount(_ *renderer, v any, _ []any, _ map[string]any) (any, error) {
	n := 0
	in := false
	for _, r := range toStr(v) {
		w := isAlnum(r) || r == '_'
		if w && !in {
			n++
		}
		in = w
	}
	return int64(n), nil
}

func minMax(isMin bool) filterFunc {
	return func(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
		items, err := iterate(v)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return Undefined{Hint: "No aggregated item, sequence was empty."}, nil
		}
		cs := truthy(argAt(args, kw, 0, "case_sensitive", false))
		get := func(x any) (any, error) { return x, nil }
		if a := argAt(args, kw, 1, "attribute", nil); a != nil {
			get = attrGetter(a)
		}
		best := items[0]
		bk, err := get(best)
		if err != nil {
			return nil, err
		}
		bk = sortKey(bk, cs)
		for _, it := range items[1:] {
			k, err := get(it)
			if err != nil {
				return nil, err
			}
			k = sortKey(k, cs)
			c, err := compare(k, bk)
			if err != nil {
				return nil, err
			}
			if (isMin && c < 0) || (!isMin && c > 0) {
				best, bk = it, k
			}
		}
		return best, nil
	}
}

func fSum(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	get := func(x any) (any, error) { return x, nil }
	if a := argAt(args, kw, 0, "attribute", nil); a != nil {
		get = attrGetter(a)
	}
	total := argAt(args, kw, 1, "start", int64(0))
	for _, it := range items {
		x, err := get(it)
		if err != nil {
			return nil, err
		}
		if total, err = binaryOp("+", total, x); err != nil {
			return nil, err
		}
	}
	return total, nil
}

func fAttr(_ *renderer, v any, args []any, _ map[string]any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("attr filter takes one name")
	}
	return getAttr(v, toStr(args[0]))
}

func fFormat(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	if len(kw) > 0 {
		d := NewDict()
		for k, x := range kw {
			d.Set(k, x)
		}
		return percentFormat(toStr(v), d)
	}
	return percentFormat(toStr(v), &List{Items: args, Tuple: true})
}

func fTruncate(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	s := toStr(v)
	n, _ := asInt(argAt(args, kw, 0, "length", int64(255)))
	killwords := truthy(argAt(args, kw, 1, "killwords", false))
	end := toStr(argAt(args, kw, 2, "end", "..."))
	leeway, _ := asInt(argAt(args, kw, 3, "leeway", int64(5)))
	r := []rune(s)
	if int64(len(r)) <= n+leeway {
		return s, nil
	}
	cut := int(n) - utf8.RuneCountInString(end)
	if cut < 0 {
		cut = 0
	}
	if killwords {
		return string(r[:cut]) + end, nil
	}
	head := string(r[:cut])
	if i := strings.LastIndex(head, " "); i >= 0 {
		head = head[:i]
	}
	return head + end, nil
}

func fStripTags(_ *renderer, v any, _ []any, _ map[string]any) (any, error) {
	return stripTags(toStr(v)), nil
}

// setKey maps a value to a Go map key that is equal exactly when Python's
// set would treat the values as the same (1, 1.0 and True coincide).
func setKey(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		i, _ := asInt(x)
		return i, nil
	case nil, int64, bigInt, float64, string:
		return normKey(x), nil
	case Markup:
		return string(x), nil
	case *List:
		if x.Tuple {
			var b strings.Builder
			b.WriteString("\x00tuple")
			for _, it := range x.Items {
				k, err := setKey(it)
				if err != nil {
					return nil, err
				}
				fmt.Fprintf(&b, "\x00%T:%v", k, k)
			}
			return b.String(), nil
		}
	case *Dict, *dictView:
	default:
		return v, nil // functions, namespaces, ...: hashed by identity
	}
	return nil, fmt.Errorf("unhashable type: '%s'", typeName(v))
}
