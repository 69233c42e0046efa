package llamacpp

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include "ggml-backend.h"

extern void ggufdLog(int level, char *text, void *user_data);

typedef void (*ggufd_log_set_t)(ggml_log_callback, void *);
typedef int (*ggufd_score_t)(void);

static const char *ggufd_dlerror(void) {
	const char *e = dlerror();
	return e ? e : "unknown dlopen error";
}

// ggufd_open_base loads the shared ggml base that backend libraries link
// against, by its full path (so their dependency on libggml-base.so.0 is
// satisfied by this file and no search path is consulted), and routes its
// log (e.g. "no CUDA-capable device is detected") to ggufd's log. The handle
// is kept for the life of the process.
static const char *ggufd_open_base(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) return ggufd_dlerror();
	ggufd_log_set_t set = (ggufd_log_set_t)dlsym(h, "ggml_log_set");
	if (set) set((ggml_log_callback)ggufdLog, NULL);
	return NULL;
}

// ggufd_backend_score is ggml's own test of whether a backend variant can run
// on this CPU/driver (0: it cannot; higher: better). A library without a
// score function gets 1: it is usable, and any scored variant beats it.
static int ggufd_backend_score(const char *path, const char **err) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) { *err = ggufd_dlerror(); return -1; }
	ggufd_score_t score = (ggufd_score_t)dlsym(h, "ggml_backend_score");
	int s = score ? score() : 1;
	dlclose(h);
	return s;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"github.com/ggufd/ggufd/engine/internal/backendlib"
)

// BackendStatus says what loadBackends did, for the startup log and /health.
type BackendStatus struct {
	// Dir is the one folder backend libraries are loaded from.
	Dir string
	// Loaded are the file names of the libraries ggml registered.
	Loaded []string
	// Problems say why the folder or a library in it was not used.
	Problems []string
}

var (
	backendMu     sync.Mutex
	backendStatus BackendStatus
)

// Backends reports what Init loaded; it calls Init.
func Backends() BackendStatus {
	Init()
	backendMu.Lock()
	defer backendMu.Unlock()
	s := backendStatus
	s.Loaded = append([]string(nil), s.Loaded...)
	s.Problems = append([]string(nil), s.Problems...)
	return s
}

// loadDefaultBackends loads the backend libraries of ggufd's own folder.
// It replaces Ollama's ggml.OnceLoad, which looked in <binary>/../lib/ollama
// and OLLAMA_LIBRARY_PATH (see package backendlib). The CPU backend is
// linked into the binary, so with nothing loaded ggufd serves on the CPU.
func loadDefaultBackends() {
	dir, err := backendlib.Dir()
	if err != nil {
		recordBackends(BackendStatus{Problems: []string{err.Error()}})
		return
	}
	recordBackends(loadBackends(dir))
}

func recordBackends(s BackendStatus) {
	backendMu.Lock()
	backendStatus = s
	backendMu.Unlock()
	for _, p := range s.Problems {
		slog.Warn("backend libraries", "dir", s.Dir, "problem", p)
	}
	for _, l := range s.Loaded {
		slog.Info("backend library loaded", "file", l, "dir", s.Dir)
	}
}

// loadBackends loads what dir holds once backendlib trusts it: the ggml
// base first, then each backend (for variants, the one ggml scores best on
// this machine). Nothing outside dir is read.
func loadBackends(dir string) BackendStatus {
	st := BackendStatus{Dir: dir}
	found, err := backendlib.Scan(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st // no GPU backend installed: the normal CPU-only case
	case err != nil:
		st.Problems = append(st.Problems, "refused, serving on the built-in CPU backend: "+err.Error())
		return st
	}
	st.Dir = found.Dir
	if len(found.Groups) == 0 {
		return st
	}
	if found.Base == "" {
		st.Problems = append(st.Problems, "no libggml-base.so.0 beside the backend libraries; not loading them")
		return st
	}
	if msg := withCString(found.Base, func(p *C.char) *C.char { return C.ggufd_open_base(p) }); msg != nil {
		st.Problems = append(st.Problems, fmt.Sprintf("load %s: %s", filepath.Base(found.Base), C.GoString(msg)))
		return st
	}
	for _, g := range found.Groups {
		lib, problem := bestVariant(g)
		if problem != "" {
			st.Problems = append(st.Problems, problem)
		}
		if lib == "" {
			continue
		}
		reg := withCString(lib, func(p *C.char) C.ggml_backend_reg_t { return C.ggml_backend_load(p) })
		if reg == nil {
			st.Problems = append(st.Problems, fmt.Sprintf("ggml could not load %s (see the log above)", filepath.Base(lib)))
			continue
		}
		st.Loaded = append(st.Loaded, filepath.Base(lib))
	}
	return st
}

// bestVariant picks the file of g to load: the only one, or the variant
// with the highest ggml_backend_score (0 means it cannot run here).
func bestVariant(g backendlib.Group) (path, problem string) {
	if len(g.Libs) == 1 {
		return g.Libs[0].Path, ""
	}
	best, bestScore := "", 0
	var failed []string
	for _, l := range g.Libs {
		var cerr *C.char
		s := int(withCString(l.Path, func(p *C.char) C.int { return C.ggufd_backend_score(p, &cerr) }))
		if s < 0 {
			failed = append(failed, filepath.Base(l.Path)+": "+C.GoString(cerr))
			continue
		}
		if s > bestScore {
			best, bestScore = l.Path, s
		}
	}
	if len(failed) > 0 {
		problem = "could not open " + strings.Join(failed, "; ")
	}
	if best == "" && problem == "" {
		problem = fmt.Sprintf("no %s variant can run on this machine", g.Backend)
	}
	return best, problem
}

func withCString[T any](s string, f func(*C.char) T) T {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	return f(cs)
}
