package llamacpp

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ggufd/ggufd/internal/plantlib"
)

// These tests dlopen stand-in libraries into the test process: each records
// whether its constructor ran (it was loaded) and whether ggml called its
// ggml_backend_init (ggml chose it).
func TestLoadBackends(t *testing.T) {
	type lib struct {
		name  string
		score int // -1: no ggml_backend_score
	}
	cases := []struct {
		name     string
		dirMode  os.FileMode
		libs     []lib
		loaded   []string // libraries whose constructor must have run
		inited   []string // libraries ggml must have initialised
		problems []string // substrings expected in the problems
	}{
		{
			name:     "trusted folder: base then GPU backend",
			dirMode:  0o755,
			libs:     []lib{{"libggml-base.so.0", -1}, {"libggml-cuda.so", -1}},
			loaded:   []string{"libggml-base.so.0", "libggml-cuda.so"},
			inited:   []string{"libggml-cuda.so"},
			problems: []string{"ggml could not load libggml-cuda.so"}, // the stand-in's init returns NULL
		},
		{
			name:     "CPU variants: only the best-scoring one is initialised",
			dirMode:  0o755,
			libs:     []lib{{"libggml-base.so.0", -1}, {"libggml-cpu-a.so", 3}, {"libggml-cpu-b.so", 7}, {"libggml-cpu-c.so", 0}},
			loaded:   []string{"libggml-base.so.0", "libggml-cpu-a.so", "libggml-cpu-b.so", "libggml-cpu-c.so"},
			inited:   []string{"libggml-cpu-b.so"},
			problems: []string{"ggml could not load libggml-cpu-b.so"},
		},
		{
			name:     "world-writable folder: nothing is loaded",
			dirMode:  0o777,
			libs:     []lib{{"libggml-base.so.0", -1}, {"libggml-cuda.so", -1}},
			problems: []string{"refused", "writable by group or others"},
		},
		{
			name:     "group-writable folder: nothing is loaded",
			dirMode:  0o770,
			libs:     []lib{{"libggml-base.so.0", -1}, {"libggml-cuda.so", -1}},
			problems: []string{"refused", "writable by group or others"},
		},
		{
			name:     "backend without the ggml base: not loaded",
			dirMode:  0o755,
			libs:     []lib{{"libggml-cuda.so", -1}},
			problems: []string{"no libggml-base.so.0"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "lib", "ggufd")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, l := range c.libs {
				plantlib.Build(t, filepath.Join(dir, l.name), l.score)
			}
			if err := os.Chmod(dir, c.dirMode); err != nil {
				t.Fatal(err)
			}
			st := loadBackends(dir)
			for _, l := range c.libs {
				p := filepath.Join(dir, l.name)
				if want := slices.Contains(c.loaded, l.name); plantlib.Loaded(p) != want {
					t.Errorf("%s loaded = %v, want %v", l.name, !want, want)
				}
				if want := slices.Contains(c.inited, l.name); plantlib.Initialised(p) != want {
					t.Errorf("%s initialised = %v, want %v", l.name, !want, want)
				}
			}
			all := strings.Join(st.Problems, "\n")
			for _, p := range c.problems {
				if !strings.Contains(all, p) {
					t.Errorf("problems %q do not mention %q", st.Problems, p)
				}
			}
			if len(c.problems) == 0 && len(st.Problems) > 0 {
				t.Errorf("unexpected problems %q", st.Problems)
			}
			if len(st.Loaded) != 0 {
				t.Errorf("Loaded = %v: no stand-in registers a backend", st.Loaded)
			}
		})
	}
}
