package jinja

import (
	"errors"
	"testing"
)

// referenceCase is one template rendered by Python jinja2: want is its
// output, or err the exception it raised (we only require that we fail too).
type referenceCase struct {
	name, src, want, err string
}

func referenceGlobals(t *testing.T) map[string]any {
	t.Helper()
	v, err := DecodeJSON([]byte(referenceVars))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{}
	d := v.(*Dict)
	for i, k := range d.Keys() {
		vars[k.(string)] = d.Values()[i]
	}
	vars["raise_exception"] = Func(func(args []any, _ map[string]any) (any, error) {
		return nil, errors.New(toStr(args[0]))
	})
	return vars
}

func TestAgainstPythonJinja(t *testing.T) {
	for _, c := range referenceCases {
		t.Run(c.name, func(t *testing.T) {
			tmpl, err := Parse(c.src)
			var got string
			if err == nil {
				got, err = tmpl.Render(referenceGlobals(t))
			}
			switch {
			case c.err != "" && err == nil:
				t.Errorf("rendered %q, want error like %q", got, c.err)
			case c.err == "" && err != nil:
				t.Errorf("error %v, want %q", err, c.want)
			case c.err == "" && got != c.want:
				t.Errorf("\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
