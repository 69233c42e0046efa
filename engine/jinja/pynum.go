package jinja

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
)

// Python's int(s, base) and float(s) read numbers from text, for the int
// and float filters: jinja2's int is int(s, base), and where that raises
// ValueError, int(float(s)), so "42.23"|int is 42.

// asciiNumber is what Python parses a number from: its whitespace made a
// space and decimal digits of any script made ASCII digits ('١٢' reads as
// 12), then ASCII whitespace trimmed. Anything else outside ASCII makes
// the text no number.
func asciiNumber(s string) (string, bool) {
	if !isASCII(s) {
		var b strings.Builder
		for _, r := range s {
			if r < 0x7f {
				b.WriteRune(r)
				continue
			}
			if isSpace(r) {
				b.WriteByte(' ')
				continue
			}
			d, ok := decimalValue(r)
			if !ok {
				return "", false
			}
			b.WriteByte(byte('0' + d))
		}
		s = b.String()
	}
	// Only ASCII's own whitespace: Python does not trim U+001C..U+001F,
	// though str.isspace counts them.
	return strings.Trim(s, " \t\n\v\f\r"), true
}

// decimalValue is the value of a decimal digit (category Nd) of any
// script. Unicode encodes each script's digits as a run from 0 to 9, and
// unicode.Nd's ranges are whole runs, so it is the distance from the
// range's start, modulo 10.
func decimalValue(r rune) (int, bool) {
	if '0' <= r && r <= '9' {
		return int(r - '0'), true
	}
	if r < 0x80 || !unicode.IsDigit(r) {
		return 0, false
	}
	for _, rg := range unicode.Nd.R16 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10, true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10, true
		}
	}
	return 0, false
}

// digitsEnd returns where the run of digits (of base 10 or less) that
// starts at i ends, and false if an underscore in it is not between two
// digits: Python allows "1_000" but not "1__0", "_1" or "1_".
func digitsEnd(s string, i int) (int, bool) {
	start := i
	for i < len(s) && ('0' <= s[i] && s[i] <= '9' || s[i] == '_') {
		if s[i] == '_' && (i == start || s[i-1] == '_' || i+1 == len(s) || s[i+1] < '0' || s[i+1] > '9') {
			return i, false
		}
		i++
	}
	return i, true
}

// pyIntText is Python's int(s, base) for a str; false where Python raises
// ValueError. Base 0 reads the base from a 0x, 0o or 0b prefix; bases 16, 8
// and 2 allow their prefix too, and one underscore after it.
func pyIntText(s string, base int64) (any, bool) {
	t, ok := asciiNumber(s)
	if !ok || base != 0 && (base < 2 || base > 36) {
		return nil, false
	}
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg, t = t[0] == '-', t[1:]
	}
	zeroOnly := false
	if base == 0 {
		base = 10
		if len(t) > 1 && t[0] == '0' {
			if base = prefixBase(t[1]); base == 0 {
				// Python 2's octal "010" is an error now, but zeros
				// ("00", "0_0") still read as 0.
				base, zeroOnly = 10, true
			}
		}
	}
	if len(t) > 1 && t[0] == '0' && prefixBase(t[1]) == base {
		t = strings.TrimPrefix(t[2:], "_")
	}
	digits, ok := baseDigits(t, base)
	if !ok {
		return nil, false
	}
	// Python refuses more than 4300 digits where reading them is
	// quadratic, that is in bases that are not powers of two.
	if base&(base-1) != 0 && len(digits) > maxIntDigits {
		return nil, false
	}
	if neg {
		digits = "-" + digits
	}
	if n, err := strconv.ParseInt(digits, int(base), 64); err == nil {
		return n, !zeroOnly || n == 0
	}
	n, ok := new(big.Int).SetString(digits, int(base))
	return intValue(n), ok && !zeroOnly
}

// prefixBase is the base that a "0x", "0o" or "0b" prefix (c being its
// letter) names, or 0.
func prefixBase(c byte) int64 {
	switch c | 0x20 { // lower case
	case 'x':
		return 16
	case 'o':
		return 8
	case 'b':
		return 2
	}
	return 0
}

// baseDigits returns t's digits without its underscores, if t is digits of
// base with underscores only between them.
func baseDigits(t string, base int64) (string, bool) {
	if t == "" || t[0] == '_' || t[len(t)-1] == '_' || strings.Contains(t, "__") {
		return "", false
	}
	for i := 0; i < len(t); i++ {
		c := t[i] | 0x20 // letters lower case, digits unchanged
		var d int64
		switch {
		case t[i] == '_':
			continue
		case '0' <= t[i] && t[i] <= '9':
			d = int64(t[i] - '0')
		case 'a' <= c && c <= 'z':
			d = int64(c-'a') + 10
		default:
			return "", false
		}
		if d >= base {
			return "", false
		}
	}
	return strings.ReplaceAll(t, "_", ""), true
}

// pyFloatText is Python's float(s) for a str; false where Python raises
// ValueError. Unlike strconv.ParseFloat, Python reads no hexadecimal
// ("0x1p4"), and an overflow is infinity, not an error.
func pyFloatText(s string) (float64, bool) {
	t, ok := asciiNumber(s)
	if !ok {
		return 0, false
	}
	body := t
	if body != "" && (body[0] == '+' || body[0] == '-') {
		body = body[1:]
	}
	switch strings.ToLower(body) {
	case "inf", "infinity":
		if t[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case "nan":
		return math.NaN(), true
	}
	if !isDecimalLiteral(body) {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, true
}

// isDecimalLiteral reports whether s is digits with an optional fraction
// ("1.5", "1.", ".5") and an optional exponent ("e-3"), underscores only
// between digits.
func isDecimalLiteral(s string) bool {
	i, ok := digitsEnd(s, 0)
	if !ok {
		return false
	}
	mantissa := i > 0
	if i < len(s) && s[i] == '.' {
		j, ok := digitsEnd(s, i+1)
		if !ok {
			return false
		}
		mantissa = mantissa || j > i+1
		i = j
	}
	if !mantissa {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j, ok := digitsEnd(s, i)
		if !ok || j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

// floatToInt is Python's int(f) for a finite f: truncated, exact however
// large.
func floatToInt(f float64) any {
	if math.Abs(f) >= 1<<63 {
		n, _ := big.NewFloat(math.Trunc(f)).Int(nil)
		return intValue(n)
	}
	return int64(f)
}
