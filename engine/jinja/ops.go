package jinja

import (
	"fmt"
	"math"
	"strings"
)

// truthy is Python's bool().
func truthy(v any) bool {
	v = plain(v)
	switch x := v.(type) {
	case nil, Undefined:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case bigInt:
		return true // never zero
	case float64:
		return x != 0
	case string:
		return x != ""
	case *List:
		return len(x.Items) > 0
	case *Dict:
		return x.Len() > 0
	case *dictView:
		return len(x.items) > 0
	case *rangeValue:
		return len(x.items) > 0
	}
	return true
}

// typeName is Python's type name, used in error messages.
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "NoneType"
	case Undefined:
		return "Undefined"
	case bool:
		return "bool"
	case int64, bigInt:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case *List:
		if v.Tuple {
			return "tuple"
		}
		return "list"
	case *Dict:
		return "dict"
	case *Namespace:
		return "Namespace"
	case *loopInfo:
		return "LoopContext"
	case *iterator:
		return v.kind
	case *dictView:
		return v.kind
	case *rangeValue:
		return "range"
	case *cycler:
		return "Cycler"
	case Markup:
		return "Markup"
	}
	return "function"
}

// asNumber converts bool/int/float for arithmetic (bool is an int in Python).
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	if f, ok := v.(float64); ok {
		return f, true
	}
	if i, ok := asInt(v); ok {
		return float64(i), true
	}
	return 0, false
}

