package llamacpp

/*
#include <stdlib.h>
#include "llama.h"
// mtmd.h sits in llama.cpp's tools/ folder, beside the include folder the
// Makefile puts on the path. Reaching it relative to that folder keeps
// CGO_CPPFLAGS unchanged: the Go build cache keys every cgo package on that
// string, and a new -I would recompile llama.cpp in every checkout.
#include "../tools/mtmd/mtmd.h"

extern void ggufdLog(int level, char *text, void *user_data);

static void ggufd_install_mtmd_log(void) {
	mtmd_log_set((ggml_log_callback)ggufdLog, NULL);
}

static mtmd_context *ggufd_mtmd_init(const char *path, const struct llama_model *m, int threads, bool gpu, int flash_attn) {
	struct mtmd_context_params p = mtmd_context_params_default();
	p.use_gpu = gpu;
	p.n_threads = threads;
	p.print_timings = false;
	p.flash_attn_type = (enum llama_flash_attn_type)flash_attn;
	return mtmd_init_from_file(path, m, p);
}

static int32_t ggufd_mtmd_tokenize(mtmd_context *ctx, mtmd_input_chunks *out, const char *text,
		bool add_special, bool parse_special, const mtmd_bitmap **bitmaps, size_t n) {
	mtmd_input_text in = { text, add_special, parse_special };
	return mtmd_tokenize(ctx, out, &in, bitmaps, n);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

func installMtmdLog() { C.ggufd_install_mtmd_log() }

// MediaMarker is the text that stands for one image in a prompt given to
// Projector.Tokenize (mtmd_default_marker).
func MediaMarker() string { return C.GoString(C.mtmd_default_marker()) }

// ProjectorParams configures a multimodal projector.
type ProjectorParams struct {
	Threads   int
	GPU       bool
	FlashAttn int // -1 auto, 0 off, 1 on
}

// Projector is an mtmd context: a vision encoder (CLIP-style) and the
// projector that maps its output into the text model's embedding space.
// Tokenize is safe for concurrent use; Encode is not (it writes the
// context's one output buffer), so the engine calls it from its scheduler
// goroutine only.
type Projector struct {
	p     *C.mtmd_context
	nEmbd int
}

// LoadProjector loads the mmproj GGUF at path for the text model m.
// llama.cpp logs why a load failed; the error says that it did.
func LoadProjector(path string, m *Model, pp ProjectorParams) (*Projector, error) {
	Init()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	p := C.ggufd_mtmd_init(cpath, m.p, C.int(max(pp.Threads, 1)), C.bool(pp.GPU), C.int(pp.FlashAttn))
	if p == nil {
		return nil, errors.New("llama.cpp could not load the projector (not an mmproj GGUF, unsupported projector type, or its embedding size differs from the model's)")
	}
	if !C.mtmd_support_vision(p) {
		C.mtmd_free(p)
		return nil, errors.New("the projector has no vision encoder (audio-only projectors are not supported)")
	}
	return &Projector{p: p, nEmbd: int(C.llama_model_n_embd_inp(m.p))}, nil
}

// Free releases the projector.
func (p *Projector) Free() {
	if p.p != nil {
		C.mtmd_free(p.p)
		p.p = nil
	}
}

// NonCausal reports that image embeddings must be decoded in one batch
// with causal attention off (Gemma 3).
func (p *Projector) NonCausal() bool { return bool(C.mtmd_decode_use_non_causal(p.p)) }

// MRoPE reports that the text model places image embeddings with
// multi-dimensional positions (Qwen2-VL and later).
func (p *Projector) MRoPE() bool { return bool(C.mtmd_decode_use_mrope(p.p)) }

// NEmbd is the size of one image embedding (the text model's input size).
func (p *Projector) NEmbd() int { return p.nEmbd }

// Bitmap is a decoded image: Width×Height pixels, RGB, row-major. ID, if
// set, is carried by the image's chunks (Chunk.ID).
type Bitmap struct {
	Width, Height int
	RGB           []byte
	ID            string
}

// Chunks is the result of Tokenize: text and image chunks in prompt order.
// It owns C memory (the preprocessed images): call Free.
type Chunks struct {
	p *C.mtmd_input_chunks
}

// ErrPreprocess is an image mtmd could not preprocess.
var ErrPreprocess = errors.New("the image could not be preprocessed for the vision encoder")

// Tokenize splits text at each MediaMarker and tokenizes the parts, and
// preprocesses images[i] for the i-th marker into an image chunk.
// addSpecial adds BOS (and EOS) as the text model wants.
func (p *Projector) Tokenize(text string, addSpecial, parseSpecial bool, images []Bitmap) (*Chunks, error) {
	bms := make([]*C.mtmd_bitmap, len(images))
	defer func() {
		for _, b := range bms {
			if b != nil {
				C.mtmd_bitmap_free(b)
			}
		}
	}()
	for i, im := range images {
		if im.Width <= 0 || im.Height <= 0 || len(im.RGB) != im.Width*im.Height*3 {
			return nil, fmt.Errorf("image %d: %d bytes for %dx%d RGB pixels", i, len(im.RGB), im.Width, im.Height)
		}
		bms[i] = C.mtmd_bitmap_init(C.uint32_t(im.Width), C.uint32_t(im.Height), (*C.uchar)(unsafe.Pointer(&im.RGB[0])))
		if im.ID != "" {
			cid := C.CString(im.ID)
			C.mtmd_bitmap_set_id(bms[i], cid)
			C.free(unsafe.Pointer(cid))
		}
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	out := C.mtmd_input_chunks_init()
	var bp **C.mtmd_bitmap
	if len(bms) > 0 {
		bp = &bms[0]
	}
	switch rc := C.ggufd_mtmd_tokenize(p.p, out, ctext, C.bool(addSpecial), C.bool(parseSpecial), bp, C.size_t(len(bms))); rc {
	case 0:
		return &Chunks{p: out}, nil
	case 1:
		C.mtmd_input_chunks_free(out)
		return nil, fmt.Errorf("the prompt holds a different number of image markers than the %d images given", len(images))
	case 2:
		C.mtmd_input_chunks_free(out)
		return nil, ErrPreprocess
	default:
		C.mtmd_input_chunks_free(out)
		return nil, fmt.Errorf("mtmd_tokenize failed with status %d", int(rc))
	}
}

// Free releases the chunks.
func (c *Chunks) Free() {
	if c != nil && c.p != nil {
		C.mtmd_input_chunks_free(c.p)
		c.p = nil
	}
}

// Len is the number of chunks.
func (c *Chunks) Len() int { return int(C.mtmd_input_chunks_size(c.p)) }

// Chunk is one text or image chunk, valid while its Chunks is.
type Chunk struct{ p *C.mtmd_input_chunk }

// At returns chunk i.
func (c *Chunks) At(i int) Chunk { return Chunk{p: C.mtmd_input_chunks_get(c.p, C.size_t(i))} }

// IsImage reports an image chunk; anything else (text) has Tokens.
func (ch Chunk) IsImage() bool {
	return C.mtmd_input_chunk_get_type(ch.p) == C.MTMD_INPUT_CHUNK_TYPE_IMAGE
}

// NTokens is the number of positions the chunk takes in the sequence.
func (ch Chunk) NTokens() int { return int(C.mtmd_input_chunk_get_n_tokens(ch.p)) }

// ID is the ID of the bitmap an image chunk comes from ("" for text).
func (ch Chunk) ID() string {
	if id := C.mtmd_input_chunk_get_id(ch.p); id != nil {
		return C.GoString(id)
	}
	return ""
}

// Tokens returns a text chunk's token ids (a copy).
func (ch Chunk) Tokens() []int32 {
	var n C.size_t
	p := C.mtmd_input_chunk_get_tokens_text(ch.p, &n)
	if p == nil || n == 0 {
		return nil
	}
	return append([]int32(nil), unsafe.Slice((*int32)(unsafe.Pointer(p)), int(n))...)
}

// Encode runs the vision encoder and projector on an image chunk and
// returns its embeddings: NTokens rows of NEmbd floats. It blocks for the
// whole encoding (mtmd has no abort hook).
func (p *Projector) Encode(ch Chunk) ([]float32, error) {
	if rc := C.mtmd_encode_chunk(p.p, ch.p); rc != 0 {
		return nil, fmt.Errorf("mtmd_encode_chunk failed with status %d", int(rc))
	}
	out := C.mtmd_get_output_embd(p.p)
	if out == nil {
		return nil, errors.New("mtmd returned no embeddings")
	}
	n := ch.NTokens() * p.nEmbd
	return append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(out)), n)...), nil
}

// EmbdBatch is a llama_batch of embeddings (instead of token ids), for
// decoding image embeddings into a sequence.
type EmbdBatch struct {
	c      C.struct_llama_batch
	n      int
	cap    int
	nEmbd  int
	embd   []float32
	pos    []C.llama_pos
	logits []C.int8_t
	nSeq   []C.int32_t
	seqID  []*C.llama_seq_id
}

// NewEmbdBatch allocates a batch of up to capacity embeddings of nEmbd
// floats.
func NewEmbdBatch(capacity, nEmbd, nSeqMax int) *EmbdBatch {
	b := &EmbdBatch{c: C.llama_batch_init(C.int32_t(capacity), C.int32_t(nEmbd), C.int32_t(nSeqMax)), cap: capacity, nEmbd: nEmbd}
	b.embd = unsafe.Slice((*float32)(unsafe.Pointer(b.c.embd)), capacity*nEmbd)
	b.pos = unsafe.Slice(b.c.pos, capacity)
	b.logits = unsafe.Slice(b.c.logits, capacity)
	b.nSeq = unsafe.Slice(b.c.n_seq_id, capacity)
	b.seqID = unsafe.Slice(b.c.seq_id, capacity)
	return b
}

// Add appends one embedding row of sequence seq at position pos, without
// output.
func (b *EmbdBatch) Add(row []float32, pos, seq int) {
	i := b.n
	copy(b.embd[i*b.nEmbd:(i+1)*b.nEmbd], row)
	b.pos[i] = C.llama_pos(pos)
	b.nSeq[i] = 1
	*b.seqID[i] = C.llama_seq_id(seq)
	b.logits[i] = 0
	b.n++
}

func (b *EmbdBatch) Len() int { return b.n }
func (b *EmbdBatch) Cap() int { return b.cap }
func (b *EmbdBatch) Clear()   { b.n = 0 }
func (b *EmbdBatch) Free()    { C.llama_batch_free(b.c) }

// DecodeEmbd runs the model on an embedding batch; the status is Decode's.
func (c *Context) DecodeEmbd(b *EmbdBatch) int {
	b.c.n_tokens = C.int32_t(b.n)
	return int(C.llama_decode(c.p, b.c))
}

// SetCausalAttn turns causal attention on or off for the next decodes.
func (c *Context) SetCausalAttn(on bool) { C.llama_set_causal_attn(c.p, C.bool(on)) }
