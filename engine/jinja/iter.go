package jinja

// iterator is a one-shot lazy sequence: what Python generators and
// reversed() give, and what select, map, reverse and friends return. It is
// always truthy, has no length, cannot be indexed or serialised, and a
// second pass over it sees nothing, as in Python.
type iterator struct {
	items    []any
	consumed bool
	kind     string // Python type name, e.g. "generator"
	// err is what iterating fails with: generator filters applied to a
	// non-iterable only fail once something iterates them.
	err error
}

// lazy returns the items of v for a generator filter, or a failed
// generator when v is not iterable, since jinja2 only fails on use.
func lazy(v any) ([]any, *iterator) {
	items, err := iterate(v)
	if err != nil {
		return nil, &iterator{kind: "generator", err: err}
	}
	return items, nil
}

func newGenerator(items []any) *iterator { return &iterator{items: items, kind: "generator"} }

// take returns the remaining items and exhausts the iterator.
func (it *iterator) take() ([]any, error) {
	if it.err != nil {
		return nil, it.err
	}
	if it.consumed {
		return nil, nil
	}
	it.consumed = true
	return it.items, nil
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
