package jinja

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// Template is a parsed template. It is immutable and safe for concurrent
// Render calls.
type Template struct {
	body []node
	// sizeHint is the length of the last output, used to size the next
	// output buffer in one allocation.
	sizeHint atomic.Int64
}

// Parse parses template source with transformers' environment settings.
func Parse(source string) (*Template, error) {
	toks, err := lex(normalizeSource(source))
	if err != nil {
		return nil, err
	}
	body, err := parse(toks)
	if err != nil {
		return nil, err
	}
	return &Template{body: body}, nil
}

// Render executes the template with the given variables. Values are
// converted with FromGo first; Func values become callable globals.
// Render never panics: an internal failure is returned as an error.
func (t *Template) Render(vars map[string]any) (out string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("jinja: internal error: %v\n%s", p, debug.Stack())
		}
	}()
	globals := newScope(nil)
	for k, v := range vars {
		globals.set(k, FromGo(v))
	}
	var b strings.Builder
	b.Grow(int(t.sizeHint.Load()) + 256)
	r := &renderer{}
	if _, err := r.execBody(t.body, newScope(globals), &b); err != nil {
		return "", err
	}
	t.sizeHint.Store(int64(b.Len()))
	return b.String(), nil
}

// FromGo converts ordinary Go values (maps, slices, numbers of any width)
// into template values. Values that already are template values pass
// through. Keys of a map[string]any are sorted, because Go maps have no
// order; use *Dict (e.g. from DecodeJSON) where order matters.
func FromGo(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, bigInt, float64, string, Markup, *List, *Dict, *Namespace, Undefined, Func, builtinFunc, *macro,
		*iterator, *dictView, *rangeValue, *loopInfo, boundMethod:
		return v
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	case uint:
		return uint64ToValue(uint64(x))
	case uint64:
		return uint64ToValue(x)
	case *big.Int:
		return intValue(x)
	case uint32:
		return int64(x)
	case uint16:
		return int64(x)
	case uint8:
		return int64(x)
	case float32:
		return float64(x)
	case func(args []any, kwargs map[string]any) (any, error):
		return Func(x)
	case []any:
		items := make([]any, len(x))
		for i, it := range x {
			items[i] = FromGo(it)
		}
		return &List{Items: items}
	case []string:
		items := make([]any, len(x))
		for i, it := range x {
			items[i] = it
		}
		return &List{Items: items}
	case []map[string]any:
		items := make([]any, len(x))
		for i, it := range x {
			items[i] = FromGo(it)
		}
		return &List{Items: items}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := NewDictSize(len(keys))
		for _, k := range keys {
			d.Set(k, FromGo(x[k]))
		}
		return d
	case fmt.Stringer:
		return x.String()
	}
	return fromReflect(reflect.ValueOf(v))
}

func uint64ToValue(u uint64) any {
	if u > math.MaxInt64 {
		return bigInt{strconv.FormatUint(u, 10)}
	}
	return int64(u)
}

// fromReflect handles the uncommon container types FromGo has no case for.
func fromReflect(rv reflect.Value) any {
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = FromGo(rv.Index(i).Interface())
		}
		return &List{Items: items}
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		keys := rv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		d := NewDict()
		for _, k := range keys {
			d.Set(k.String(), FromGo(rv.MapIndex(k).Interface()))
		}
		return d
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		return FromGo(rv.Elem().Interface())
	}
	return fmt.Sprint(rv.Interface())
}
