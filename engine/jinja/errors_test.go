package jinja

import (
	"errors"
	"strings"
	"testing"
)

func TestErrorPositions(t *testing.T) {
	tests := []struct {
		name, src string
		parse     bool   // fails at Parse rather than Render
		want      string // substring of the error
		pos       Pos
	}{
		{"unknown tag", "a\n\n  {% frob %}", true, "unknown tag 'frob'", Pos{3, 6}},
		{"unclosed if", "{% if x %}\nbody", true, "expected 'elif'", Pos{2, 5}},
		{"bad expression", "line\n{{ 1 + }}", true, "unexpected end of statement", Pos{2, 8}},
		{"unterminated string", "{{ 'abc }}", true, "unterminated string", Pos{1, 4}},
		{"unterminated comment", "x {# y", true, "unterminated comment", Pos{1, 3}},
		{"stray endfor", "{% endfor %}", true, "unexpected 'endfor'", Pos{1, 4}},
		{"undefined attribute", "ok\n{{ nothing.here }}", false, "'nothing' is undefined", Pos{2, 11}},
		{"type error", "\n\n{{ 1 + 'a' }}", false, "unsupported operand", Pos{3, 6}},
		{"unsafe method", "{% set l = [] %}\n{{ l.append(1) }}", false, "unsafe", Pos{2, 5}},
		{"unknown filter", "{{ 1 | nope }}", false, "no filter named 'nope'", Pos{1, 8}},
		{"raise", "{% if true %}\n  {{ raise_exception('bad role') }}\n{% endif %}", false, "bad role", Pos{2, 6}},
		{"not iterable", "{% for x in 3 %}{% endfor %}", false, "not iterable", Pos{1, 4}},
	}
	vars := map[string]any{"raise_exception": Func(func(args []any, _ map[string]any) (any, error) {
		return nil, errors.New(toStr(args[0]))
	})}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse(tt.src)
			if tt.parse {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("Parse error = %v, want a SyntaxError", err)
				}
				if se.Pos != tt.pos || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("got %v at %v, want %q at %v", err, se.Pos, tt.want, tt.pos)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err = tmpl.Render(vars)
			var re *RenderError
			if !errors.As(err, &re) {
				t.Fatalf("Render error = %v, want a RenderError", err)
			}
			if re.Pos != tt.pos || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v at %v, want %q at %v", err, re.Pos, tt.want, tt.pos)
			}
		})
	}
}

func TestRecursionIsAnError(t *testing.T) {
	tmpl, err := Parse("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.Render(nil); err == nil || !strings.Contains(err.Error(), "recursion") {
		t.Fatalf("got %v, want a recursion error", err)
	}
}

func TestRunawayTemplatesFail(t *testing.T) {
	tests := map[string]string{
		"loops":      "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
		"repetition": "{{ 'x' * 1000000 * 1000 }}",
		"output":     "{% set s = 'x' * 1000000 %}{% for i in range(100) %}{{ s }}{% endfor %}",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl, err := Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tmpl.Render(nil); err == nil {
				t.Fatal("rendered without error")
			}
		})
	}
}
