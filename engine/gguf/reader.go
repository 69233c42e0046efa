package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
)

// Errors that Open wraps; test for them with errors.Is. The wrapping error
// says where in the file the problem is.
var (
	ErrNotGGUF            = errors.New("not a GGUF file")
	ErrUnsupportedVersion = errors.New("unsupported GGUF version")
	ErrTruncated          = errors.New("truncated GGUF file")
	ErrInvalid            = errors.New("invalid GGUF file")
)

const (
	magic            = 0x46554747 // "GGUF" read as a little-endian uint32
	defaultAlignment = 32
	maxDims          = 4 // GGML_MAX_DIMS

	// Limits past which a count cannot come from a real model; they catch
	// garbage before it turns into a huge allocation. Counts below them that
	// still do not fit in the rest of the file are reported as truncation.
	maxTensors     = 1 << 20
	maxKVs         = 1 << 20
	maxArrayLen    = 1 << 31
	maxStringLen   = 1 << 30
	maxArrayNested = 8

	// The smallest a key-value pair can be: a key's length (8), the type
	// (4) and a 1-byte value; a tensor info: a name's length (8), the
	// dimension count (4), the type (4) and the offset (8).
	minKVSize     = 8 + 4 + 1
	minTensorSize = 8 + 4 + 4 + 8
)

// File is a parsed GGUF file: its metadata and tensor directory. The tensor
// data stays on disk; Open reads only the header.
type File struct {
	Path       string
	Version    uint32
	KVs        []KV // in file order
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset int64 // where tensor data starts, aligned to Alignment
	Size       int64 // file size in bytes

	index map[string]int // key → position in KVs
}

// KV is one metadata key-value pair.
type KV struct {
	Key  string
	Type ValueType
	// Value holds uint8, int8, uint16, int16, uint32, int32, float32, bool,
	// string, uint64, int64, float64 or Array, matching Type.
	Value any
}

// Array is a metadata array value. Values is a typed slice: []uint8,
// []int8, []uint16, []int16, []uint32, []int32, []float32, []bool,
// []string, []uint64, []int64, []float64, or []Array for nested arrays.
type Array struct {
	Type   ValueType
	Len    int
	Values any
}

// TensorInfo describes one tensor. Dims are in ggml order: Dims[0] (ne0) is
// the contiguous dimension.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   GGMLType
	Offset uint64 // relative to File.DataOffset
	Size   uint64 // bytes of data
}

// Elements is the number of values in the tensor.
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Open reads the header, metadata and tensor directory of a GGUF file and
// checks that the tensor data the directory describes is all present.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := decode(fh, st.Size())
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// decoder reads little-endian GGUF values and tracks the position so that
// errors can say where the file ends and what was being read.
type decoder struct {
	r       *bufio.Reader
	pos     int64
	size    int64
	buf     [8]byte
	scratch []byte // scratch for strings, so each costs one allocation
	what    string // what is being read, for truncation errors
}

func (d *decoder) remaining() int64 { return d.size - d.pos }

func (d *decoder) truncated(need int64) error {
	if need > d.remaining() {
		return fmt.Errorf("%w: %s needs %d more bytes at offset %d, but the file ends at %d (%d bytes missing)",
			ErrTruncated, d.what, need, d.pos, d.size, need-d.remaining())
	}
	return d.cutShort()
}

// truncatedAtLeast is truncated for a lower bound of what is needed (an
// array whose elements have a minimum but no fixed size).
func (d *decoder) truncatedAtLeast(need int64) error {
	if need > d.remaining() {
		return fmt.Errorf("%w: %s needs at least %d more bytes at offset %d, but the file ends at %d (at least %d bytes missing)",
			ErrTruncated, d.what, need, d.pos, d.size, need-d.remaining())
	}
	return d.cutShort()
}

func (d *decoder) cutShort() error {
	return fmt.Errorf("%w: %s cut short at offset %d", ErrTruncated, d.what, d.pos)
}

func (d *decoder) read(p []byte) error {
	n, err := io.ReadFull(d.r, p)
	d.pos += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			d.pos -= int64(n)
			return d.truncated(int64(len(p)))
		}
		return fmt.Errorf("reading %s at offset %d: %w", d.what, d.pos, err)
	}
	return nil
}

