// Package backendlib decides which ggml backend libraries (libggml-*.so:
// GPU backends, CPU variants) ggufd may load, and from where.
//
// A library that ggufd dlopens runs its constructors inside the daemon, with
// the daemon's keys and accounts database. So ggufd looks in exactly one
// folder, <prefix>/lib/ggufd for a binary at <prefix>/bin/ggufd (the real
// path of the executable, symlinks resolved), and only when nobody but root
// or the running user can change what is in it: that folder and every folder
// above it owned by root or the running user and not writable by group or
// others (a sticky folder such as /tmp is allowed above it), and every file
// in it owned the same way and not writable by group or others. Otherwise the
// whole folder is refused and ggufd runs on its built-in CPU backend.
//
// Ollama's loader, which this replaces, looked in <binary>/../lib/ollama
// (and OLLAMA_LIBRARY_PATH); for a binary in a temporary folder that sibling
// folder is one any local user can create.
package backendlib

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
)

// DirName is the folder under <prefix>/lib that holds ggufd's libraries.
const DirName = "ggufd"

// Dir is the one folder ggufd loads backend libraries from:
// <prefix>/lib/ggufd for the real executable <prefix>/bin/ggufd.
func Dir() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the executable: %w", err)
	}
	real, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return "", fmt.Errorf("resolve the executable %s: %w", exe, err)
	}
	return DirFor(real), nil
}

// DirFor is Dir for an executable at the given (resolved) path.
func DirFor(exe string) string {
	return filepath.Join(filepath.Dir(filepath.Dir(exe)), "lib", DirName)
}

// Library is one loadable backend file: libggml-<Backend>[-<Variant>].so.
type Library struct {
	Backend string // "cuda", "cpu", "vulkan", …
	Variant string // "" or e.g. "haswell" for libggml-cpu-haswell.so
	Path    string
}

// Group is the files of one backend. A group with several files holds
// variants (the CPU backend built for several instruction sets); the loader
// picks the one whose ggml_backend_score is highest on this machine.
type Group struct {
	Backend string
	Libs    []Library
}

// Found is what a trusted folder holds.
type Found struct {
	Dir string
	// Base is libggml-base (which every backend library needs), "" if absent.
	Base   string
	Groups []Group
}

// ErrUntrusted marks a folder or file that others could have written.
var ErrUntrusted = errors.New("not trusted")

var (
	backendName = regexp.MustCompile(`^libggml-([a-z0-9]+)(?:-([A-Za-z0-9_]+))?\.so$`)
	baseName    = regexp.MustCompile(`^libggml-base\.so(\.[0-9]+)*$`)
)

// Scan checks that dir is trusted (see the package comment) and lists the
// backend libraries in it. A missing folder is an error wrapping
// fs.ErrNotExist; an untrusted one wraps ErrUntrusted and says why.
func Scan(dir string) (Found, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return Found{}, fmt.Errorf("backend library folder %s: %w", dir, err)
	}
	uid := os.Geteuid()
	if err := checkFolder(real, uid); err != nil {
		return Found{}, err
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return Found{}, fmt.Errorf("read backend library folder %s: %w", real, err)
	}
	found := Found{Dir: real}
	groups := map[string][]Library{}
	for _, e := range entries {
		if e.IsDir() {
			continue // not scanned, nothing in it is loaded by name
		}
		path := filepath.Join(real, e.Name())
		if err := checkFile(real, path, uid); err != nil {
			return Found{}, err
		}
		name := e.Name()
		if baseName.MatchString(name) {
			// The soname (libggml-base.so.0) is what backend libraries name
			// as their dependency; prefer it to the development symlink.
			if found.Base == "" || strings.Count(name, ".") == 2 {
				found.Base = path
			}
			continue
		}
		if m := backendName.FindStringSubmatch(name); m != nil {
			groups[m[1]] = append(groups[m[1]], Library{Backend: m[1], Variant: m[2], Path: path})
		}
	}
	for _, b := range slices.Sorted(maps.Keys(groups)) {
		found.Groups = append(found.Groups, Group{Backend: b, Libs: groups[b]})
	}
	return found, nil
}

// checkFolder checks dir and every folder above it.
func checkFolder(dir string, uid int) error {
	for p, leaf := dir, true; ; p, leaf = filepath.Dir(p), false {
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("backend library folder %s: %w", p, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("backend library folder: %s is not a folder: %w", p, ErrUntrusted)
		}
		// Others may write a sticky folder above ours (/tmp) but cannot
		// rename or replace what they do not own in it.
		stickyAbove := !leaf && fi.Mode()&os.ModeSticky != 0
		if err := checkOwner(p, fi, uid, stickyAbove); err != nil {
			return err
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// checkFile checks a file in dir; a symlink must point to a file in dir.
func checkFile(dir, path string, uid int) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("backend library %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return fmt.Errorf("backend library %s: %w", path, err)
		}
		if filepath.Dir(target) != dir {
			return fmt.Errorf("backend library %s links outside %s (to %s): %w", path, dir, target, ErrUntrusted)
		}
		if fi, err = os.Lstat(target); err != nil {
			return fmt.Errorf("backend library %s: %w", target, err)
		}
		path = target
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("backend library folder holds %s, which is not a regular file: %w", path, ErrUntrusted)
	}
	return checkOwner(path, fi, uid, false)
}

func checkOwner(path string, fi fs.FileInfo, uid int, othersMayWrite bool) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: cannot read its owner: %w", path, ErrUntrusted)
	}
	if st.Uid != 0 && int(st.Uid) != uid {
		return fmt.Errorf("%s is owned by uid %d, not by root or the running user (uid %d): %w", path, st.Uid, uid, ErrUntrusted)
	}
	if !othersMayWrite && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %04o): %w", path, fi.Mode().Perm(), ErrUntrusted)
	}
	return nil
}
