package gguf

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFile writes kvs and tensors with Write and returns the path.
func writeFile(t *testing.T, kvs []KV, tensors []WriteTensor) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, kvs, tensors); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "w.gguf")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func zeros(n int) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(make([]byte, n))
		return err
	}
}

func TestWriteReadAllValueTypes(t *testing.T) {
	kvs := []KV{
		{"u8", TypeUint8, uint8(200)},
		{"i8", TypeInt8, int8(-100)},
		{"u16", TypeUint16, uint16(60000)},
		{"i16", TypeInt16, int16(-30000)},
		{"u32", TypeUint32, uint32(4000000000)},
		{"i32", TypeInt32, int32(-2000000000)},
		{"f32", TypeFloat32, float32(1.5)},
		{"bool", TypeBool, true},
		{"str", TypeString, "héllo ▁"},
		{"u64", TypeUint64, uint64(1 << 60)},
		{"i64", TypeInt64, int64(-1 << 60)},
		{"f64", TypeFloat64, 2.25},
		{"empty", TypeString, ""},
		{"strs", TypeArray, Array{TypeString, 3, []string{"a", "", "ccc"}}},
		{"f32s", TypeArray, Array{TypeFloat32, 2, []float32{-1, 0.5}}},
		{"i32s", TypeArray, Array{TypeInt32, 2, []int32{-7, 7}}},
		{"u8s", TypeArray, Array{TypeUint8, 2, []uint8{1, 2}}},
		{"i64s", TypeArray, Array{TypeInt64, 1, []int64{-5}}},
		{"bools", TypeArray, Array{TypeBool, 2, []bool{true, false}}},
		{"nested", TypeArray, Array{TypeArray, 2, []Array{
			{TypeUint16, 1, []uint16{9}},
			{TypeString, 1, []string{"x"}},
		}}},
	}
	p := writeFile(t, kvs, []WriteTensor{
		{Name: "a", Dims: []uint64{32, 2}, Type: GGMLTypeQ8_0, Fill: zeros(68)},
		{Name: "b", Dims: []uint64{3}, Type: GGMLTypeF32, Fill: zeros(12)},
	})
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.KVs, kvs) {
		t.Errorf("read back\n%v\nwant\n%v", f.KVs, kvs)
	}
	if !reflect.DeepEqual(f.Keys()[:3], []string{"u8", "i8", "u16"}) {
		t.Errorf("Keys = %v", f.Keys())
	}
	if len(f.Tensors) != 2 || f.Tensors[1].Offset != 96 || f.Tensors[0].Size != 68 || f.TensorBytes() != 80 || f.ParameterCount() != 67 {
		t.Errorf("tensors = %+v", f.Tensors)
	}

	getters := []struct {
		what      string
		got, want any
	}{
		{"Uint(u8)", first(f.Uint("u8")), uint64(200)},
		{"Uint(i32 negative) fails", second(f.Uint("i32")), false},
		{"Uint(u64)", first(f.Uint("u64")), uint64(1 << 60)},
		{"Uint(str) fails", second(f.Uint("str")), false},
		{"Float(f32)", first(f.Float("f32")), 1.5},
		{"Float(f64)", first(f.Float("f64")), 2.25},
		{"Float(i16)", first(f.Float("i16")), -30000.0},
		{"Bool", first(f.Bool("bool")), true},
		{"Bool(u8) fails", second(f.Bool("u8")), false},
		{"String", first(f.String("str")), "héllo ▁"},
		{"Strings", len(first(f.Strings("strs"))), 3},
		{"Strings(f32s) fails", second(f.Strings("f32s")), false},
		{"ArrayLen", first(f.ArrayLen("f32s")), 2},
		{"Value", first(f.Value("i8")), any(int8(-100))},
	}
	for _, g := range getters {
		if g.got != g.want {
			t.Errorf("%s = %v, want %v", g.what, g.got, g.want)
		}
	}
}