func (d *decoder) u32() (uint32, error) {
	if err := d.read(d.buf[:4]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(d.buf[:4]), nil
}

func (d *decoder) u64() (uint64, error) {
	if err := d.read(d.buf[:8]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(d.buf[:8]), nil
}

func (d *decoder) str() (string, error) {
	n, err := d.u64()
	if err != nil {
		return "", err
	}
	if n > maxStringLen {
		return "", fmt.Errorf("%w: %s: string length %d at offset %d is absurd", ErrInvalid, d.what, n, d.pos-8)
	}
	if int64(n) > d.remaining() {
		return "", d.truncated(int64(n))
	}
	if uint64(cap(d.scratch)) < n {
		d.scratch = make([]byte, n)
	}
	b := d.scratch[:n]
	if err := d.read(b); err != nil {
		return "", err
	}
	return string(b), nil
}

func decode(r io.Reader, size int64) (*File, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 1<<20), size: size, what: "header"}
	f := &File{Size: size, Alignment: defaultAlignment}

	if size < 4 {
		return nil, fmt.Errorf("%w: the file has only %d bytes", ErrNotGGUF, size)
	}
	m, err := d.u32()
	if err != nil {
		return nil, err
	}
	if m != magic {
		return nil, fmt.Errorf("%w: magic is %q, want \"GGUF\"", ErrNotGGUF, d.buf[:4])
	}
	if f.Version, err = d.u32(); err != nil {
		return nil, err
	}
	switch {
	case f.Version == 2 || f.Version == 3:
	case f.Version&0xffff == 0 && f.Version>>16 != 0:
		// A byte-swapped small number: the file was written big-endian.
		return nil, fmt.Errorf("%w: big-endian GGUF files are not supported", ErrUnsupportedVersion)
	default:
		return nil, fmt.Errorf("%w: version %d (only 2 and 3 are supported)", ErrUnsupportedVersion, f.Version)
	}
	nTensors, err := d.u64()
	if err != nil {
		return nil, err
	}
	nKVs, err := d.u64()
	if err != nil {
		return nil, err
	}
	if nTensors > maxTensors {
		return nil, fmt.Errorf("%w: tensor count %d is absurd", ErrInvalid, nTensors)
	}
	if nKVs > maxKVs {
		return nil, fmt.Errorf("%w: metadata count %d is absurd", ErrInvalid, nKVs)
	}

	// Each key-value pair takes at least minKVSize bytes and each tensor
	// info minTensorSize, so counts the rest of the file cannot hold are
	// caught before allocating for them (2^20 tensors was ~118 MB of
	// allocation for a 32-byte file).
	d.what = fmt.Sprintf("%d metadata keys and %d tensor infos", nKVs, nTensors)
	if need := int64(nKVs)*minKVSize + int64(nTensors)*minTensorSize; need > d.remaining() {
		return nil, d.truncatedAtLeast(need)
	}
	f.KVs = make([]KV, 0, nKVs)
	f.index = make(map[string]int, nKVs)
	for i := range nKVs {
		d.what = fmt.Sprintf("metadata key %d of %d", i+1, nKVs)
		key, err := d.str()
		if err != nil {
			return nil, err
		}
		d.what = fmt.Sprintf("metadata value of %q", key)
		t, err := d.u32()
		if err != nil {
			return nil, err
		}
		v, err := d.value(ValueType(t), 0)
		if err != nil {
			return nil, err
		}
		if _, dup := f.index[key]; dup {
			return nil, fmt.Errorf("%w: duplicate metadata key %q", ErrInvalid, key)
		}
		f.index[key] = len(f.KVs)
		f.KVs = append(f.KVs, KV{Key: key, Type: ValueType(t), Value: v})
	}

	if kv, ok := f.kv("general.alignment"); ok {
		a, ok := toUint(kv.Value)
		if !ok || a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("%w: general.alignment %v is not a power of two", ErrInvalid, kv.Value)
		}
		f.Alignment = a
	}

	d.what = fmt.Sprintf("%d tensor infos", nTensors)
	if need := int64(nTensors) * minTensorSize; need > d.remaining() {
		return nil, d.truncatedAtLeast(need)
	}
	f.Tensors = make([]TensorInfo, 0, nTensors)
	names := make(map[string]struct{}, nTensors)
	for i := range nTensors {
		d.what = fmt.Sprintf("tensor info %d of %d", i+1, nTensors)
		ti, err := d.tensorInfo()
		if err != nil {
			return nil, err
		}
		if _, dup := names[ti.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate tensor %q", ErrInvalid, ti.Name)
		}
		names[ti.Name] = struct{}{}
		f.Tensors = append(f.Tensors, ti)
	}

	// llama.cpp requires the tensors to follow each other in directory
	// order, each padded to the alignment; check it here so such a file is
	// rejected with a reason rather than by llama.cpp's loader.
	var want uint64
	for _, t := range f.Tensors {
		if t.Offset != want {
			return nil, fmt.Errorf("%w: tensor %q has data offset %d, expected %d (tensors must be stored in directory order, each padded to %d bytes)",
				ErrInvalid, t.Name, t.Offset, want, f.Alignment)
		}
		want = alignUp(want+t.Size, f.Alignment)
	}

	f.DataOffset = int64(alignUp(uint64(d.pos), f.Alignment))
	// The data section may legitimately end right after the last tensor's
	// bytes (no trailing padding), so only the tensors' own bytes count.
	var end uint64
	var last string
	for _, t := range f.Tensors {
		if e := t.Offset + t.Size; e > end {
			end, last = e, t.Name
		}
	}
	if need := uint64(f.DataOffset) + end; need > uint64(size) {
		return nil, fmt.Errorf("%w: tensor data needs %d bytes (tensor %q ends at offset %d) but the file has %d: %d bytes missing",
			ErrTruncated, need, last, need, size, need-uint64(size))
	}
	return f, nil
}

