package models

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ggufd/ggufd/engine/gguf"
)

// A model finds its vision projector beside it by name; projector files are
// never served as models themselves; mmproj: none keeps a model text-only;
// removing the projector file reloads the model without it.
func TestVisionModelsPairWithProjectors(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireBackend(t, b.name)
			e := newEnv(t, b.load, `
models:
  blind:
    file: other.gguf
    mmproj: none
`, func(models string) {
				spec, err := gguf.Preset("vision-demo")
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{"eyes.gguf", "other.gguf", "prefixed.gguf"} {
					if err := gguf.Synthesize(filepath.Join(models, name), spec); err != nil {
						t.Fatal(err)
					}
				}
				// The other naming convention, and a projector under a name
				// that pairs with nothing.
				rename(t, filepath.Join(models, "prefixed.mmproj.gguf"), filepath.Join(models, "mmproj-prefixed.gguf"))
				rename(t, filepath.Join(models, "other.mmproj.gguf"), filepath.Join(models, "stray-projector.gguf"))
			})
			var names []string
			for _, en := range e.m.Entries() {
				names = append(names, en.Name)
			}
			if got := filepath.Join(names...); got != filepath.Join("blind", "eyes", "prefixed") {
				t.Fatalf("entries = %v, want blind, eyes, prefixed (no projector served as a model)", names)
			}
			want := map[string]string{
				"blind":    "",
				"eyes":     filepath.Join(e.models, "eyes.mmproj.gguf"),
				"prefixed": filepath.Join(e.models, "mmproj-prefixed.gguf"),
			}
			for name, proj := range want {
				en, err := e.m.Lookup(name)
				if err != nil || en.Projector != proj {
					t.Errorf("%s: projector %q (%v), want %q", name, en.Projector, err, proj)
				}
			}
			l := e.acquire("eyes")
			if got := e.loads.lastOpts("eyes.gguf").Projector; got != want["eyes"] {
				t.Errorf("loaded with projector %q, want %q", got, want["eyes"])
			}
			if b.name == "engine" && !l.Model().Info().Vision {
				t.Error("the loaded model does not take images")
			}
			l.Release()

			if err := os.Remove(want["eyes"]); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "eyes to lose its projector", func() bool {
				en, err := e.m.Lookup("eyes")
				return err == nil && en.Projector == ""
			})
			l = e.acquire("eyes")
			defer l.Release()
			if n := e.loads.count("eyes.gguf"); n != 2 {
				t.Errorf("eyes loaded %d times, want a reload without the projector", n)
			}
			if got := e.loads.lastOpts("eyes.gguf").Projector; got != "" {
				t.Errorf("reloaded with projector %q", got)
			}
		})
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}
