package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// WriteTensor is a tensor to write: its shape and type, and a function that
// produces its data. Data is streamed so that multi-gigabyte models never
// have to be held in memory.
type WriteTensor struct {
	Name string
	Dims []uint64 // ggml order: Dims[0] is the contiguous dimension
	Type GGMLType
	// Fill writes exactly the tensor's data size (see TensorSize) to w.
	Fill func(w io.Writer) error
}

// TensorSize is the data size of a tensor of the given type and dimensions,
// or an error if the type is unknown or the first dimension is not a whole
// number of blocks.
func TensorSize(t GGMLType, dims []uint64) (uint64, error) {
	tr, ok := typeTraits[t]
	if !ok {
		return 0, fmt.Errorf("unknown ggml type %d", uint32(t))
	}
	n := uint64(1)
	for _, d := range dims {
		n *= d
	}
	if len(dims) > 0 && dims[0]%tr.blockSize != 0 {
		return 0, fmt.Errorf("first dimension %d is not a multiple of the %s block size %d", dims[0], tr.name, tr.blockSize)
	}
	return n / tr.blockSize * tr.typeSize, nil
}

// Write writes a GGUF version 3 file: the metadata in the order given, then
// the tensor directory and the tensor data, each tensor aligned to
// general.alignment (32 when kvs does not set it). Write buffers its output;
// w need not be buffered.
func Write(w io.Writer, kvs []KV, tensors []WriteTensor) error {
	alignment := uint64(defaultAlignment)
	for _, kv := range kvs {
		if kv.Key == "general.alignment" {
			a, ok := toUint(kv.Value)
			if !ok || a == 0 || a&(a-1) != 0 {
				return fmt.Errorf("gguf: general.alignment %v is not a power of two", kv.Value)
			}
			alignment = a
		}
	}
	sizes := make([]uint64, len(tensors))
	for i, t := range tensors {
		s, err := TensorSize(t.Type, t.Dims)
		if err != nil {
			return fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		sizes[i] = s
	}

	bw := bufio.NewWriterSize(w, 4<<20)
	e := &encoder{w: bw}
	e.u32(magic)
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		e.u32(uint32(kv.Type))
		if err := e.value(kv.Type, kv.Value); err != nil {
			return fmt.Errorf("gguf: metadata %q: %w", kv.Key, err)
		}
	}
	var offset uint64
	for i, t := range tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(offset)
		offset = alignUp(offset+sizes[i], alignment)
	}
	e.pad(alignment)
	if e.err != nil {
		return fmt.Errorf("gguf: writing header: %w", e.err)
	}
	for i, t := range tensors {
		start := e.n
		cw := &countingWriter{e: e}
		if err := t.Fill(cw); err != nil {
			return fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		if e.err != nil {
			return fmt.Errorf("gguf: writing tensor %q: %w", t.Name, e.err)
		}
		if got := e.n - start; got != sizes[i] {
			return fmt.Errorf("gguf: tensor %q: Fill wrote %d bytes, want %d", t.Name, got, sizes[i])
		}
		e.pad(alignment)
	}
	if e.err == nil {
		e.err = bw.Flush()
	}
	if e.err != nil {
		return fmt.Errorf("gguf: writing tensor data: %w", e.err)
	}
	return nil
}

// encoder writes little-endian values and keeps the first error, so that the
// header code reads as a list of fields.
type encoder struct {
	w   *bufio.Writer
	n   uint64
	buf [8]byte
	err error
}

func (e *encoder) write(p []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(p)
	e.n += uint64(n)
	e.err = err
}

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:4], v)
	e.write(e.buf[:4])
}

func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:8], v)
	e.write(e.buf[:8])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	if e.err == nil {
		n, err := e.w.WriteString(s)
		e.n += uint64(n)
		e.err = err
	}
}

func (e *encoder) pad(alignment uint64) {
	var zero [64]byte
	for n := alignUp(e.n, alignment) - e.n; n > 0 && e.err == nil; {
		k := min(n, uint64(len(zero)))
		e.write(zero[:k])
		n -= k
	}
}

type countingWriter struct{ e *encoder }

func (c *countingWriter) Write(p []byte) (int, error) {
	before := c.e.n
	c.e.write(p)
	return int(c.e.n - before), c.e.err
}

