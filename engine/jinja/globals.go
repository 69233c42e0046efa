package jinja

import "fmt"

// builtinFunc is a global function provided by jinja2 itself.
//
// names lists the keyword arguments in call order, since dict(a=1, b=2) must
// keep that order.
type builtinFunc func(r *renderer, args []any, kw map[string]any, names []string) (any, error)

// builtinGlobals is read-only after package initialisation.
var builtinGlobals = map[string]any{
	"range":     builtinFunc(gRange),
	"namespace": builtinFunc(gNamespace),
	"dict":      builtinFunc(gDict),
	"joiner":    builtinFunc(gJoiner),
	"cycler":    builtinFunc(gCycler),
}

// cycler is jinja2's cycler(...): next() walks its items round-robin.
type cycler struct {
	items []any
	pos   int
}

func gCycler(_ *renderer, args []any, _ map[string]any, _ []string) (any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("cycler needs at least one item")
	}
	return &cycler{items: args}, nil
}

// gJoiner returns a function that yields "" the first time and sep after.
func gJoiner(_ *renderer, args []any, kw map[string]any, _ []string) (any, error) {
	sep := toStr(argAt(args, kw, 0, "sep", ", "))
	used := false
	return Func(func([]any, map[string]any) (any, error) {
		if !used {
			used = true
			return "", nil
		}
		return sep, nil
	}), nil
}

func gRange(_ *renderer, args []any, _ map[string]any, _ []string) (any, error) {
	nums := make([]int64, len(args))
	for i, a := range args {
		n, ok := asInt(a)
		if !ok {
			return nil, fmt.Errorf("'%s' object cannot be interpreted as an integer", typeName(a))
		}
		nums[i] = n
	}
	var start, stop, step int64 = 0, 0, 1
	switch len(nums) {
	case 1:
		stop = nums[0]
	case 2:
		start, stop = nums[0], nums[1]
	case 3:
		start, stop, step = nums[0], nums[1], nums[2]
	default:
		return nil, fmt.Errorf("range expected 1 to 3 arguments, got %d", len(args))
	}
	if step == 0 {
		return nil, fmt.Errorf("range() arg 3 must not be zero")
	}
	var items []any
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		if len(items) > 100000 {
			return nil, fmt.Errorf("range too big")
		}
		items = append(items, i)
	}
	return &rangeValue{items: items, start: start, stop: stop, step: step}, nil
}

// kwDict builds a Dict from positional mappings/pairs and keyword
// arguments, like dict(...) and namespace(...).
func kwDict(args []any, kw map[string]any, names []string) (*Dict, error) {
	d := NewDict()
	for _, a := range args {
		switch x := a.(type) {
		case *Dict:
			for i, k := range x.keys {
				d.Set(k, x.vals[i])
			}
		case *List:
			for _, it := range x.Items {
				p, ok := it.(*List)
				if !ok || len(p.Items) != 2 {
					return nil, fmt.Errorf("dictionary update sequence element has wrong length")
				}
				d.Set(p.Items[0], p.Items[1])
			}
		default:
			return nil, fmt.Errorf("'%s' object is not iterable", typeName(a))
		}
	}
	for _, k := range names {
		d.Set(k, kw[k])
	}
	return d, nil
}

func gNamespace(_ *renderer, args []any, kw map[string]any, names []string) (any, error) {
	d, err := kwDict(args, kw, names)
	if err != nil {
		return nil, err
	}
	return &Namespace{attrs: d}, nil
}

func gDict(_ *renderer, args []any, kw map[string]any, names []string) (any, error) {
	return kwDict(args, kw, names)
}
