package jinja

import (
	"fmt"
)

// testFunc implements "value is name(args)".
type testFunc func(v any, args []any) (bool, error)

// builtinTests is read-only after package initialisation.
var builtinTests map[string]testFunc

func init() {
	cmpTest := func(want func(int) bool) testFunc {
		return func(v any, args []any) (bool, error) {
			if len(args) != 1 {
				return false, fmt.Errorf("comparison test needs one argument")
			}
			c, err := compare(v, args[0])
			return want(c), err
		}
	}
	eq := func(v any, args []any) (bool, error) {
		if len(args) != 1 {
			return false, fmt.Errorf("equality test needs one argument")
		}
		return equal(v, args[0]), nil
	}
	builtinTests = map[string]testFunc{
		"defined":   func(v any, _ []any) (bool, error) { _, u := v.(Undefined); return !u, nil },
		"undefined": func(v any, _ []any) (bool, error) { _, u := v.(Undefined); return u, nil },
		"none":      func(v any, _ []any) (bool, error) { return v == nil, nil },
		"boolean":   func(v any, _ []any) (bool, error) { _, ok := v.(bool); return ok, nil },
		"true":      func(v any, _ []any) (bool, error) { b, ok := v.(bool); return ok && b, nil },
		"false":     func(v any, _ []any) (bool, error) { b, ok := v.(bool); return ok && !b, nil },
		"integer": func(v any, _ []any) (bool, error) {
			switch v.(type) {
			case int64, bigInt:
				return true, nil
			}
			return false, nil
		},
		"float": func(v any, _ []any) (bool, error) { _, ok := v.(float64); return ok, nil },
		"number": func(v any, _ []any) (bool, error) {
			_, big := v.(bigInt)
			_, ok := asFloat(v)
			return ok || big, nil
		},
		"string":  func(v any, _ []any) (bool, error) { _, ok := v.(string); return ok, nil },
		"mapping": func(v any, _ []any) (bool, error) { _, ok := v.(*Dict); return ok, nil },
		"iterable": func(v any, _ []any) (bool, error) {
			switch v.(type) {
			case string, *List, *Dict, Undefined, *iterator, *dictView, *rangeValue:
				return true, nil
			}
			return false, nil
		},
		"sequence": func(v any, _ []any) (bool, error) {
			switch v.(type) {
			case string, *List, *Dict, Undefined, *rangeValue:
				return true, nil
			}
			return false, nil
		},
		"callable": func(v any, _ []any) (bool, error) {
			switch v.(type) {
			case Func, builtinFunc, *macro, boundMethod, Undefined: // Undefined defines __call__
				return true, nil
			}
			return false, nil
		},
		// odd, even and divisibleby use Python's %, so floats work too.
		"odd": func(v any, _ []any) (bool, error) {
			if b, ok := v.(bigInt); ok {
				return b.big().Bit(0) == 1, nil
			}
			m, err := binaryOp("%", v, int64(2))
			return err == nil && equal(m, int64(1)), err
		},
		"even": func(v any, _ []any) (bool, error) {
			if b, ok := v.(bigInt); ok {
				return b.big().Bit(0) == 0, nil
			}
			m, err := binaryOp("%", v, int64(2))
			return err == nil && equal(m, int64(0)), err
		},
		"divisibleby": func(v any, args []any) (bool, error) {
			if len(args) != 1 {
				return false, fmt.Errorf("divisibleby needs one argument")
			}
			m, err := binaryOp("%", v, args[0])
			return err == nil && equal(m, int64(0)), err
		},
		"eq": eq, "equalto": eq, "==": eq,
		"ne": func(v any, args []any) (bool, error) { ok, err := eq(v, args); return !ok, err },
		"!=": func(v any, args []any) (bool, error) { ok, err := eq(v, args); return !ok, err },
		"lt": cmpTest(func(c int) bool { return c < 0 }), "lessthan": cmpTest(func(c int) bool { return c < 0 }),
		"le": cmpTest(func(c int) bool { return c <= 0 }),
		"gt": cmpTest(func(c int) bool { return c > 0 }), "greaterthan": cmpTest(func(c int) bool { return c > 0 }),
		"ge": cmpTest(func(c int) bool { return c >= 0 }),
		// Operator names, for select(">", 1) and friends.
		"<": cmpTest(func(c int) bool { return c < 0 }), "<=": cmpTest(func(c int) bool { return c <= 0 }),
		">": cmpTest(func(c int) bool { return c > 0 }), ">=": cmpTest(func(c int) bool { return c >= 0 }),
		"in": func(v any, args []any) (bool, error) {
			if len(args) != 1 {
				return false, fmt.Errorf("in test needs one argument")
			}
			return contains(args[0], v)
		},
		"lower": func(v any, _ []any) (bool, error) {
			return pyIsLower(toStr(v)), nil
		},
		"upper": func(v any, _ []any) (bool, error) {
			return pyIsUpper(toStr(v)), nil
		},
		"sameas": func(v any, args []any) (bool, error) {
			if len(args) != 1 {
				return false, fmt.Errorf("sameas needs one argument")
			}
			switch x := v.(type) {
			case *List, *Dict, *Namespace:
				return x == args[0], nil
			}
			return equal(v, args[0]) && typeName(v) == typeName(args[0]), nil
		},
		"escaped": func(v any, _ []any) (bool, error) { return false, nil },
		"filter":  func(v any, _ []any) (bool, error) { _, ok := builtinFilters[toStr(v)]; return ok, nil },
		"test":    func(v any, _ []any) (bool, error) { _, ok := builtinTests[toStr(v)]; return ok, nil },
	}
}