// value encodes v, which must have the Go type that the reader produces for
// t (see KV.Value); plain Go ints are accepted for integer types too, to keep
// callers free of conversions.
func (e *encoder) value(t ValueType, v any) error {
	switch t {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("value %T is not a string", v)
		}
		e.str(s)
		return nil
	case TypeArray:
		a, ok := v.(Array)
		if !ok {
			return fmt.Errorf("value %T is not an Array", v)
		}
		return e.array(a)
	case TypeBool:
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("value %T is not a bool", v)
		}
		e.buf[0] = 0
		if b {
			e.buf[0] = 1
		}
		e.write(e.buf[:1])
		return nil
	case TypeFloat32:
		f, ok := v.(float32)
		if !ok {
			return fmt.Errorf("value %T is not a float32", v)
		}
		e.u32(math.Float32bits(f))
		return nil
	case TypeFloat64:
		f, ok := v.(float64)
		if !ok {
			return fmt.Errorf("value %T is not a float64", v)
		}
		e.u64(math.Float64bits(f))
		return nil
	}
	size := t.size()
	if size == 0 {
		return fmt.Errorf("unknown value type %d", uint32(t))
	}
	var bits uint64
	switch x := v.(type) {
	case int:
		bits = uint64(x)
	default:
		if u, ok := toUint(v); ok {
			bits = u
		} else if i, ok := toInt(v); ok {
			bits = uint64(i)
		} else {
			return fmt.Errorf("value %T is not an integer", v)
		}
	}
	binary.LittleEndian.PutUint64(e.buf[:8], bits)
	e.write(e.buf[:size])
	return nil
}

// sliceElemType is the element type a typed slice of Array.Values holds.
func sliceElemType(v any) (ValueType, bool) {
	switch v.(type) {
	case []uint8:
		return TypeUint8, true
	case []int8:
		return TypeInt8, true
	case []uint16:
		return TypeUint16, true
	case []int16:
		return TypeInt16, true
	case []uint32:
		return TypeUint32, true
	case []int32:
		return TypeInt32, true
	case []float32:
		return TypeFloat32, true
	case []bool:
		return TypeBool, true
	case []string:
		return TypeString, true
	case []uint64:
		return TypeUint64, true
	case []int64:
		return TypeInt64, true
	case []float64:
		return TypeFloat64, true
	case []Array:
		return TypeArray, true
	}
	return 0, false
}

func (e *encoder) array(a Array) error {
	if t, ok := sliceElemType(a.Values); !ok || t != a.Type {
		return fmt.Errorf("array of %s holds %T", a.Type, a.Values)
	}
	e.u32(uint32(a.Type))
	switch vs := a.Values.(type) {
	case []string:
		e.u64(uint64(len(vs)))
		for _, s := range vs {
			e.str(s)
		}
	case []Array:
		e.u64(uint64(len(vs)))
		for _, x := range vs {
			if err := e.array(x); err != nil {
				return err
			}
		}
	case []float32:
		e.u64(uint64(len(vs)))
		for _, x := range vs {
			e.u32(math.Float32bits(x))
		}
	case []float64:
		e.u64(uint64(len(vs)))
		for _, x := range vs {
			e.u64(math.Float64bits(x))
		}
	case []int32:
		e.u64(uint64(len(vs)))
		for _, x := range vs {
			e.u32(uint32(x))
		}
	case []uint32:
		e.u64(uint64(len(vs)))
		for _, x := range vs {
			e.u32(x)
		}
	case []uint8:
		e.u64(uint64(len(vs)))
		e.write(vs)
	case []bool:
		e.u64(uint64(len(vs)))
		for _, x := range vs {
			if err := e.value(TypeBool, x); err != nil {
				return err
			}
		}
	case []int8, []int16, []uint16, []int64, []uint64:
		return e.intArray(a)
	default:
		return fmt.Errorf("array values %T are not supported", a.Values)
	}
	return nil
}

// intArray writes the less common integer arrays element by element.
func (e *encoder) intArray(a Array) error {
	var n int
	var at func(i int) any
	switch vs := a.Values.(type) {
	case []int8:
		n, at = len(vs), func(i int) any { return vs[i] }
	case []int16:
		n, at = len(vs), func(i int) any { return vs[i] }
	case []uint16:
		n, at = len(vs), func(i int) any { return vs[i] }
	case []int64:
		n, at = len(vs), func(i int) any { return vs[i] }
	case []uint64:
		n, at = len(vs), func(i int) any { return vs[i] }
	}
	e.u64(uint64(n))
	for i := range n {
		if err := e.value(a.Type, at(i)); err != nil {
			return err
		}
	}
	return nil
}
