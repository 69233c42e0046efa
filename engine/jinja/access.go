package jinja

import (
	"fmt"
	"unicode/utf8"
)

// Methods the sandbox exposes. ImmutableSandboxedEnvironment refuses the
// mutating methods of lists and dicts; using one fails when called.
var (
	strMethods = setOf("strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith",
		"replace", "upper", "lower", "title", "capitalize", "swapcase", "find", "rfind", "index", "rindex", "count",
		"join", "format", "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "isnumeric", "isdecimal",
		"istitle", "partition", "rpartition", "zfill", "center", "ljust", "rjust", "removeprefix", "removesuffix",
		"casefold", "expandtabs", "encode")
	dictMethods   = setOf("items", "keys", "values", "get", "copy")
	listMethods   = setOf("index", "count", "copy")
	unsafeMethods = setOf("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
		"update", "setdefault", "popitem")
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func unsafeAttr(obj any, name string) Undefined {
	return Undefined{Hint: fmt.Sprintf("access to attribute '%s' of '%s' object is unsafe", name, typeName(obj))}
}

func noAttr(obj any, name string) Undefined {
	return Undefined{objType: typeName(obj), attr: name}
}

// getAttr is jinja2's "obj.name": a Python attribute first, then an item.
func getAttr(obj any, name string) (any, error) {
	obj = plain(obj)
	switch x := obj.(type) {
	case *Dict:
		// Python attributes win over keys, and the sandbox refuses the
		// mutating ones even when a key has the same name.
		if dictMethods[name] {
			return boundMethod{recv: x, name: name}, nil
		}
		if unsafeMethods[name] {
			return unsafeAttr(obj, name), nil
		}
		if v, ok := x.Get(name); ok {
			return v, nil
		}
		return noAttr(obj, name), nil
	case string:
		if strMethods[name] {
			return boundMethod{recv: x, name: name}, nil
		}
		return noAttr(obj, name), nil
	case *List:
		for i, f := range x.fields {
			if f == name {
				return x.Items[i], nil
			}
		}
		if listMethods[name] {
			return boundMethod{recv: x, name: name}, nil
		}
		if unsafeMethods[name] {
			return unsafeAttr(obj, name), nil
		}
		return noAttr(obj, name), nil
	case *Namespace:
		if v, ok := x.attrs.Get(name); ok {
			return v, nil
		}
		return noAttr(obj, name), nil
	case *loopInfo:
		return x.attr(name), nil
	case *cycler:
		switch name {
		case "next", "reset":
			return boundMethod{recv: x, name: name}, nil
		case "current":
			return x.items[x.pos], nil
		}
		return noAttr(obj, name), nil
	case Undefined:
		return nil, x.err()
	}
	return noAttr(obj, name), nil
}

// getItem is jinja2's "obj[key]": an item first, then an attribute.
func getItem(obj any, key any) (any, error) {
	obj, key = plain(obj), plain(key)
	switch x := obj.(type) {
	case *Dict:
		if v, ok := x.Get(key); ok {
			return v, nil
		}
	case *List:
		if i, ok := asInt(key); ok {
			if i < 0 {
				i += int64(len(x.Items))
			}
			if i >= 0 && i < int64(len(x.Items)) {
				return x.Items[i], nil
			}
			return Undefined{Hint: fmt.Sprintf("%s object has no element %d", typeName(obj), i)}, nil
		}
	case string:
		if i, ok := asInt(key); ok {
			n := int64(utf8.RuneCountInString(x))
			if i < 0 {
				i += n
			}
			if i >= 0 && i < n {
				for j, r := range []rune(x) {
					if int64(j) == i {
						return string(r), nil
					}
				}
			}
			return Undefined{Hint: "string index out of range"}, nil
		}
	case *rangeValue:
		if i, ok := asInt(key); ok {
			if i < 0 {
				i += int64(len(x.items))
			}
			if i >= 0 && i < int64(len(x.items)) {
				return x.items[i], nil
			}
			return Undefined{Hint: "range object index out of range"}, nil
		}
	case Undefined:
		return nil, x.err()
	}
	if s, ok := key.(string); ok {
		return getAttr(obj, s)
	}
	return Undefined{Hint: fmt.Sprintf("'%s object' has no attribute %s", typeName(obj), repr(key))}, nil
}

// iterate returns the items a for loop (or a filter) walks over.
func iterate(v any) ([]any, error) {
	v = plain(v)
	switch x := v.(type) {
	case *List:
		return x.Items, nil
	case *Dict:
		return x.keys, nil
	case string:
		out := make([]any, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	case Undefined:
		return nil, nil
	case *iterator:
		return x.take()
	case *dictView:
		return x.items, nil
	case *rangeValue:
		return x.items, nil
	case *Namespace:
		return nil, fmt.Errorf("'Namespace' object is not iterable")
	}
	return nil, fmt.Errorf("'%s' object is not iterable", typeName(v))
}

func (l *loopInfo) attr(name string) any {
	n := len(l.items)
	switch name {
	case "index":
		return int64(l.i + 1)
	case "index0":
		return int64(l.i)
	case "revindex":
		return int64(n - l.i)
	case "revindex0":
		return int64(n - l.i - 1)
	case "first":
		return l.i == 0
	case "last":
		return l.i == n-1
	case "length":
		return int64(n)
	case "depth":
		return int64(l.depth)
	case "depth0":
		return int64(l.depth - 1)
	case "previtem":
		if l.i > 0 {
			return l.items[l.i-1]
		}
		return Undefined{Hint: "there is no previous item"}
	case "nextitem":
		if l.i+1 < n {
			return l.items[l.i+1]
		}
		return Undefined{Hint: "there is no next item"}
	case "cycle", "changed":
		return boundMethod{recv: l, name: name}
	}
	return noAttr(l, name)
}