func (d *decoder) tensorInfo() (TensorInfo, error) {
	var ti TensorInfo
	var err error
	if ti.Name, err = d.str(); err != nil {
		return ti, err
	}
	d.what = fmt.Sprintf("tensor info of %q", ti.Name)
	nDims, err := d.u32()
	if err != nil {
		return ti, err
	}
	if nDims > maxDims {
		return ti, fmt.Errorf("%w: tensor %q has %d dimensions (at most %d)", ErrInvalid, ti.Name, nDims, maxDims)
	}
	ti.Dims = make([]uint64, nDims)
	elems := uint64(1)
	for j := range ti.Dims {
		if ti.Dims[j], err = d.u64(); err != nil {
			return ti, err
		}
		if ti.Dims[j] != 0 && elems > math.MaxInt64/ti.Dims[j] {
			return ti, fmt.Errorf("%w: tensor %q has absurd dimensions %v", ErrInvalid, ti.Name, ti.Dims[:j+1])
		}
		elems *= ti.Dims[j]
	}
	t, err := d.u32()
	if err != nil {
		return ti, err
	}
	ti.Type = GGMLType(t)
	if ti.Offset, err = d.u64(); err != nil {
		return ti, err
	}
	tr, ok := typeTraits[ti.Type]
	if !ok {
		return ti, fmt.Errorf("%w: tensor %q has unknown ggml type %d", ErrInvalid, ti.Name, t)
	}
	if len(ti.Dims) > 0 && ti.Dims[0]%tr.blockSize != 0 {
		return ti, fmt.Errorf("%w: tensor %q: first dimension %d is not a multiple of the %s block size %d",
			ErrInvalid, ti.Name, ti.Dims[0], tr.name, tr.blockSize)
	}
	// The element count fits an int64 but its byte size need not: 2^62 F32
	// values are 2^64 bytes, which wrapped to 0 and passed every later check
	// (no data needed at all). A size past the file is caught with the
	// other tensors' ends below, as truncation.
	hi, size := bits.Mul64(elems/tr.blockSize, tr.typeSize)
	if hi != 0 || size > math.MaxInt64 {
		return ti, fmt.Errorf("%w: tensor %q of %d %s values is more than 2^63 bytes", ErrInvalid, ti.Name, elems, tr.name)
	}
	ti.Size = size
	if ti.Offset > math.MaxInt64-ti.Size {
		return ti, fmt.Errorf("%w: tensor %q has absurd offset %d", ErrInvalid, ti.Name, ti.Offset)
	}
	return ti, nil
}

// value reads one value of type t; depth is the array nesting level, which
// array limits.
func (d *decoder) value(t ValueType, depth int) (any, error) {
	switch t {
	case TypeString:
		return d.str()
	case TypeArray:
		return d.array(depth)
	}
	n := t.size()
	if n == 0 {
		return nil, fmt.Errorf("%w: %s: unknown value type %d at offset %d", ErrInvalid, d.what, uint32(t), d.pos-4)
	}
	if err := d.read(d.buf[:n]); err != nil {
		return nil, err
	}
	return scalar(t, d.buf[:n]), nil
}

