package jinja

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"sync"
	"testing"
)

func TestDecodeJSONKeepsOrder(t *testing.T) {
	v, err := DecodeJSON([]byte(`{"z": 1, "a": {"y": [1, 2.0, "x", null, true]}, "m": -3e2}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ToJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"z": 1, "a": {"y": [1, 2.0, "x", null, true]}, "m": -300.0}`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	for _, bad := range []string{`{"a":`, `[1,]`, `1 2`, ``} {
		if _, err := DecodeJSON([]byte(bad)); err == nil {
			t.Errorf("DecodeJSON(%q) succeeded", bad)
		}
	}
}

// TestDecodeJSONOutOfRange: Python's json.loads reads a number beyond
// float64's range as infinity, as float() does; DecodeJSON refused it. want
// is what Python jinja2 3.1.6 renders for "{{ v }}|{{ v|tojson }}" with
// v = json.loads(json) and transformers' tojson.
func TestDecodeJSONOutOfRange(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"overflow and underflow", `[1e400, -1e400, 1e-400, 2.5]`, "[inf, -inf, 0.0, 2.5]|[Infinity, -Infinity, 0.0, 2.5]"},
		{"in an object", `{"max": 1E+309}`, `{'max': inf}|{"max": Infinity}`},
		{"past the integer digit limit", strings.Repeat("1", 4301), ""}, // json.loads: ValueError
		// Not JSON, though json.loads reads them: DecodeJSON, which reads
		// request JSON, keeps to the JSON grammar.
		{"NaN token", `NaN`, ""},
		{"Infinity token", `[-Infinity]`, ""},
	}
	tmpl, err := Parse("{{ v }}|{{ v|tojson }}")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := DecodeJSON([]byte(tt.json))
			if tt.want == "" {
				if err == nil {
					t.Fatalf("DecodeJSON(%.20s) = %v, want an error", tt.json, v)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := tmpl.Render(map[string]any{"v": v}); err != nil || got != tt.want {
				t.Errorf("rendered %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestDecodeJSONDepth: request JSON that templates print is nested at most
// MaxJSONDepth levels; deeper, tojson(indent) grew with the square of the
// depth (2.1 GB for an 18 KB tool schema).
func TestDecodeJSONDepth(t *testing.T) {
	nest := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
	}
	objects := func(n int) string { return nest(`{"a":`, `}`, n) }
	tests := []struct {
		name string
		json string
		ok   bool
	}{
		{"arrays at the limit", nest("[", "]", MaxJSONDepth), true},
		{"arrays past it", nest("[", "]", MaxJSONDepth+1), false},
		{"objects at the limit", objects(MaxJSONDepth), true},
		{"objects past it", objects(MaxJSONDepth + 1), false},
		{"mixed, half a million deep", nest(`{"a":[`, `]}`, 250_000), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeJSON([]byte(tt.json))
			if (err == nil) != tt.ok {
				t.Fatalf("DecodeJSON: %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestFromGo(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{map[string]any{"b": 1, "a": []int{1, 2}}, "{'a': [1, 2], 'b': 1}"},
		{[]string{"x"}, "['x']"},
		{uint8(7), "7"},
		{float32(0.5), "0.5"},
		{[]map[string]any{{"k": nil}}, "[{'k': None}]"},
		{map[string]string{"s": "t"}, "{'s': 't'}"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{new(big.Int).Lsh(big.NewInt(1), 70), "1180591620717411303424"},
		{big.NewInt(-5), "-5"},
	}
	tmpl, err := Parse("{{ v }}")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		got, err := tmpl.Render(map[string]any{"v": tt.in})
		if err != nil || got != tt.want {
			t.Errorf("FromGo(%#v) printed %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatFloat(t *testing.T) {
	tests := map[float64]string{
		0: "0.0", 1: "1.0", -2.5: "-2.5", 0.1: "0.1", 1e16: "1e+16", 1e15: "1000000000000000.0",
		1e-4: "0.0001", 1e-5: "1e-05", 123456789.125: "123456789.125", 1.5e300: "1.5e+300",
	}
	for f, want := range tests {
		if got := formatFloat(f); got != want {
			t.Errorf("formatFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestConcurrentRender(t *testing.T) {
	tmpl, err := Parse("{% set ns = namespace(n=0) %}{% for x in xs %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			xs := []any{i, i, i}
			for j := 0; j < 100; j++ {
				got, err := tmpl.Render(map[string]any{"xs": xs})
				if want := fmt.Sprint(3 * i); err != nil || got != want {
					t.Errorf("got %q, %v; want %q", got, err, want)
					return
				}
			}
		}(i)
	}
	wg.Wait()
}

func TestIntegerOverflowIsAnError(t *testing.T) {
	for _, src := range []string{
		"{{ 9223372036854775807 + 1 }}", "{{ -9223372036854775807 - 2 }}", "{{ 4611686018427387904 * 2 }}", "{{ 3 ** 40 }}",
	} {
		tmpl, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := tmpl.Render(nil); err == nil {
			t.Errorf("%s rendered %q, want an overflow error", src, out)
		}
	}
}

// TestReprKeepsReplacementCharacter: Python prints U+FFFD in a repr as the
// character (it is printable, category So); it was escaped as \ufffd, so a
// tool definition holding it (Apriel prints tools with |string) differed.
func TestReprKeepsReplacementCharacter(t *testing.T) {
	tests := []struct{ src, want string }{
		{"{{ ['a\uFFFDb'] }}", "['a\uFFFDb']"},
		{"{{ {'k': '\uFFFD'}|string }}", "{'k': '\uFFFD'}"},
		{"{{ ['\u00A0'] }}", `['\xa0']`}, // not printable to Python: still escaped
	}
	for _, tt := range tests {
		tmpl, err := Parse(tt.src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tmpl.Render(nil)
		if err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}
}