// equal is Python's ==.
func equal(a, b any) bool {
	a, b = plain(a), plain(b)
	if _, eq, ok := compareBig(a, b); ok {
		return eq
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case nil:
		return b == nil
	case Undefined:
		_, ok := b.(Undefined)
		return ok
	case int64, bool, float64:
		if _, ok := b.(float64); ok {
			fx, _ := asFloat(a)
			return fx == b.(float64)
		}
		if _, ok := a.(float64); ok {
			fy, ok := asFloat(b)
			return ok && x.(float64) == fy
		}
		ix, _ := asInt(a)
		iy, ok := asInt(b)
		return ok && ix == iy
	case *List:
		y, ok := b.(*List)
		if !ok || x.Tuple != y.Tuple || len(x.Items) != len(y.Items) {
			return false
		}
		for i := range x.Items {
			if !equal(x.Items[i], y.Items[i]) {
				return false
			}
		}
		return true
	case *Dict:
		y, ok := b.(*Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for i, k := range x.keys {
			v, ok := y.Get(k)
			if !ok || !equal(x.vals[i], v) {
				return false
			}
		}
		return true
	}
	return a == b
}

// compare is Python's ordering for <, <=, >, >=; it returns -1, 0 or 1.
func compare(a, b any) (int, error) {
	a, b = plain(a), plain(b)
	if c, _, ok := compareBig(a, b); ok {
		return c, nil
	}
	if fa, ok := asFloat(a); ok {
		if fb, ok := asFloat(b); ok {
			ia, aInt := asInt(a)
			ib, bInt := asInt(b)
			if aInt && bInt {
				return cmp3(ia < ib, ia > ib), nil
			}
			return cmp3(fa < fb, fa > fb), nil
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case *List:
		if y, ok := b.(*List); ok && x.Tuple == y.Tuple {
			for i := 0; i < len(x.Items) && i < len(y.Items); i++ {
				if equal(x.Items[i], y.Items[i]) {
					continue
				}
				return compare(x.Items[i], y.Items[i])
			}
			return cmp3(len(x.Items) < len(y.Items), len(x.Items) > len(y.Items)), nil
		}
	}
	if u, ok := a.(Undefined); ok {
		return 0, u.err()
	}
	if u, ok := b.(Undefined); ok {
		return 0, u.err()
	}
	return 0, fmt.Errorf("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b))
}

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

// contains is Python's "item in container".
func contains(container, item any) (bool, error) {
	container, item = plain(container), plain(item)
	switch c := container.(type) {
	case string:
		s, ok := item.(string)
		if !ok {
			return false, fmt.Errorf("'in <string>' requires string as left operand, not %s", typeName(item))
		}
		return strings.Contains(c, s), nil
	case *List:
		for _, it := range c.Items {
			if equal(it, item) {
				return true, nil
			}
		}
		return false, nil
	case *Dict:
		switch x := item.(type) {
		case *Dict:
			return false, fmt.Errorf("unhashable type: 'dict'")
		case *List:
			if !x.Tuple {
				return false, fmt.Errorf("unhashable type: 'list'")
			}
		}
		_, ok := c.Get(item)
		return ok, nil
	case *Namespace:
		_, ok := c.attrs.Get(item)
		return ok, nil
	case Undefined:
		return false, nil
	case *iterator, *dictView, *rangeValue:
		items, err := iterate(c)
		if err != nil {
			return false, err
		}
		for _, it := range items {
			if equal(it, item) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("argument of type '%s' is not iterable", typeName(container))
}

func undefinedOperand(a, b any) error {
	if u, ok := a.(Undefined); ok {
		return u.err()
	}
	if u, ok := b.(Undefined); ok {
		return u.err()
	}
	return nil
}

// binaryOp evaluates the arithmetic operators with Python's int/float rules.
func binaryOp(op string, a, b any) (any, error) {
	if s, ok := a.(string); ok && op == "%" {
		// str.__mod__ runs before Undefined gets a say.
		return percentFormat(s, b)
	}
	if err := undefinedOperand(a, b); err != nil {
		return nil, err
	}
	if v, ok, err := markupOp(op, a, b); ok {
		return v, err
	}
	a, b = plain(a), plain(b)
	_, aBig := a.(bigInt)
	_, bBig := b.(bigInt)
	if aBig || bBig {
		// See bigInt: only int64 arithmetic is supported.
		return nil, fmt.Errorf("unsupported operand for %s: integer outside the 64-bit range (arithmetic on it is not supported)", op)
	}
	ia, aInt := asInt(a)
	ib, bInt := asInt(b)
	fa, aNum := asFloat(a)
	fb, bNum := asFloat(b)
	bothInt := aInt && bInt
	switch op {
	case "+":
		switch {
		case bothInt:
			return checkedInt(ia+ib, (ib > 0 && ia > math.MaxInt64-ib) || (ib < 0 && ia < math.MinInt64-ib))
		case aNum && bNum:
			return fa + fb, nil
		}
		if sa, ok := a.(string); ok {
			if sb, ok := b.(string); ok {
				if len(sa)+len(sb) > maxOutput {
					return nil, fmt.Errorf("string longer than %d bytes", maxOutput)
				}
				return sa + sb, nil
			}
		}
		if la, ok := a.(*List); ok {
			if lb, ok := b.(*List); ok && la.Tuple == lb.Tuple {
				items := make([]any, 0, len(la.Items)+len(lb.Items))
				items = append(append(items, la.Items...), lb.Items...)
				return &List{Items: items, Tuple: la.Tuple}, nil
			}
		}
	case "-":
		switch {
		case bothInt:
			return checkedInt(ia-ib, (ib < 0 && ia > math.MaxInt64+ib) || (ib > 0 && ia < math.MinInt64+ib))
		case aNum && bNum:
			return fa - fb, nil
		}
	case "*":
		switch {
		case bothInt:
			return checkedInt(ia*ib, ia != 0 && ((ia*ib)/ia != ib || (ia == -1 && ib == math.MinInt64) || (ib == -1 && ia == math.MinInt64)))
		case aNum && bNum:
			return fa * fb, nil
		}
		seq, n := a, ib
		if aInt {
			seq, n = b, ia
		}
		if aInt || bInt {
			if n > 1<<20 || (n > 0 && seqLen(seq)*int(n) > maxOutput) {
				return nil, fmt.Errorf("repetition of %d items too large", n)
			}
			switch x := seq.(type) {
			case string:
				return strings.Repeat(x, int(max(n, 0))), nil
			case *List:
				items := []any{}
				for i := int64(0); i < n; i++ {
					items = append(items, x.Items...)
				}
				return &List{Items: items, Tuple: x.Tuple}, nil
			}
		}
	case "/":
		if aNum && bNum {
			if fb == 0 {
				return nil, fmt.Errorf("division by zero")
			}
			return fa / fb, nil
		}
	case "//":
		if aNum && bNum {
			if fb == 0 {
				return nil, fmt.Errorf("integer division or modulo by zero")
			}
			if bothInt {
				q := ia / ib
				if (ia%ib != 0) && ((ia < 0) != (ib < 0)) {
					q--
				}
				return q, nil
			}
			return floatFloorDiv(fa, fb), nil
		}
	case "%":
		if s, ok := a.(string); ok {
			return percentFormat(s, b)
		}
		if aNum && bNum {
			if fb == 0 {
				return nil, fmt.Errorf("integer division or modulo by zero")
			}
			if bothInt {
				m := ia % ib
				if m != 0 && ((m < 0) != (ib < 0)) {
					m += ib
				}
				return m, nil
			}
			m := math.Mod(fa, fb)
			if m != 0 && ((m < 0) != (fb < 0)) {
				m += fb
			}
			return m, nil
		}
	case "**":
		if fa == 0 && fb < 0 {
			return nil, fmt.Errorf("0.0 cannot be raised to a negative power")
		}
		if bothInt && ib >= 0 {
			return intPow(ia, ib)
		}
		if aNum && bNum {
			if fa < 0 && fb != math.Trunc(fb) {
				return nil, fmt.Errorf("negative number raised to a fractional power gives a complex number")
			}
			return math.Pow(fa, fb), nil
		}
	}
	return nil, fmt.Errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(a), typeName(b))
}

// floatFloorDiv is Python's float //, which derives the quotient from fmod
// so that 1.0 // 0.1 is 9.0, not floor(10.000000000000002).
func floatFloorDiv(a, b float64) float64 {
	mod := math.Mod(a, b)
	div := (a - mod) / b
	if mod != 0 && (b < 0) != (mod < 0) {
		div -= 1.0
	}
	if div == 0 {
		return math.Copysign(0, a/b)
	}
	floor := math.Floor(div)
	if div-floor > 0.5 {
		floor += 1.0
	}
	return floor
}

// seqLen is the size of a string or list, for guarding repetition.
func seqLen(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case *List:
		return len(x.Items)
	}
	return 0
}

// intPow is int ** int by squaring. Python would switch to big integers on
// overflow; templates never need them, so overflow is an error.
func intPow(base, exp int64) (any, error) {
	result := int64(1)
	for exp > 0 {
		if exp&1 == 1 {
			r := result * base
			if base != 0 && r/base != result {
				return nil, fmt.Errorf("integer result of ** too large")
			}
			result = r
		}
		exp >>= 1
		if exp > 0 {
			b := base * base
			if base != 0 && b/base != base {
				return nil, fmt.Errorf("integer result of ** too large")
			}
			base = b
		}
	}
	return result, nil
}

// checkedInt returns n unless the operation overflowed int64: Python would
// switch to a big integer, which templates never need, so that is an error.
func checkedInt(n int64, overflow bool) (any, error) {
	if overflow {
		return nil, fmt.Errorf("integer result out of range")
	}
	return n, nil
}
