// Package withmeta gives tests a shared model with metadata its file lacks.
// It is apart from sharedtest because it uses engine/gguf, whose own tests
// use sharedtest.
package withmeta

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ggufd/ggufd/engine/gguf"
	"github.com/ggufd/ggufd/internal/sharedtest"
)

// Model copies ../shared/models/name into the test's temporary folder
// with kvs set in its metadata (added, or replacing keys it has) and
// returns the copy's path: a real model given a property its file lacks,
// such as fill-in-the-middle tokens.
func Model(tb testing.TB, name string, kvs ...gguf.KV) string {
	tb.Helper()
	src := sharedtest.Model(tb, name)
	f, err := gguf.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	meta := make([]gguf.KV, 0, len(f.KVs)+len(kvs))
	set := map[string]bool{}
	for _, kv := range kvs {
		set[kv.Key] = true
	}
	for _, kv := range f.KVs {
		if !set[kv.Key] {
			meta = append(meta, kv)
		}
	}
	meta = append(meta, kvs...)
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	tensors := make([]gguf.WriteTensor, len(f.Tensors))
	for i, t := range f.Tensors {
		tensors[i] = gguf.WriteTensor{Name: t.Name, Dims: t.Dims, Type: t.Type, Fill: func(w io.Writer) error {
			_, err := io.Copy(w, io.NewSectionReader(in, f.DataOffset+int64(t.Offset), int64(t.Size)))
			return err
		}}
	}
	dst := filepath.Join(tb.TempDir(), name)
	out, err := os.Create(dst)
	if err != nil {
		tb.Fatal(err)
	}
	if err := gguf.Write(out, meta, tensors); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	return dst
}
