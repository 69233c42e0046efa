// Package plantlib builds stand-in ggml backend libraries for tests of where
// ggufd loads backend libraries from: a library records, in files beside
// itself, that the dynamic loader ran its constructor and that ggml called its
// ggml_backend_init.
package plantlib

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

const source = `#include <stdio.h>
static void mark(const char *suffix) {
	char p[4096];
	snprintf(p, sizeof p, "%s%s", LIB_PATH, suffix);
	FILE *f = fopen(p, "w");
	if (f) fclose(f);
}
__attribute__((constructor)) static void loaded(void) { mark(".loaded"); }
#ifdef SCORE
int ggml_backend_score(void) { return SCORE; }
#endif
void *ggml_backend_init(void) { mark(".init"); return 0; }
`

// Build compiles a library to path (mode 0644). score < 0 leaves out
// ggml_backend_score; otherwise it returns score.
func Build(t testing.TB, path string, score int) {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	src := filepath.Join(t.TempDir(), "plant.c")
	if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-shared", "-fPIC", "-o", path, src, "-DLIB_PATH=" + strconv.Quote(path)}
	if score >= 0 {
		args = append(args, "-DSCORE="+strconv.Itoa(score))
	}
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", path, err, out)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Loaded reports whether the library at path was loaded into a process.
func Loaded(path string) bool { return exists(path + ".loaded") }

// Initialised reports whether ggml called the library's ggml_backend_init.
func Initialised(path string) bool { return exists(path + ".init") }

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
