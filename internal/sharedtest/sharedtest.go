// Package sharedtest finds the shared test data (real tiny GGUF models and
// chat templates) that lives beside the repository in ../shared.
package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the absolute path of ../shared (relative to the repository
// root), failing the test with a clear message when it is missing.
func Dir(tb testing.TB) string {
	tb.Helper()
	root, err := repoRoot()
	if err != nil {
		tb.Fatalf("sharedtest: cannot find the repository root: %v", err)
	}
	dir := filepath.Join(filepath.Dir(root), "shared")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		tb.Fatalf("sharedtest: test data folder %s is missing: these tests need ../shared (models/, chat-templates/) beside the repository", dir)
	}
	return dir
}

// Model returns the path of ../shared/models/name.
func Model(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(Dir(tb), "models", name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("sharedtest: model %s is missing from ../shared/models: %v", name, err)
	}
	return p
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