// scalar decodes a fixed-size little-endian value from b.
func scalar(t ValueType, b []byte) any {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return b[0]
	case TypeInt8:
		return int8(b[0])
	case TypeBool:
		return b[0] != 0
	case TypeUint16:
		return le.Uint16(b)
	case TypeInt16:
		return int16(le.Uint16(b))
	case TypeUint32:
		return le.Uint32(b)
	case TypeInt32:
		return int32(le.Uint32(b))
	case TypeFloat32:
		return math.Float32frombits(le.Uint32(b))
	case TypeUint64:
		return le.Uint64(b)
	case TypeInt64:
		return int64(le.Uint64(b))
	case TypeFloat64:
		return math.Float64frombits(le.Uint64(b))
	}
	panic("gguf: scalar called with non-scalar type " + t.String())
}

// array reads an array whose nesting level is depth (0 for a metadata
// value). The limit is checked here, on every level, because array calls
// itself for arrays of arrays: checked only on the outermost one, recursion
// was bounded by the file size alone (12 bytes a level), and a file of some
// tens of MB overflowed the goroutine stack, a fatal error that no recover
// catches.
func (d *decoder) array(depth int) (Array, error) {
	if depth >= maxArrayNested {
		return Array{}, fmt.Errorf("%w: %s: arrays nested more than %d deep", ErrInvalid, d.what, maxArrayNested)
	}
	et, err := d.u32()
	if err != nil {
		return Array{}, err
	}
	n64, err := d.u64()
	if err != nil {
		return Array{}, err
	}
	t := ValueType(et)
	if n64 > maxArrayLen {
		return Array{}, fmt.Errorf("%w: %s: array length %d is absurd", ErrInvalid, d.what, n64)
	}
	// Every element takes at least minSize bytes, so a count that cannot fit
	// in the rest of the file is caught before allocating for it.
	minSize := int64(t.size())
	switch t {
	case TypeString:
		minSize = 8
	case TypeArray:
		minSize = 12
	}
	if minSize == 0 {
		return Array{}, fmt.Errorf("%w: %s: unknown array element type %d", ErrInvalid, d.what, et)
	}
	if need := int64(n64) * minSize; need > d.remaining() {
		return Array{}, d.truncatedAtLeast(need)
	}
	n := int(n64)
	a := Array{Type: t, Len: n}
	switch t {
	case TypeString:
		vs := make([]string, n)
		for i := range vs {
			if vs[i], err = d.str(); err != nil {
				return a, err
			}
		}
		a.Values = vs
	case TypeArray:
		vs := make([]Array, n)
		for i := range vs {
			if vs[i], err = d.array(depth + 1); err != nil {
				return a, err
			}
		}
		a.Values = vs
	default:
		raw := make([]byte, int64(n)*minSize)
		if err := d.read(raw); err != nil {
			return a, err
		}
		a.Values = decodeSlice(t, raw, n)
	}
	return a, nil
}

// decodeSlice turns n little-endian values of type t into a typed slice.
func decodeSlice(t ValueType, raw []byte, n int) any {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return raw
	case TypeInt8:
		return decodeEach(raw, n, 1, func(b []byte) int8 { return int8(b[0]) })
	case TypeBool:
		return decodeEach(raw, n, 1, func(b []byte) bool { return b[0] != 0 })
	case TypeUint16:
		return decodeEach(raw, n, 2, le.Uint16)
	case TypeInt16:
		return decodeEach(raw, n, 2, func(b []byte) int16 { return int16(le.Uint16(b)) })
	case TypeUint32:
		return decodeEach(raw, n, 4, le.Uint32)
	case TypeInt32:
		return decodeEach(raw, n, 4, func(b []byte) int32 { return int32(le.Uint32(b)) })
	case TypeFloat32:
		return decodeEach(raw, n, 4, func(b []byte) float32 { return math.Float32frombits(le.Uint32(b)) })
	case TypeUint64:
		return decodeEach(raw, n, 8, le.Uint64)
	case TypeInt64:
		return decodeEach(raw, n, 8, func(b []byte) int64 { return int64(le.Uint64(b)) })
	case TypeFloat64:
		return decodeEach(raw, n, 8, func(b []byte) float64 { return math.Float64frombits(le.Uint64(b)) })
	}
	panic("gguf: decodeSlice called with non-scalar type " + t.String())
}

// decodeEach decodes n values of size bytes each from raw with dec.
func decodeEach[T any](raw []byte, n, size int, dec func([]byte) T) []T {
	vs := make([]T, n)
	for i := range vs {
		vs[i] = dec(raw[size*i:])
	}
	return vs
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }
