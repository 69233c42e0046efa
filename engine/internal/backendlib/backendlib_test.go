package backendlib

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestDirFor(t *testing.T) {
	for exe, want := range map[string]string{
		"/usr/local/bin/ggufd":   "/usr/local/lib/ggufd",
		"/opt/ggufd/bin/ggufd":   "/opt/ggufd/lib/ggufd",
		"/home/u/src/bin/ggufd":  "/home/u/src/lib/ggufd",
		"/tmp/x/ggufd":           "/tmp/lib/ggufd",
		"/tmp/a/bin/ggufd.test2": "/tmp/a/lib/ggufd",
	} {
		if got := DirFor(exe); got != want {
			t.Errorf("DirFor(%s) = %s, want %s", exe, got, want)
		}
	}
}

// layout builds a library folder under a fresh temp dir (0700, owned by
// us, below sticky /tmp) and applies setup to it.
type layout struct {
	name    string
	setup   func(t *testing.T, dir string)
	wantErr error // nil, ErrUntrusted or fs.ErrNotExist
	want    []Group
	base    string
}

func TestScan(t *testing.T) {
	lib := func(t *testing.T, dir, name string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("ELF"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask-proof
			t.Fatal(err)
		}
	}
	chmod := func(t *testing.T, p string, mode os.FileMode) {
		t.Helper()
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	isRoot := os.Geteuid() == 0
	cases := []layout{
		{
			name: "trusted folder with a GPU backend, CPU variants and the base",
			setup: func(t *testing.T, dir string) {
				lib(t, dir, "libggml-base.so.0.0.0", 0o644)
				if err := os.Symlink("libggml-base.so.0.0.0", filepath.Join(dir, "libggml-base.so.0")); err != nil {
					t.Fatal(err)
				}
				lib(t, dir, "libggml-cuda.so", 0o755)
				lib(t, dir, "libggml-cpu-haswell.so", 0o644)
				lib(t, dir, "libggml-cpu-x64.so", 0o644)
				lib(t, dir, "README", 0o644)
			},
			base: "libggml-base.so.0",
			want: []Group{
				{Backend: "cpu", Libs: []Library{{"cpu", "haswell", "libggml-cpu-haswell.so"}, {"cpu", "x64", "libggml-cpu-x64.so"}}},
				{Backend: "cuda", Libs: []Library{{"cuda", "", "libggml-cuda.so"}}},
			},
		},
		{
			name:    "world-writable folder",
			setup:   func(t *testing.T, dir string) { lib(t, dir, "libggml-cuda.so", 0o644); chmod(t, dir, 0o777) },
			wantErr: ErrUntrusted,
		},
		{
			name:    "group-writable folder",
			setup:   func(t *testing.T, dir string) { lib(t, dir, "libggml-cuda.so", 0o644); chmod(t, dir, 0o775) },
			wantErr: ErrUntrusted,
		},
		{
			name:    "world-writable library",
			setup:   func(t *testing.T, dir string) { lib(t, dir, "libggml-cuda.so", 0o666) },
			wantErr: ErrUntrusted,
		},
		{
			name:    "world-writable file that is not a backend (a dependency could be)",
			setup:   func(t *testing.T, dir string) { lib(t, dir, "libcudart.so.11.0", 0o646) },
			wantErr: ErrUntrusted,
		},
		{
			name: "symlink out of the folder",
			setup: func(t *testing.T, dir string) {
				other := t.TempDir()
				lib(t, other, "x.so", 0o644)
				if err := os.Symlink(filepath.Join(other, "x.so"), filepath.Join(dir, "libggml-cuda.so")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrUntrusted,
		},
		{
			name: "folder inside a world-writable (not sticky) folder",
			setup: func(t *testing.T, dir string) {
				lib(t, dir, "libggml-cuda.so", 0o644)
				chmod(t, filepath.Dir(dir), 0o777)
			},
			wantErr: ErrUntrusted,
		},
		{
			name: "folder inside a sticky world-writable folder",
			setup: func(t *testing.T, dir string) {
				lib(t, dir, "libggml-cuda.so", 0o644)
				chmod(t, filepath.Dir(dir), 0o777|os.ModeSticky)
			},
			want: []Group{{Backend: "cuda", Libs: []Library{{"cuda", "", "libggml-cuda.so"}}}},
		},
		{
			name:    "missing folder",
			setup:   func(t *testing.T, dir string) { os.RemoveAll(dir) },
			wantErr: fs.ErrNotExist,
		},
	}
	if isRoot {
		cases = append(cases,
			layout{
				name: "library owned by another user",
				setup: func(t *testing.T, dir string) {
					lib(t, dir, "libggml-cuda.so", 0o644)
					if err := os.Chown(filepath.Join(dir, "libggml-cuda.so"), 4242, 4242); err != nil {
						t.Fatal(err)
					}
				},
				wantErr: ErrUntrusted,
			},
			layout{
				name: "folder owned by another user",
				setup: func(t *testing.T, dir string) {
					lib(t, dir, "libggml-cuda.so", 0o644)
					if err := os.Chown(dir, 4242, 4242); err != nil {
						t.Fatal(err)
					}
				},
				wantErr: ErrUntrusted,
			})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := filepath.Join(t.TempDir(), "prefix")
			dir := filepath.Join(parent, "lib")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			chmod(t, parent, 0o755)
			chmod(t, dir, 0o755)
			c.setup(t, dir)
			got, err := Scan(dir)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Scan = %+v, %v; want an error wrapping %v", got, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range c.want {
				for j := range c.want[i].Libs {
					c.want[i].Libs[j].Path = filepath.Join(got.Dir, c.want[i].Libs[j].Path)
				}
			}
			if !reflect.DeepEqual(got.Groups, c.want) {
				t.Errorf("groups = %+v\nwant     %+v", got.Groups, c.want)
			}
			wantBase := ""
			if c.base != "" {
				wantBase = filepath.Join(got.Dir, c.base)
			}
			if got.Base != wantBase {
				t.Errorf("base = %q, want %q", got.Base, wantBase)
			}
		})
	}
}
