package gguf

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedModel returns the path of a test model in ../shared/models relative
// to the repository root (the folder holding go.mod), failing the test with
// a clear message when it is missing.
func sharedModel(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above %s: cannot locate ../shared/models", dir)
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "models", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test model missing: %v (the tests need the shared test models in ../shared/models next to the repository)", err)
	}
	return p
}