func first[T any](v T, _ bool) T      { return v }
func second[T any](_ T, ok bool) bool { return ok }

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name    string
		kvs     []KV
		tensors []WriteTensor
		want    string
	}{
		{"value type mismatch", []KV{{"k", TypeString, 3}}, nil, "not a string"},
		{"array type mismatch", []KV{{"k", TypeArray, Array{TypeInt32, 1, []float32{1}}}}, nil, "holds []float32"},
		{"bad alignment", []KV{{"general.alignment", TypeUint32, uint32(24)}}, nil, "power of two"},
		{"partial block", nil, []WriteTensor{{Name: "t", Dims: []uint64{16}, Type: GGMLTypeQ8_0, Fill: zeros(17)}}, "block size"},
		{"short fill", nil, []WriteTensor{{Name: "t", Dims: []uint64{4}, Type: GGMLTypeF32, Fill: zeros(15)}}, "wrote 15 bytes, want 16"},
		{"fill error", nil, []WriteTensor{{Name: "t", Dims: []uint64{4}, Type: GGMLTypeF32,
			Fill: func(io.Writer) error { return errors.New("boom") }}}, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(io.Discard, tt.kvs, tt.tensors)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestOpenRejectsInvalidStructure(t *testing.T) {
	tests := []struct {
		name    string
		kvs     []KV
		tensors []WriteTensor
		patch   func([]byte) // corrupts the written bytes
		want    string
	}{
		{"duplicate key", []KV{{"k", TypeUint8, uint8(1)}, {"k", TypeUint8, uint8(2)}}, nil, nil, `duplicate metadata key "k"`},
		{"duplicate tensor", nil, []WriteTensor{
			{Name: "t", Dims: []uint64{1}, Type: GGMLTypeF32, Fill: zeros(4)},
			{Name: "t", Dims: []uint64{1}, Type: GGMLTypeF32, Fill: zeros(4)},
		}, nil, `duplicate tensor "t"`},
		{"unknown tensor type", nil, []WriteTensor{{Name: "t", Dims: []uint64{1}, Type: GGMLTypeF32, Fill: zeros(4)}},
			func(b []byte) { b[24+8+1+4+8] = 200 }, "unknown ggml type 200"},
		{"too many dims", nil, []WriteTensor{{Name: "t", Dims: []uint64{1}, Type: GGMLTypeF32, Fill: zeros(4)}},
			func(b []byte) { b[24+8+1] = 5 }, "5 dimensions"},
		{"misplaced tensor data", nil, []WriteTensor{
			{Name: "t", Dims: []uint64{1}, Type: GGMLTypeF32, Fill: zeros(4)},
			{Name: "u", Dims: []uint64{1}, Type: GGMLTypeF32, Fill: zeros(4)},
		}, func(b []byte) { b[24+2*(8+1+4+8+4)+8] = 64 }, `tensor "u" has data offset 64, expected 32`},
		{"unknown value type", []KV{{"k", TypeUint8, uint8(1)}}, nil,
			func(b []byte) { b[24+8+1] = 13 }, "unknown value type 13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tt.kvs, tt.tensors); err != nil {
				t.Fatal(err)
			}
			data := b.Bytes()
			if tt.patch != nil {
				tt.patch(data)
			}
			p := filepath.Join(t.TempDir(), "bad.gguf")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(p)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open = %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}

// Version 2 differs from 3 only in allowing big-endian files (which are
// rejected), so a v3 file relabelled as v2 must read the same.
func TestOpenVersion2(t *testing.T) {
	var b bytes.Buffer
	kvs := []KV{{"general.architecture", TypeString, "llama"}}
	if err := Write(&b, kvs, []WriteTensor{{Name: "t", Dims: []uint64{2}, Type: GGMLTypeF16, Fill: zeros(4)}}); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	data[4] = 2
	p := filepath.Join(t.TempDir(), "v2.gguf")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 2 || f.Architecture() != "llama" || f.TensorBytes() != 4 {
		t.Errorf("v2 file read as version %d, arch %q, %d tensor bytes", f.Version, f.Architecture(), f.TensorBytes())
	}
}
