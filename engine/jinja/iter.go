package jinja

// iterator is a one-shot lazy sequence: what Python generators and
// reversed() give, and what select, map, reverse and friends return. It is
// always truthy, has no length, cannot be indexed or serialised, and a
// second pass over it sees nothing, as in Python.
type iterator struct {
	items    []any
	consumed bool
	kind     string // Python type name, e.g. "generator"
}

func newGenerator(items []any) *iterator { return &iterator{items: items, kind: "generator"} }

// take returns the remaining items and exhausts the iterator.
func (it *iterator) take() []any {
	if it.consumed {
		return nil
	}
	it.consumed = true
	return it.items
}

// dictView is dict.items(), .keys() or .values(): reusable and sized, but
// not indexable or serialisable.
type dictView struct {
	items []any
	kind  string // "dict_items", "dict_keys" or "dict_values"
}

// rangeValue is range(...): sized and indexable but not serialisable.
type rangeValue struct {
	items             []any
	start, stop, step int64
}
