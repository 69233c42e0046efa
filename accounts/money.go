package accounts

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Money is an amount in micro-units (1e-6) of the configured currency. Integer
// arithmetic keeps sums exact; int64 micro-units reach ±9.2e12 currency units.
type Money int64

// MicrosPerUnit is how many Money make one currency unit.
const MicrosPerUnit = 1_000_000

// MaxBalance is the most an account may hold, and the most a top-up may
// add or take away: a trillion currency units. It keeps balances, and the
// sums of top-ups and costs behind them, far inside Money's int64 range, so
// no arithmetic on them can overflow.
const MaxBalance = Money(1_000_000_000_000 * MicrosPerUnit)

// ParseMoney reads a decimal amount such as "12", "-0.5" or "0.000125" exactly,
// without passing through a float. More than six decimals is an error rather
// than a silent rounding.
func ParseMoney(s string) (Money, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("parse amount: empty")
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("parse amount %q: no digits", s)
	}
	if len(frac) > 6 {
		return 0, fmt.Errorf("parse amount %q: more than 6 decimals", s)
	}
	for _, part := range []string{whole, frac} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return 0, fmt.Errorf("parse amount %q: not a decimal number", s)
			}
		}
	}
	var w int64
	if whole != "" {
		var err error
		if w, err = strconv.ParseInt(whole, 10, 64); err != nil || w > math.MaxInt64/MicrosPerUnit-1 {
			return 0, fmt.Errorf("parse amount %q: out of range", s)
		}
	}
	f := int64(0)
	if frac != "" {
		frac += strings.Repeat("0", 6-len(frac))
		f, _ = strconv.ParseInt(frac, 10, 64)
	}
	m := Money(w*MicrosPerUnit + f)
	if neg {
		m = -m
	}
	return m, nil
}

// MoneyFromFloat converts a configured price (YAML numbers arrive as float64)
// to the nearest micro-unit. It is a single conversion, never accumulated.
func MoneyFromFloat(f float64) Money {
	return Money(math.Round(f * MicrosPerUnit))
}

// String renders the amount as a plain decimal with trailing zeros trimmed
// ("12.5", "0.000125", "-3").
func (m Money) String() string {
	neg := m < 0
	u := uint64(m)
	if neg {
		u = uint64(-m)
	}
	s := strconv.FormatUint(u/MicrosPerUnit, 10)
	if frac := u % MicrosPerUnit; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%06d", frac), "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Float is for display only (e.g. charts); never add Floats.
func (m Money) Float() float64 { return float64(m) / MicrosPerUnit }

// MarshalJSON writes a JSON number with the exact decimal digits.
func (m Money) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalJSON accepts a JSON number or a quoted decimal string.
func (m *Money) UnmarshalJSON(b []byte) error {
	v, err := ParseMoney(strings.Trim(string(b), `"`))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
