package jinja

import (
	"testing"
)

// FuzzTemplate checks that no source, however malformed, makes Parse or
// Render panic (go test -fuzz FuzzTemplate ./engine/jinja).
func FuzzTemplate(f *testing.F) {
	for _, c := range referenceCases {
		f.Add(c.src)
	}
	f.Add("{% raw %}{{ x }}{%- endraw -%}")
	f.Add("{{ range }}{{ [namespace, joiner()] }}") // once recursed forever
	f.Add("{{ 2 ** 222222222222 }}")                // once looped for hours
	f.Add("{{ 'a' ~ x[1:2:0] }}{% for a, b in d.items() recursive %}{{ loop(b) }}{% endfor %}")
	f.Fuzz(func(t *testing.T, src string) {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("panic on %q: %v", src, p)
			}
		}()
		tmpl, err := Parse(src)
		if err != nil {
			return
		}
		vars := map[string]any{"xs": []any{1, "a", nil}, "d": map[string]any{"k": []any{1.5}}, "s": "héllo"}
		if _, err := tmpl.Render(vars); err != nil && err.Error() == "" {
			t.Fatal("empty error message")
		}
	})
}
