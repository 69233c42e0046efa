package jinja

import (
	"fmt"
	"math"
	"math/big"
	"strings"
)

// bigInt is a Python int outside int64's range. Request JSON (tool
// schemas, tool-call arguments) may carry such integers, ids and hashes
// for example, and Python keeps them exact: transformers prints
// 12345678901234567890, not 1.2345678901234567e+19. Integers in int64's
// range are always int64, the common fast path, and a bigInt never is in
// that range, so each integer has one representation and the struct, being
// comparable, works as a dict or set key.
//
// bigInt prints (str, repr, tojson, %d, format), compares and sorts
// exactly against int64, float64 and bool, and is truthy, negatable and
// convertible by the int, float, abs and round filters. Arithmetic on it
// (+, -, *, /, //, %, **) is refused with a template error, as int64
// overflow already is (checkedInt): templates print such numbers, they do
// not compute with them.
type bigInt struct{ dec string }

// maxIntDigits is Python's limit on the digits of an int read from text.
const maxIntDigits = 4300

// parseBigInt reads a decimal integer literal as a template int: int64
// when it fits, otherwise bigInt.
func parseBigInt(s string) (any, bool) {
	// Python refuses to convert integers of more than 4300 digits
	// (sys.int_info.default_max_str_digits) because the conversion is
	// quadratic; a request could otherwise spend seconds on one 1 MB
	// number in its tool arguments.
	if len(strings.TrimLeft(s, "+-")) > maxIntDigits {
		return nil, false
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, false
	}
	return intValue(n), true
}

// intValue is the template value of n: int64 when it fits, else bigInt.
func intValue(n *big.Int) any {
	if n.IsInt64() {
		return n.Int64()
	}
	return bigInt{n.String()}
}

func (b bigInt) big() *big.Int {
	n, _ := new(big.Int).SetString(b.dec, 10)
	return n
}

// float is Python's float(b): the nearest float64, an error when b is
// beyond float64's range.
func (b bigInt) float() (float64, error) {
	f, _ := new(big.Float).SetInt(b.big()).Float64()
	if math.IsInf(f, 0) {
		return 0, fmt.Errorf("int too large to convert to float")
	}
	return f, nil
}

// asBig converts int64, bool and bigInt to a big.Int.
func asBig(v any) (*big.Int, bool) {
	if b, ok := v.(bigInt); ok {
		return b.big(), true
	}
	if i, ok := asInt(v); ok {
		return big.NewInt(i), true
	}
	return nil, false
}

// compareBig orders a and b when either is a bigInt and the other a
// number; ok is false otherwise. Ints compare exactly; against a float the
// comparison is exact too, as in Python (NaN is unordered: 0, unequal).
func compareBig(a, b any) (c int, isEqual, ok bool) {
	_, aBig := a.(bigInt)
	_, bBig := b.(bigInt)
	if !aBig && !bBig {
		return 0, false, false
	}
	ba, aInt := asBig(a)
	bb, bInt := asBig(b)
	switch {
	case aInt && bInt:
		c = ba.Cmp(bb)
		return c, c == 0, true
	case aInt:
		if f, isF := b.(float64); isF {
			if math.IsNaN(f) {
				return 0, false, true
			}
			c = new(big.Float).SetInt(ba).Cmp(big.NewFloat(f))
			return c, c == 0, true
		}
	case bInt:
		if f, isF := a.(float64); isF {
			if math.IsNaN(f) {
				return 0, false, true
			}
			c = big.NewFloat(f).Cmp(new(big.Float).SetInt(bb))
			return c, c == 0, true
		}
	}
	return 0, false, false
}
