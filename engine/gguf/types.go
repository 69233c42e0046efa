package gguf

import "fmt"

// ValueType is the type tag of a metadata value, as stored in the file.
type ValueType uint32

// The metadata value types of the GGUF specification.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{
	TypeUint8: "uint8", TypeInt8: "int8", TypeUint16: "uint16", TypeInt16: "int16",
	TypeUint32: "uint32", TypeInt32: "int32", TypeFloat32: "float32", TypeBool: "bool",
	TypeString: "string", TypeArray: "array", TypeUint64: "uint64", TypeInt64: "int64",
	TypeFloat64: "float64",
}

func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

// size is the encoded size of a fixed-size value, 0 for strings and arrays.
func (t ValueType) size() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// GGMLType is the ggml tensor data type of a tensor (enum ggml_type).
type GGMLType uint32

// The ggml tensor types that can appear in GGUF files. Gaps are types that
// ggml removed; files holding them are rejected.
const (
	GGMLTypeF32     GGMLType = 0
	GGMLTypeF16     GGMLType = 1
	GGMLTypeQ4_0    GGMLType = 2
	GGMLTypeQ4_1    GGMLType = 3
	GGMLTypeQ5_0    GGMLType = 6
	GGMLTypeQ5_1    GGMLType = 7
	GGMLTypeQ8_0    GGMLType = 8
	GGMLTypeQ8_1    GGMLType = 9
	GGMLTypeQ2_K    GGMLType = 10
	GGMLTypeQ3_K    GGMLType = 11
	GGMLTypeQ4_K    GGMLType = 12
	GGMLTypeQ5_K    GGMLType = 13
	GGMLTypeQ6_K    GGMLType = 14
	GGMLTypeQ8_K    GGMLType = 15
	GGMLTypeIQ2_XXS GGMLType = 16
	GGMLTypeIQ2_XS  GGMLType = 17
	GGMLTypeIQ3_XXS GGMLType = 18
	GGMLTypeIQ1_S   GGMLType = 19
	GGMLTypeIQ4_NL  GGMLType = 20
	GGMLTypeIQ3_S   GGMLType = 21
	GGMLTypeIQ2_S   GGMLType = 22
	GGMLTypeIQ4_XS  GGMLType = 23
	GGMLTypeI8      GGMLType = 24
	GGMLTypeI16     GGMLType = 25
	GGMLTypeI32     GGMLType = 26
	GGMLTypeI64     GGMLType = 27
	GGMLTypeF64     GGMLType = 28
	GGMLTypeIQ1_M   GGMLType = 29
	GGMLTypeBF16    GGMLType = 30
	GGMLTypeTQ1_0   GGMLType = 34
	GGMLTypeTQ2_0   GGMLType = 35
	GGMLTypeMXFP4   GGMLType = 39
)

// typeTrait is the storage layout of a ggml type: blockSize elements are
// stored in typeSize bytes (the sizes of the block_* structs in
// ggml-common.h; QK_K is 256).
type typeTrait struct {
	name      string
	blockSize uint64
	typeSize  uint64
}

var typeTraits = map[GGMLType]typeTrait{
	GGMLTypeF32:     {"F32", 1, 4},
	GGMLTypeF16:     {"F16", 1, 2},
	GGMLTypeQ4_0:    {"Q4_0", 32, 18},
	GGMLTypeQ4_1:    {"Q4_1", 32, 20},
	GGMLTypeQ5_0:    {"Q5_0", 32, 22},
	GGMLTypeQ5_1:    {"Q5_1", 32, 24},
	GGMLTypeQ8_0:    {"Q8_0", 32, 34},
	GGMLTypeQ8_1:    {"Q8_1", 32, 36},
	GGMLTypeQ2_K:    {"Q2_K", 256, 84},
	GGMLTypeQ3_K:    {"Q3_K", 256, 110},
	GGMLTypeQ4_K:    {"Q4_K", 256, 144},
	GGMLTypeQ5_K:    {"Q5_K", 256, 176},
	GGMLTypeQ6_K:    {"Q6_K", 256, 210},
	GGMLTypeQ8_K:    {"Q8_K", 256, 292},
	GGMLTypeIQ2_XXS: {"IQ2_XXS", 256, 66},
	GGMLTypeIQ2_XS:  {"IQ2_XS", 256, 74},
	GGMLTypeIQ3_XXS: {"IQ3_XXS", 256, 98},
	GGMLTypeIQ1_S:   {"IQ1_S", 256, 50},
	GGMLTypeIQ4_NL:  {"IQ4_NL", 32, 18},
	GGMLTypeIQ3_S:   {"IQ3_S", 256, 110},
	GGMLTypeIQ2_S:   {"IQ2_S", 256, 82},
	GGMLTypeIQ4_XS:  {"IQ4_XS", 256, 136},
	GGMLTypeI8:      {"I8", 1, 1},
	GGMLTypeI16:     {"I16", 1, 2},
	GGMLTypeI32:     {"I32", 1, 4},
	GGMLTypeI64:     {"I64", 1, 8},
	GGMLTypeF64:     {"F64", 1, 8},
	GGMLTypeIQ1_M:   {"IQ1_M", 256, 56},
	GGMLTypeBF16:    {"BF16", 1, 2},
	GGMLTypeTQ1_0:   {"TQ1_0", 256, 54},
	GGMLTypeTQ2_0:   {"TQ2_0", 256, 66},
	GGMLTypeMXFP4:   {"MXFP4", 32, 17},
}

func (t GGMLType) String() string {
	if tr, ok := typeTraits[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("GGMLType(%d)", uint32(t))
}

// BlockSize is the number of elements in one quantization block (1 for
// plain types), or 0 for a type this package does not know.
func (t GGMLType) BlockSize() uint64 { return typeTraits[t].blockSize }

// TypeSize is the number of bytes of one block, or 0 for an unknown type.
func (t GGMLType) TypeSize() uint64 { return typeTraits[t].typeSize }

// Known reports whether the package knows the type's storage layout.
func (t GGMLType) Known() bool {
	_, ok := typeTraits[t]
	return ok
}

// llama_ftype values the writer uses.
const (
	fileTypeF32  = 0
	fileTypeF16  = 1
	fileTypeQ8_0 = 7
)
