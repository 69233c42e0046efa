package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ggufd/ggufd/internal/sharedtest"
)

func TestOpenSharedModels(t *testing.T) {
	tests := []struct {
		file        string
		name        string
		ctx         int
		embd        int
		layers      int
		heads       int
		headsKV     int
		vocab       int
		tensors     int
		params      uint64
		tensorBytes uint64
		template    bool
	}{
		{"stories260K.gguf", "llama", 2048, 64, 5, 8, 4, 512, 48, 292800, 1171200, false},
		{"stories260K-chatml.gguf", "stories260K-chatml (derived test file)", 2048, 64, 5, 8, 4, 512, 48, 292800, 1171200, true},
		{"llama-2-tiny-random.gguf", "LLaMA v2", 4096, 8, 1, 2, 2, 32000, 12, 513048, 1026144, false},
		{"llama-2-tiny-random-chat.gguf", "llama-2-tiny-random-chat (derived test file)", 4096, 8, 1, 2, 2, 32000, 12, 513048, 1026144, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := Open(sharedtest.Model(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			checks := []struct {
				what      string
				got, want any
			}{
				{"version", f.Version, uint32(3)},
				{"architecture", f.Architecture(), "llama"},
				{"name", f.Name(), tt.name},
				{"context length", f.ContextLength(), tt.ctx},
				{"embedding length", f.EmbeddingLength(), tt.embd},
				{"block count", f.BlockCount(), tt.layers},
				{"head count", f.HeadCount(), tt.heads},
				{"kv head count", f.HeadCountKV(), tt.headsKV},
				{"vocab size", f.VocabSize(), tt.vocab},
				{"tensor count", len(f.Tensors), tt.tensors},
				{"parameter count", f.ParameterCount(), tt.params},
				{"tensor bytes", f.TensorBytes(), tt.tensorBytes},
				{"has chat template", f.ChatTemplate() != "", tt.template},
				{"alignment", f.Alignment, uint64(32)},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
			st, err := os.Stat(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			if f.FileSize() != st.Size() {
				t.Errorf("FileSize = %d, want %d", f.FileSize(), st.Size())
			}
			if f.DataOffset%32 != 0 || uint64(f.DataOffset)+f.TensorBytes() > uint64(f.FileSize()) {
				t.Errorf("data offset %d with %d tensor bytes does not fit a %d-byte file", f.DataOffset, f.TensorBytes(), f.FileSize())
			}
			toks, ok := f.Strings("tokenizer.ggml.tokens")
			if !ok || toks[1] != "<s>" || toks[2] != "</s>" {
				t.Errorf("tokens[1:3] = %q, want <s> </s>", toks[1:3])
			}
			if u, ok := f.Uint("tokenizer.ggml.bos_token_id"); !ok || u != 1 {
				t.Errorf("bos_token_id = %d, %v; want 1", u, ok)
			}
			if eps, ok := f.Float("llama.attention.layer_norm_rms_epsilon"); !ok || eps < 9e-6 || eps > 1.1e-5 {
				t.Errorf("rms epsilon = %v, %v; want 1e-5", eps, ok)
			}
			if m, ok := f.String("tokenizer.ggml.model"); !ok || m != "llama" {
				t.Errorf("tokenizer model = %q, %v", m, ok)
			}
			if _, ok := f.String("llama.context_length"); ok {
				t.Error("String on a uint32 key succeeded")
			}
			if _, ok := f.Uint("no.such.key"); ok {
				t.Error("Uint on a missing key succeeded")
			}
			emb, ok := f.Tensor("token_embd.weight")
			if !ok || len(emb.Dims) != 2 || emb.Dims[0] != uint64(tt.embd) || emb.Dims[1] != uint64(tt.vocab) {
				t.Errorf("token_embd.weight = %+v, want dims [%d %d]", emb, tt.embd, tt.vocab)
			}
		})
	}
}

// header builds the start of a GGUF file: magic, version and counts.
func header(version uint32, tensors, kvs uint64) []byte {
	var b bytes.Buffer
	b.WriteString("GGUF")
	binary.Write(&b, binary.LittleEndian, version)
	binary.Write(&b, binary.LittleEndian, tensors)
	binary.Write(&b, binary.LittleEndian, kvs)
	return b.Bytes()
}

func TestOpenErrors(t *testing.T) {
	src, err := os.ReadFile(sharedtest.Model(t, "llama-2-tiny-random.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(sharedtest.Model(t, "llama-2-tiny-random.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		want    error
		message string // a substring the error must contain
	}{
		{"empty", nil, ErrNotGGUF, "only 0 bytes"},
		{"not gguf", []byte("hello, this is a text file and not a model\n"), ErrNotGGUF, `magic is "hell"`},
		{"version 1", header(1, 0, 0), ErrUnsupportedVersion, "version 1"},
		{"version 4", header(4, 0, 0), ErrUnsupportedVersion, "version 4"},
		{"big endian", header(3<<24, 0, 0), ErrUnsupportedVersion, "big-endian"},
		{"absurd tensor count", header(3, 1<<40, 0), ErrInvalid, "tensor count"},
		{"absurd kv count", header(3, 0, 1<<40), ErrInvalid, "metadata count"},
		{"cut in header", src[:14], ErrTruncated, "header needs 8 more bytes"},
		{"cut in metadata key", src[:40], ErrTruncated, "metadata key"},
		{"cut in token array", src[:100000], ErrTruncated, `"tokenizer.ggml.tokens"`},
		{"cut in tensor infos", src[:f.DataOffset-50], ErrTruncated, "tensor info"},
		{"cut in tensor data", src[:len(src)-1000], ErrTruncated, "1000 bytes missing"},
		{"header only", src[:f.DataOffset], ErrTruncated, "1026144 bytes missing"},
		{"bad alignment", withAlignment(t, 3), ErrInvalid, "general.alignment 3"},
		// Arrays of arrays: the limit holds on every level, not only the
		// outermost (9 levels used to be read, recursing once per level).
		{"arrays nested 8 deep", nestedArrays(8).pad(), nil, ""},
		{"arrays nested 9 deep", nestedArrays(9).pad(), ErrInvalid, "arrays nested more than 8 deep"},
		// A byte size past 2^64 wrapped (to 0 here): no tensor data needed.
		{"tensor bytes overflow", rawFile(1, 0).tensor("big", GGMLTypeF32, 1<<31, 1<<31).pad(), ErrInvalid, "more than 2^63 bytes"},
		{"tensor bytes past the file", rawFile(1, 0).tensor("big", GGMLTypeF32, 1<<30, 1<<30).pad(), ErrTruncated, "bytes missing"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeCase(t, dir, tt.name, tt.data)
			_, err := Open(p)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Open = %v, want a valid file", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file or does not contain %q", err, tt.message)
			}
		})
	}
	if _, err := Open(filepath.Join(dir, "missing.gguf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want ErrNotExist", err)
	}
}

// TestOpenAllocatesForWhatTheFileHolds opens files whose counts claim far
// more than they hold: Open must fail before allocating for the claims.
func TestOpenAllocatesForWhatTheFileHolds(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		message string
	}{
		// 2^20 tensor infos (64 B each plus a map entry) were allocated
		// for before the first was read: ~118 MB for a 32-byte file.
		{"2^20 tensors in 32 bytes", rawFile(maxTensors, 0).pad(), "0 metadata keys and 1048576 tensor infos needs at least"},
		{"2^20 keys in 32 bytes", rawFile(0, maxKVs).pad(), "1048576 metadata keys and 0 tensor infos needs at least"},
		{"2^20 tensors after the metadata", rawFile(maxTensors, 1).kvStr("general.architecture", strings.Repeat("x", maxTensors*24)).pad(),
			"1048576 tensor infos needs at least"},
		{"array of 2^31 in 64 bytes", rawFile(0, 1).str("a").u32(uint32(TypeArray)).u32(uint32(TypeUint64)).u64(1 << 31).pad(), "needs at least"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeCase(t, dir, tt.name, tt.data)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Open(p)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Open = %v, want ErrTruncated saying %q", err, tt.message)
			}
			// The bufio reader's 1 MiB buffer, plus what the file holds.
			if alloc, limit := after.TotalAlloc-before.TotalAlloc, uint64(2<<20+3*len(tt.data)); alloc > limit {
				t.Errorf("Open of a %d-byte file allocated %d bytes (want at most %d)", len(tt.data), alloc, limit)
			}
		})
	}
}

