package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
)

// SynthSpec describes a synthetic llama-architecture model: real shapes and
// a working tokenizer, random weights. Zero fields take the defaults noted.
type SynthSpec struct {
	Name          string // general.name; "synthetic-llama"
	Dim           int    // embedding length
	Layers        int
	Heads         int
	KVHeads       int    // 0: Heads (no grouped-query attention)
	FFN           int    // feed-forward length
	ContextLength int    // trained context; 0: 2048
	WeightType    string // "q8_0" (default), "f16" or "f32"; norms are always f32
	Seed          int64
	Vocab         VocabSource
	ChatTemplate  string // tokenizer.chat_template; overrides a donor's
	Description   string // general.description; a note that the output is gibberish
	// Projector, when set, makes Synthesize also write a vision projector
	// for the model at ProjectorPath(path).
	Projector *ProjectorSpec
}

// VocabSource says where a synthetic model's tokenizer comes from: a donor
// GGUF file, whose tokenizer.* metadata is copied whole, or the package's
// built-in vocabulary (a small SentencePiece-style "llama" vocabulary with
// byte fallback and ChatML tokens). The zero value means built-in.
type VocabSource struct {
	DonorPath string
	Builtin   bool
}

// Preset returns the spec of a named synthetic model:
//
//   - "demo": a tiny model (dim 64, 2 layers) with the built-in vocabulary
//     and a ChatML template; it is written in milliseconds.
//   - "vision-demo": "demo" plus a tiny LLaVA-style vision projector (see
//     ProjectorSpec), written beside the model.
//   - "110m": the shape of llama2.c's stories110M (dim 768, 12 layers, 12
//     heads, ffn 2048).
//   - "tinyllama-1.1b": the shape of TinyLlama 1.1B (dim 2048, 22 layers, 32
//     heads, 4 KV heads, ffn 5632).
//
// Presets use the built-in vocabulary; set Vocab.DonorPath (e.g. to a
// Llama-2 GGUF) for a realistic 32k vocabulary, which also makes the
// embedding and output matrices full size.
func Preset(name string) (SynthSpec, error) {
	switch name {
	case "demo":
		return SynthSpec{
			Name: "demo-random", Dim: 64, Layers: 2, Heads: 4, KVHeads: 4, FFN: 192,
			ContextLength: 2048, Vocab: VocabSource{Builtin: true}, ChatTemplate: ChatMLTemplate,
			Description: "A tiny demo model with random weights: its output is gibberish. " +
				"It exists to try the API without downloading a model.",
		}, nil
	case "vision-demo":
		s, _ := Preset("demo")
		s.Name = "demo-vision-random"
		s.Description = "A tiny vision demo model (LLaVA-style projector) with random weights: its output is gibberish. " +
			"It exists to try image input without downloading a model."
		s.Projector = &ProjectorSpec{}
		return s, nil
	case "110m":
		return SynthSpec{
			Name: "synthetic-110m", Dim: 768, Layers: 12, Heads: 12, KVHeads: 12, FFN: 2048,
			ContextLength: 2048,
		}, nil
	case "tinyllama-1.1b":
		return SynthSpec{
			Name: "synthetic-tinyllama-1.1b", Dim: 2048, Layers: 22, Heads: 32, KVHeads: 4, FFN: 5632,
			ContextLength: 2048,
		}, nil
	case "llama-8b":
		// Llama-3-8B's transformer shape (with a 32k donor vocabulary, 7.2B
		// parameters, 7.7 GB in Q8_0): the GPU benchmark's mid-size model.
		return SynthSpec{
			Name: "synthetic-llama-8b", Dim: 4096, Layers: 32, Heads: 32, KVHeads: 8, FFN: 14336,
			ContextLength: 8192,
		}, nil
	}
	return SynthSpec{}, fmt.Errorf("gguf: unknown preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
}

// PresetNames lists the names Preset knows.
func PresetNames() []string {
	return []string{"demo", "vision-demo", "110m", "tinyllama-1.1b", "llama-8b"}
}

// ChatMLTemplate is the ChatML chat template the demo preset carries.
const ChatMLTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
	"{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// withDefaults fills zero fields and checks that llama.cpp can load the shape.
func (s SynthSpec) withDefaults() (SynthSpec, error) {
	if s.Name == "" {
		s.Name = "synthetic-llama"
	}
	if s.KVHeads == 0 {
		s.KVHeads = s.Heads
	}
	if s.ContextLength == 0 {
		s.ContextLength = 2048
	}
	if s.WeightType == "" {
		s.WeightType = "q8_0"
	}
	s.WeightType = strings.ToLower(s.WeightType)
	if s.Description == "" {
		s.Description = "Synthetic model with random weights: its output is gibberish."
	}
	switch {
	case s.Dim <= 0 || s.Layers <= 0 || s.Heads <= 0 || s.FFN <= 0 || s.KVHeads < 0 || s.ContextLength < 0:
		return s, fmt.Errorf("Dim, Layers, Heads and FFN must be positive (got %d, %d, %d, %d)", s.Dim, s.Layers, s.Heads, s.FFN)
	case s.Dim%s.Heads != 0:
		return s, fmt.Errorf("Dim %d is not a multiple of Heads %d", s.Dim, s.Heads)
	case (s.Dim/s.Heads)%2 != 0:
		return s, fmt.Errorf("head dimension %d must be even for RoPE", s.Dim/s.Heads)
	case s.Heads%s.KVHeads != 0:
		return s, fmt.Errorf("Heads %d is not a multiple of KVHeads %d", s.Heads, s.KVHeads)
	case s.Vocab.Builtin && s.Vocab.DonorPath != "":
		return s, errors.New("Vocab: set either DonorPath or Builtin, not both")
	}
	if _, err := s.weightType(); err != nil {
		return s, err
	}
	if s.Projector != nil {
		p, err := s.Projector.withDefaults()
		if err != nil {
			return s, err
		}
		s.Projector = &p
	}
	if s.WeightType == "q8_0" && (s.Dim%32 != 0 || s.FFN%32 != 0) {
		return s, fmt.Errorf("q8_0 weights need Dim and FFN to be multiples of 32 (got %d, %d)", s.Dim, s.FFN)
	}
	return s, nil
}

func (s SynthSpec) weightType() (GGMLType, error) {
	switch s.WeightType {
	case "q8_0":
		return GGMLTypeQ8_0, nil
	case "f16":
		return GGMLTypeF16, nil
	case "f32":
		return GGMLTypeF32, nil
	}
	return 0, fmt.Errorf("WeightType %q: want q8_0, f16 or f32", s.WeightType)
}

// Synthesize writes a llama-architecture GGUF v3 model with random weights
// to path, and its projector beside it when spec.Projector is set. It
// writes a temporary file next to path and renames it, so a reader never
// sees a half-written model. The output depends only on spec (same seed,
// same bytes).
func Synthesize(path string, spec SynthSpec) error {
	s, err := spec.withDefaults()
	if err != nil {
		return fmt.Errorf("gguf: synthesize %s: %w", path, err)
	}
	tokKVs, vocab, err := s.tokenizer()
	if err != nil {
		return fmt.Errorf("gguf: synthesize %s: %w", path, err)
	}
	wt, _ := s.weightType()
	kvs := append(s.modelKVs(wt, vocab), tokKVs...)
	if err := writeFileAtomic(path, kvs, s.tensors(wt, vocab)); err != nil {
		return err
	}
	if s.Projector != nil {
		pp := ProjectorPath(path)
		if err := writeFileAtomic(pp, s.Projector.kvs(s), s.Projector.tensors(s)); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes a GGUF file to a temporary file next to path and
// renames it, so a reader never sees a half-written file.
func writeFileAtomic(path string, kvs []KV, tensors []WriteTensor) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("gguf: synthesize: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if err := Write(tmp, kvs, tensors); err != nil {
		tmp.Close()
		return fmt.Errorf("gguf: synthesize %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("gguf: synthesize %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("gguf: synthesize %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf: synthesize: %w", err)
	}
	return nil
}

// tokenizer returns the tokenizer.* metadata and the vocabulary size.
func (s SynthSpec) tokenizer() ([]KV, int, error) {
	var kvs []KV
	if s.Vocab.DonorPath != "" {
		donor, err := Open(s.Vocab.DonorPath)
		if err != nil {
			return nil, 0, fmt.Errorf("vocabulary donor: %w", err)
		}
		for _, kv := range donor.KVs {
			if strings.HasPrefix(kv.Key, "tokenizer.") {
				kvs = append(kvs, kv)
			}
		}
	} else {
		kvs = builtinTokenizerKVs()
	}
	vocab := 0
	for i, kv := range kvs {
		switch kv.Key {
		case "tokenizer.ggml.tokens":
			if a, ok := kv.Value.(Array); ok {
				vocab = a.Len
			}
		case "tokenizer.chat_template":
			if s.ChatTemplate != "" {
				kvs[i].Value = s.ChatTemplate
				s.ChatTemplate = ""
			}
		}
	}
	if vocab == 0 {
		return nil, 0, fmt.Errorf("vocabulary donor %s has no tokenizer.ggml.tokens", s.Vocab.DonorPath)
	}
	if s.ChatTemplate != "" {
		kvs = append(kvs, KV{Key: "tokenizer.chat_template", Type: TypeString, Value: s.ChatTemplate})
	}
	return kvs, vocab, nil
}

func (s SynthSpec) modelKVs(wt GGMLType, vocab int) []KV {
	fileType := map[GGMLType]uint32{GGMLTypeF32: fileTypeF32, GGMLTypeF16: fileTypeF16, GGMLTypeQ8_0: fileTypeQ8_0}[wt]
	u32 := func(key string, v int) KV { return KV{Key: key, Type: TypeUint32, Value: uint32(v)} }
	return []KV{
		{Key: "general.architecture", Type: TypeString, Value: "llama"},
		{Key: "general.type", Type: TypeString, Value: "model"},
		{Key: "general.name", Type: TypeString, Value: s.Name},
		{Key: "general.description", Type: TypeString, Value: s.Description},
		{Key: "general.file_type", Type: TypeUint32, Value: fileType},
		{Key: "general.quantization_version", Type: TypeUint32, Value: uint32(2)},
		{Key: "general.alignment", Type: TypeUint32, Value: uint32(defaultAlignment)},
		u32("llama.vocab_size", vocab),
		u32("llama.context_length", s.ContextLength),
		u32("llama.embedding_length", s.Dim),
		u32("llama.block_count", s.Layers),
		u32("llama.feed_forward_length", s.FFN),
		u32("llama.attention.head_count", s.Heads),
		u32("llama.attention.head_count_kv", s.KVHeads),
		u32("llama.rope.dimension_count", s.Dim/s.Heads),
		{Key: "llama.rope.freq_base", Type: TypeFloat32, Value: float32(10000)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Type: TypeFloat32, Value: float32(1e-5)},
	}
}

// weightStd is the standard deviation of the random weights: the usual
// initialisation scale, small enough that activations stay finite through
// many layers of random matrices.
const weightStd = 0.02

// tensors lists the llama tensors with the shapes llama.cpp expects (ggml
// order: input dimension first) and their random-data generators.
func (s SynthSpec) tensors(wt GGMLType, vocab int) []WriteTensor {
	dim, kvDim, ffn, nv := uint64(s.Dim), uint64(s.Dim/s.Heads*s.KVHeads), uint64(s.FFN), uint64(vocab)
	var ts []WriteTensor
	seed := uint64(s.Seed)
	add := func(name string, typ GGMLType, dims ...uint64) {
		// Each tensor gets its own stream so that its bytes do not depend on
		// the tensors before it.
		rng := newRNG(seed ^ uint64(len(ts)+1)*0x9e3779b97f4a7c15)
		ts = append(ts, WriteTensor{Name: name, Dims: dims, Type: typ, Fill: randomFill(typ, dims, rng)})
	}
	add("token_embd.weight", wt, dim, nv)
	for i := range s.Layers {
		blk := fmt.Sprintf("blk.%d.", i)
		add(blk+"attn_norm.weight", GGMLTypeF32, dim)
		add(blk+"attn_q.weight", wt, dim, dim)
		add(blk+"attn_k.weight", wt, dim, kvDim)
		add(blk+"attn_v.weight", wt, dim, kvDim)
		add(blk+"attn_output.weight", wt, dim, dim)
		add(blk+"ffn_norm.weight", GGMLTypeF32, dim)
		add(blk+"ffn_gate.weight", wt, dim, ffn)
		add(blk+"ffn_up.weight", wt, dim, ffn)
		add(blk+"ffn_down.weight", wt, ffn, dim)
	}
	add("output_norm.weight", GGMLTypeF32, dim)
	add("output.weight", wt, dim, nv)
	return ts
}

// randomFill returns a Fill function for a tensor: 1-D tensors (the norm
// weights) are all ones, as a trained RMSNorm starts; matrices get random
// values with standard deviation weightStd.
func randomFill(typ GGMLType, dims []uint64, rng *rng) func(io.Writer) error {
	n := uint64(1)
	for _, d := range dims {
		n *= d
	}
	if len(dims) == 1 {
		return func(w io.Writer) error { return writeOnes(w, n) }
	}
	switch typ {
	case GGMLTypeQ8_0:
		return func(w io.Writer) error { return writeRandomQ8_0(w, n/32, rng) }
	case GGMLTypeF16:
		return func(w io.Writer) error { return writeRandomFloat(w, n, 2, rng) }
	default:
		return func(w io.Writer) error { return writeRandomFloat(w, n, 4, rng) }
	}
}

func writeOnes(w io.Writer, n uint64) error {
	buf := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(1))
	}
	_, err := w.Write(buf)
	return err
}

// chunkBlocks is how many Q8_0 blocks are generated per write: ~1 MiB, and
// a multiple of 8 bytes so that whole random words fill it.
const chunkBlocks = 32768

// writeRandomQ8_0 writes blocks of Q8_0: an fp16 scale and 32 int8 quants.
// The quants are raw random bytes (uniform over int8, standard deviation
// ~73.9) under one fixed scale that brings the values to weightStd; this is
// not a quantization of anything, but it has the right statistics and costs
// one random word per 8 bytes, which is what makes a 1.1B model quick.
func writeRandomQ8_0(w io.Writer, blocks uint64, r *rng) error {
	const blockBytes = 34
	scale := f32ToF16(weightStd / 73.9)
	buf := make([]byte, chunkBlocks*blockBytes)
	for blocks > 0 {
		nb := min(blocks, chunkBlocks)
		b := buf[:nb*blockBytes]
		r.fill(b)
		for i := 0; i < len(b); i += blockBytes {
			binary.LittleEndian.PutUint16(b[i:], scale)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		blocks -= nb
	}
	return nil
}

// writeRandomFloat writes n values uniform in ±weightStd·√3 (standard
// deviation weightStd) as f32 (size 4) or f16 (size 2).
func writeRandomFloat(w io.Writer, n uint64, size int, r *rng) error {
	const chunk = 1 << 18
	amp := weightStd * math.Sqrt(3) / (1 << 31)
	buf := make([]byte, chunk*size)
	for n > 0 {
		k := min(n, chunk)
		for i := range k {
			v := float32(float64(int32(r.next()>>32)) * amp)
			if size == 4 {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			} else {
				binary.LittleEndian.PutUint16(buf[2*i:], f32ToF16(v))
			}
		}
		if _, err := w.Write(buf[:k*uint64(size)]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// rng is wyrand: a tiny, fast generator with good statistical quality,
// far quicker than math/rand per byte. Not for cryptography.
type rng struct{ state uint64 }

func newRNG(seed uint64) *rng { return &rng{state: seed} }

func (r *rng) next() uint64 {
	r.state += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.state, r.state^0xe7037ed1a0b428db)
	return hi ^ lo
}

// fill overwrites b with random bytes.
func (r *rng) fill(b []byte) {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.next())
	}
	if i < len(b) {
		var tail [8]byte
		binary.LittleEndian.PutUint64(tail[:], r.next())
		copy(b[i:], tail[:])
	}
}

// f32ToF16 converts to IEEE half precision, rounding to nearest; values too
// small for a normal half become zero (fine for weights), too large become
// infinity.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b&0x7fffffff == 0 || exp <= 0:
		return sign
	case exp >= 0x1f:
		return sign | 0x7c00
	}
	h := uint32(exp)<<10 | mant>>13
	if mant&0x1fff > 0x1000 || (mant&0x1fff == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, which is the correct rounding
	}
	return sign | uint16(h)
}
