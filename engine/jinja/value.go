package jinja

import (
	"fmt"
	"math"
)

// Undefined is the value of a missing variable, attribute or item. Like
// jinja2's default Undefined it prints as "", is falsy and iterates as
// empty, but attribute access, calls and arithmetic on it fail.
type Undefined struct {
	// Hint is the error message used when the undefined value is misused,
	// e.g. "'x' is undefined".
	Hint string
	// objType and attr describe a missing attribute; the message is only
	// formatted if it is needed, since templates probe attributes a lot.
	objType, attr string
}

func (u Undefined) err() error {
	switch {
	case u.Hint != "":
		return fmt.Errorf("%s", u.Hint)
	case u.attr != "":
		return fmt.Errorf("'%s object' has no attribute '%s'", u.objType, u.attr)
	}
	return fmt.Errorf("undefined value")
}

// List is a Python list (or a tuple when Tuple is set). It is a pointer type
// so that values shared between variables alias like Python's.
type List struct {
	Items []any
	Tuple bool
	// fields names the items of a named tuple (groupby's (grouper, list)),
	// which templates may read as attributes.
	fields []string
}

// NewList wraps items in a List.
func NewList(items ...any) *List { return &List{Items: items} }

// Dict is a Python dict: a map that remembers insertion order. Keys are
// strings, int64, bigInt, float64, bool or nil.
type Dict struct {
	keys []any
	vals []any
	// index maps keys to positions once the dict outgrows a linear scan;
	// most template dicts (messages, tool calls) have a few keys.
	index map[any]int
}

// indexThreshold is the size from which Dict keeps a hash index.
const indexThreshold = 12

// NewDict returns an empty Dict.
func NewDict() *Dict { return &Dict{} }

// NewDictSize returns an empty Dict with room for n entries.
func NewDictSize(n int) *Dict { return &Dict{keys: make([]any, 0, n), vals: make([]any, 0, n)} }

// find returns the position of an already normalised key, or -1.
func (d *Dict) find(key any) int {
	if d.index != nil {
		if i, ok := d.index[key]; ok {
			return i
		}
		return -1
	}
	for i, k := range d.keys {
		if k == key {
			return i
		}
	}
	return -1
}

// normKey maps keys that Python treats as equal to one Go value (1 == 1.0).
func normKey(k any) any {
	switch v := k.(type) {
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<62 {
			return int64(v)
		}
	case int:
		return int64(v)
	}
	return k
}

func hashable(k any) bool {
	switch k.(type) {
	case nil, bool, int64, bigInt, float64, string:
		return true
	}
	return false
}

// Set inserts or replaces key, keeping the original position of an existing key.
func (d *Dict) Set(key, val any) {
	key = normKey(key)
	if i := d.find(key); i >= 0 {
		d.vals[i] = val
		return
	}
	d.keys = append(d.keys, key)
	d.vals = append(d.vals, val)
	switch {
	case d.index != nil:
		d.index[key] = len(d.keys) - 1
	case len(d.keys) >= indexThreshold:
		d.index = make(map[any]int, len(d.keys)*2)
		for i, k := range d.keys {
			d.index[k] = i
		}
	}
}

// Get returns the value stored under key.
func (d *Dict) Get(key any) (any, bool) {
	if !hashable(key) {
		return nil, false
	}
	i := d.find(normKey(key))
	if i < 0 {
		return nil, false
	}
	return d.vals[i], true
}

// pairs returns the (key, value) tuples in order.
func (d *Dict) pairs() []any {
	items := make([]any, len(d.keys))
	for i, k := range d.keys {
		items[i] = &List{Items: []any{k, d.vals[i]}, Tuple: true}
	}
	return items
}

// Len is the number of entries.
func (d *Dict) Len() int { return len(d.keys) }

// Keys returns the keys in insertion order (do not modify).
func (d *Dict) Keys() []any { return d.keys }

// Values returns the values in insertion order (do not modify).
func (d *Dict) Values() []any { return d.vals }

// Namespace is the mutable object made by namespace(...): the one way a
// template can carry state out of a for loop.
type Namespace struct{ attrs *Dict }

// Func is a Go function callable from templates (globals such as
// raise_exception). kwargs is nil when no keyword arguments were passed.
type Func func(args []any, kwargs map[string]any) (any, error)

// macro is a template-defined macro closed over its defining scope.
type macro struct {
	def    *macroDef
	scope  *scope
	caller any // the caller macro passed by a call block, or nil
}

// boundMethod is a Python method looked up on a value (e.g. "s.strip"),
// resolved when called.
type boundMethod struct {
	recv any
	name string
}

// loopInfo backs the "loop" variable inside for loops.
type loopInfo struct {
	items []any
	i     int
	depth int
	// recurse renders the loop body for a nested iterable (recursive loops).
	recurse     func(any) (string, error)
	lastChanged []any
}