// raw builds GGUF bytes by hand, to write what Write refuses.
type raw struct{ bytes.Buffer }

// rawFile starts a GGUF v3 file claiming tensors tensor infos and kvs
// metadata pairs.
func rawFile(tensors, kvs uint64) *raw {
	r := &raw{}
	r.Write(header(3, tensors, kvs))
	return r
}

func (r *raw) u32(v uint32) *raw { binary.Write(r, binary.LittleEndian, v); return r }
func (r *raw) u64(v uint64) *raw { binary.Write(r, binary.LittleEndian, v); return r }
func (r *raw) str(s string) *raw { r.u64(uint64(len(s))); r.WriteString(s); return r }

func (r *raw) kvU32(key string, v uint32) *raw { return r.str(key).u32(uint32(TypeUint32)).u32(v) }
func (r *raw) kvStr(key, v string) *raw        { return r.str(key).u32(uint32(TypeString)).str(v) }

// tensor writes a tensor info at data offset 0.
func (r *raw) tensor(name string, typ GGMLType, dims ...uint64) *raw {
	r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r.u64(d)
	}
	return r.u32(uint32(typ)).u64(0)
}

// pad ends the header at the alignment, where the data section starts.
func (r *raw) pad() []byte {
	for r.Len()%defaultAlignment != 0 {
		r.WriteByte(0)
	}
	return r.Bytes()
}

// nestedArrays is a file whose one value is levels arrays, one in the other,
// the innermost an empty uint8 array.
func nestedArrays(levels int) *raw {
	r := rawFile(0, 1).str("nested").u32(uint32(TypeArray))
	for range levels - 1 {
		r.u32(uint32(TypeArray)).u64(1)
	}
	return r.u32(uint32(TypeUint8)).u64(0)
}

// withAlignment is a minimal GGUF file with one general.alignment KV.
func withAlignment(t testing.TB, a uint32) []byte {
	t.Helper()
	b := bytes.NewBuffer(header(3, 0, 1))
	key := "general.alignment"
	binary.Write(b, binary.LittleEndian, uint64(len(key)))
	b.WriteString(key)
	binary.Write(b, binary.LittleEndian, uint32(TypeUint32))
	binary.Write(b, binary.LittleEndian, a)
	return b.Bytes()
}

func BenchmarkOpenLlama2Vocab(b *testing.B) {
	p := sharedtest.Model(b, "llama-2-tiny-random.gguf")
	for b.Loop() {
		if _, err := Open(p); err != nil {
			b.Fatal(err)
		}
	}
}

// writeCase writes a table case's file into dir, named after the case.
func writeCase(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".gguf")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
