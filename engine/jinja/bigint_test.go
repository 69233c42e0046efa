package jinja

import (
	"strings"
	"testing"
)

// bigIntVars holds JSON integers outside int64's range, as request tools and
// tool-call arguments may (ids, hashes).
const bigIntVars = `{"n": 12345678901234567890, "m": -9223372036854775809, "u": 18446744073709551615, "e": 10000000000000000000, "h": 1e19, "l": [3, 12345678901234567890, -1, 1.5e19], "d": {"id": 12345678901234567890, "x": [18446744073709551615, -9223372036854775809]}}`

// TestBigIntegers: integers outside int64 keep their exact value, as in
// Python. Wants are Python jinja2 3.1.6 output with transformers' tojson;
// before bigInt, DecodeJSON made them float64 and {{ n }} printed
// 1.2345678901234567e+19.
func TestBigIntegers(t *testing.T) {
	v, err := DecodeJSON([]byte(bigIntVars))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{}
	for i, k := range v.(*Dict).Keys() {
		vars[k.(string)] = v.(*Dict).Values()[i]
	}
	tests := []struct{ src, want string }{
		{"{{ n }}|{{ m }}|{{ u }}",
			"12345678901234567890|-9223372036854775809|18446744073709551615"},
		{"{{ n|string }}|{{ n|tojson }}|{{ m|tojson }}",
			"12345678901234567890|12345678901234567890|-9223372036854775809"},
		{"{{ d|tojson }}",
			"{\"id\": 12345678901234567890, \"x\": [18446744073709551615, -9223372036854775809]}"},
		{"{{ d|tojson(indent=2) }}",
			"{\n  \"id\": 12345678901234567890,\n  \"x\": [\n    18446744073709551615,\n    -9223372036854775809\n  ]\n}"},
		{"{{ d }}|{{ l }}|{{ d|string }}",
			"{'id': 12345678901234567890, 'x': [18446744073709551615, -9223372036854775809]}|[3, 12345678901234567890, -1, 1.5e+19]|{'id': 12345678901234567890, 'x': [18446744073709551615, -9223372036854775809]}"},
		{"{{ -n }}|{{ -m }}|{{ -9223372036854775808 }}|{{ +n }}",
			"-12345678901234567890|9223372036854775809|-9223372036854775808|12345678901234567890"},
		{"{{ n > 9223372036854775807 }}|{{ n < h }}|{{ e == h }}|{{ n == h }}|{{ m < -9223372036854775808 }}|{{ n == 12345678901234567890 }}|{{ n != u }}",
			"True|False|True|False|True|True|True"},
		{"{{ l|sort }}|{{ l|max }}|{{ l|min }}|{{ l|sort(reverse=true)|first }}",
			"[-1, 3, 12345678901234567890, 1.5e+19]|1.5e+19|-1|1.5e+19"},
		{"{{ n is integer }}|{{ n is number }}|{{ n is float }}|{{ n is even }}|{{ u is odd }}|{{ m is odd }}",
			"True|True|False|True|True|True"},
		{"{{ n|int }}|{{ n|float }}|{{ m|abs }}|{{ n|round }}|{{ h|int }}|{{ '12345678901234567890'|int }}|{{ -1.5e19|int }}",
			"12345678901234567890|1.2345678901234567e+19|9223372036854775809|12345678901234567890|10000000000000000000|12345678901234567890|-15000000000000000000"},
		{"{{ '%d|%s|%x|%5.1f'|format(n, n, u, e) }}|{{ '{}'.format(n) }}",
			"12345678901234567890|12345678901234567890|ffffffffffffffff|10000000000000000000.0|12345678901234567890"},
		{"{{ 'y' if n else 'n' }}|{{ n in l }}|{{ {n: 1}[12345678901234567890] }}|{{ [n, u, n]|unique|list }}",
			"y|True|1|[12345678901234567890, 18446744073709551615]"},
		{"{{ n ~ '' }}|{{ n|length if false else n|string|length }}",
			"12345678901234567890|20"},
		{"{{ e is sameas e }}|{{ 99999999999999999999999 }}",
			"True|99999999999999999999999"},
	}
	for _, tt := range tests {
		tmpl, err := Parse(tt.src)
		if err != nil {
			t.Errorf("%s: parse: %v", tt.src, err)
			continue
		}
		if got, err := tmpl.Render(vars); err != nil || got != tt.want {
			t.Errorf("%s\n got %q (%v)\nwant %q", tt.src, got, err, tt.want)
		}
	}
}

// TestBigIntegerArithmeticIsAnError: arithmetic on integers outside int64
// is refused (see bigInt), like int64 overflow, rather than done in float.
func TestBigIntegerArithmeticIsAnError(t *testing.T) {
	for _, src := range []string{
		"{{ n + 1 }}", "{{ 1 - n }}", "{{ n * 2 }}", "{{ n / 2 }}", "{{ n // 2 }}", "{{ n % 7 }}", "{{ 2 ** n }}", "{{ [n, 1]|sum }}",
	} {
		tmpl, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		out, err := tmpl.Render(map[string]any{"n": bigInt{"12345678901234567890"}})
		if err == nil || !strings.Contains(err.Error(), "64-bit range") {
			t.Errorf("%s rendered %q, %v; want an error about the 64-bit range", src, out, err)
		}
	}
}

// TestBigIntegerDigitsBounded: as Python (max_str_digits 4300), an integer
// of more digits is refused rather than converted: the conversion is
// quadratic, and a 1 MB number fits in a request's tool arguments.
func TestBigIntegerDigitsBounded(t *testing.T) {
	tests := []struct {
		digits int
		ok     bool
	}{
		{maxIntDigits, true},
		{maxIntDigits + 1, false},
		{1 << 20, false},
	}
	for _, tt := range tests {
		_, err := DecodeJSON([]byte(`{"n": 1` + strings.Repeat("0", tt.digits-1) + `}`))
		if (err == nil) != tt.ok {
			t.Errorf("%d digits: %v, want ok %v", tt.digits, err, tt.ok)
		}
	}
}
