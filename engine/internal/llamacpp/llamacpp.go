// Package llamacpp is ggufd's thin cgo layer over llama.h. It exposes exactly
// what the engine's scheduler needs, without per-token allocations or copies
// on the hot path: batches are filled through Go views of their C arrays and
// logits are read in place.
//
// llama.cpp itself is compiled by the pinned github.com/ollama/ollama module;
// importing its llama package links those objects into the binary. The
// headers come from the same module through CGO_CPPFLAGS (see the Makefile).
package llamacpp

/*
#include <stdlib.h>
#include <string.h>
#include "llama.h"

extern bool ggufdLoadProgress(float progress, void *user_data);

// ggufd_abort is llama.cpp's abort callback: it reads a flag the Go side
// sets from another goroutine, so a decode can stop between graph nodes
// without a cgo callback per node.
static bool ggufd_abort(void *data) {
	return __atomic_load_n((int32_t *)data, __ATOMIC_RELAXED) != 0;
}

static void ggufd_set_abort(struct llama_context_params *p, int32_t *flag) {
	p->abort_callback = ggufd_abort;
	p->abort_callback_data = flag;
}

static struct llama_model *ggufd_load_model(const char *path, struct llama_model_params p, uintptr_t handle) {
	if (handle != 0) {
		p.progress_callback = ggufdLoadProgress;
		p.progress_callback_user_data = (void *)handle;
	}
	return llama_model_load_from_file(path, p);
}

*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"unsafe"

	// Links llama.cpp and ggml (with the CPU backend) into the binary. Its
	// BackendInit is not called: it would load libraries from
	// <binary>/../lib/ollama (see backends.go).
	_ "github.com/ollama/ollama/llama"
)

var backendOnce sync.Once

// Init initialises llama.cpp's backends once per process: it loads the
// backend libraries of ggufd's own folder (see backends.go).
func Init() {
	backendOnce.Do(func() {
		installLog()
		loadDefaultBackends()
		C.llama_backend_init()
		installMtmdLog()
	})
}

//export ggufdLoadProgress
func ggufdLoadProgress(progress C.float, userData unsafe.Pointer) C.bool {
	fn := cgo.Handle(uintptr(userData)).Value().(func(float32) bool)
	return C.bool(fn(float32(progress)))
}

// ModelParams configures a model load.
type ModelParams struct {
	// GPULayers is n_gpu_layers: 0 keeps everything on the CPU, negative
	// offloads every layer.
	GPULayers int
	// TensorSplit is each GPU's share of the offloaded layers, in the
	// order of llama.cpp's device list; nil splits by free memory.
	TensorSplit []float32
	UseMmap     bool
	// Progress is called during the load; returning false aborts it.
	Progress func(float32) bool
}

// Model is a loaded llama_model.
type Model struct {
	p     *C.struct_llama_model
	vocab *C.struct_llama_vocab
}

// LoadModel loads a GGUF file. llama.cpp prints why a load failed to its log;
// the error here only says that it did.
func LoadModel(path string, mp ModelParams) (*Model, error) {
	Init()
	p := C.llama_model_default_params()
	switch {
	case mp.GPULayers < 0:
		p.n_gpu_layers = C.int32_t(math.MaxInt32) // llama.cpp caps it at the model's layers + output
	case mp.GPULayers == 0:
		// No GPU at all, not just no layers: with a GPU in the device
		// list, llama.cpp still reserves a compute buffer on it and sends
		// large CPU matrix products there.
		p.n_gpu_layers = 0
		p.split_mode = C.LLAMA_SPLIT_MODE_NONE
		p.main_gpu = -1
	default:
		p.n_gpu_layers = C.int32_t(mp.GPULayers)
	}
	if len(mp.TensorSplit) > 0 {
		maxDev := int(C.llama_max_devices())
		if len(mp.TensorSplit) > maxDev {
			return nil, fmt.Errorf("tensor split over %d devices; llama.cpp supports %d", len(mp.TensorSplit), maxDev)
		}
		// llama.cpp reads llama_max_devices() floats; C memory, since the
		// params struct holding the pointer is passed by value.
		split := unsafe.Slice((*C.float)(C.calloc(C.size_t(maxDev), C.sizeof_float)), maxDev)
		defer C.free(unsafe.Pointer(&split[0]))
		for i, v := range mp.TensorSplit {
			split[i] = C.float(v)
		}
		p.tensor_split = &split[0]
	}
	p.use_mmap = C.bool(mp.UseMmap)
	var h cgo.Handle
	if mp.Progress != nil {
		h = cgo.NewHandle(mp.Progress)
		defer h.Delete()
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	m := C.ggufd_load_model(cpath, p, C.uintptr_t(h))
	if m == nil {
		return nil, errors.New("llama.cpp could not load the model (corrupt, truncated or unsupported GGUF, or load aborted)")
	}
	return &Model{p: m, vocab: C.llama_model_get_vocab(m)}, nil
}

// SetThreads changes the CPU threads of the following decodes (single-token
// and batch alike). ggml creates its thread pool per graph, so this costs
// nothing by itself.
func (c *Context) SetThreads(n int) { C.llama_set_n_threads(c.p, C.int32_t(n), C.int32_t(n)) }

// SetWarmup marks decodes as warm-up (llama.cpp then runs every expert of a
// mixture-of-experts model, so all weights are touched).
func (c *Context) SetWarmup(on bool) { C.llama_set_warmup(c.p, C.bool(on)) }

// Free releases the model's memory.
func (m *Model) Free() {
	if m.p != nil {
		C.llama_model_free(m.p)
		m.p = nil
	}
}

func (m *Model) NParams() uint64    { return uint64(C.llama_model_n_params(m.p)) }
func (m *Model) Size() uint64       { return uint64(C.llama_model_size(m.p)) }
func (m *Model) NCtxTrain() int     { return int(C.llama_model_n_ctx_train(m.p)) }
func (m *Model) NEmbd() int         { return int(C.llama_model_n_embd(m.p)) }
func (m *Model) NLayer() int        { return int(C.llama_model_n_layer(m.p)) }
func (m *Model) NHead() int         { return int(C.llama_model_n_head(m.p)) }
func (m *Model) NHeadKV() int       { return int(C.llama_model_n_head_kv(m.p)) }
func (m *Model) NVocab() int        { return int(C.llama_vocab_n_tokens(m.vocab)) }
func (m *Model) BOS() int32         { return int32(C.llama_vocab_bos(m.vocab)) }
func (m *Model) EOS() int32         { return int32(C.llama_vocab_eos(m.vocab)) }
func (m *Model) AddBOS() bool       { return bool(C.llama_vocab_get_add_bos(m.vocab)) }
func (m *Model) AddEOS() bool       { return bool(C.llama_vocab_get_add_eos(m.vocab)) }
func (m *Model) HasEncoder() bool   { return bool(C.llama_model_has_encoder(m.p)) }
func (m *Model) IsEOG(t int32) bool { return bool(C.llama_vocab_is_eog(m.vocab, C.llama_token(t))) }

// FIMTokens are the fill-in-the-middle tokens (prefix, suffix, middle);
// -1 (LLAMA_TOKEN_NULL) where the vocabulary has none.
func (m *Model) FIMTokens() (pre, suf, mid int32) {
	return int32(C.llama_vocab_fim_pre(m.vocab)), int32(C.llama_vocab_fim_suf(m.vocab)), int32(C.llama_vocab_fim_mid(m.vocab))
}

// IsControl reports control tokens (e.g. <|im_start|>), which are not
// printed unless asked.
func (m *Model) IsControl(t int32) bool {
	return bool(C.llama_vocab_is_control(m.vocab, C.llama_token(t)))
}

// TokenText is the vocabulary entry of a token (not its decoded bytes).
func (m *Model) TokenText(t int32) string {
	return C.GoString(C.llama_vocab_get_text(m.vocab, C.llama_token(t)))
}

// Meta returns a metadata value as a string.
func (m *Model) Meta(key string) (string, bool) {
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	buf := make([]byte, 256)
	for {
		n := C.llama_model_meta_val_str(m.p, ckey, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
		if n < 0 {
			return "", false
		}
		if int(n) < len(buf) {
			return string(buf[:n]), true
		}
		buf = make([]byte, int(n)+1)
	}
}

// ChatTemplate returns the model's default chat template, "" if none.
func (m *Model) ChatTemplate() string {
	s := C.llama_model_chat_template(m.p, nil)
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// Tokenize converts text to tokens.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error) {
	// A token covers at least one byte, plus BOS/EOS.
	n := len(text) + 2
	for {
		out := make([]int32, n)
		var ctext *C.char
		if len(text) > 0 {
			ctext = (*C.char)(unsafe.Pointer(unsafe.StringData(text)))
		}
		got := C.llama_tokenize(m.vocab, ctext, C.int32_t(len(text)),
			(*C.llama_token)(unsafe.Pointer(&out[0])), C.int32_t(n), C.bool(addSpecial), C.bool(parseSpecial))
		if got == C.INT32_MIN {
			return nil, errors.New("tokenize: text too long")
		}
		if got >= 0 {
			return out[:got], nil
		}
		n = int(-got)
	}
}

// AppendPiece appends the bytes of token t to dst. special renders special
// and control tokens (otherwise they produce no bytes).
func (m *Model) AppendPiece(dst []byte, t int32, special bool) []byte {
	var buf [128]byte
	n := C.llama_token_to_piece(m.vocab, C.llama_token(t), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), 0, C.bool(special))
	if n >= 0 {
		return append(dst, buf[:n]...)
	}
	big := make([]byte, -n)
	n = C.llama_token_to_piece(m.vocab, C.llama_token(t), (*C.char)(unsafe.Pointer(&big[0])), C.int32_t(len(big)), 0, C.bool(special))
	if n < 0 {
		return dst
	}
	return append(dst, big[:n]...)
}

// Detokenize is llama.cpp's inverse of Tokenize (handles SentencePiece's
// leading space the way the tokenizer added it).
func (m *Model) Detokenize(tokens []int32, removeSpecial, unparseSpecial bool) string {
	if len(tokens) == 0 {
		return ""
	}
	n := len(tokens)*8 + 16
	for {
		buf := make([]byte, n)
		got := C.llama_detokenize(m.vocab, (*C.llama_token)(unsafe.Pointer(&tokens[0])), C.int32_t(len(tokens)),
			(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(n), C.bool(removeSpecial), C.bool(unparseSpecial))
		if got >= 0 {
			return string(buf[:got])
		}
		n = int(-got)
	}
}

// ChatMessage is a role/content pair for llama.cpp's built-in templates.
type ChatMessage struct{ Role, Content string }

// ApplyBuiltinTemplate formats messages with llama.cpp's built-in template
// detection (no Jinja): tmpl is matched against known template families.
func ApplyBuiltinTemplate(tmpl string, msgs []ChatMessage, addAssistant bool) (string, error) {
	ctmpl := C.CString(tmpl)
	defer C.free(unsafe.Pointer(ctmpl))
	cmsgs := make([]C.struct_llama_chat_message, len(msgs))
	total := 0
	for i, msg := range msgs {
		cmsgs[i].role = C.CString(msg.Role)
		cmsgs[i].content = C.CString(msg.Content)
		total += len(msg.Role) + len(msg.Content)
	}
	defer func() {
		for i := range cmsgs {
			C.free(unsafe.Pointer(cmsgs[i].role))
			C.free(unsafe.Pointer(cmsgs[i].content))
		}
	}()
	var msgPtr *C.struct_llama_chat_message
	if len(cmsgs) > 0 {
		msgPtr = &cmsgs[0]
	}
	n := 2*total + 256
	for {
		buf := make([]byte, n)
		got := C.llama_chat_apply_template(ctmpl, msgPtr, C.size_t(len(cmsgs)), C.bool(addAssistant), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(n))
		if got < 0 {
			return "", errors.New("llama.cpp does not recognise this chat template")
		}
		if int(got) <= n {
			return string(buf[:got]), nil
		}
		n = int(got)
	}
}

// ContextParams configures a llama_context.
type ContextParams struct {
	NCtx       int // total over all sequences
	NBatch     int
	NUBatch    int
	NSeqMax    int
	Threads    int
	FlashAttn  int // -1 auto, 0 off, 1 on
	TypeKV     string
	Embeddings bool
	Pooling    int // -1 the model's own
	KVUnified  bool
}

// Pooling types (llama_pooling_type).
const (
	PoolingUnspecified = int(C.LLAMA_POOLING_TYPE_UNSPECIFIED)
	PoolingNone        = int(C.LLAMA_POOLING_TYPE_NONE)
	PoolingMean        = int(C.LLAMA_POOLING_TYPE_MEAN)
	PoolingCLS         = int(C.LLAMA_POOLING_TYPE_CLS)
	PoolingLast        = int(C.LLAMA_POOLING_TYPE_LAST)
	PoolingRank        = int(C.LLAMA_POOLING_TYPE_RANK)
)

func ggmlType(s string) (C.enum_ggml_type, error) {
	switch s {
	case "", "f16":
		return C.GGML_TYPE_F16, nil
	case "q8_0":
		return C.GGML_TYPE_Q8_0, nil
	case "q4_0":
		return C.GGML_TYPE_Q4_0, nil
	}
	return 0, fmt.Errorf("unknown KV cache type %q (want f16, q8_0 or q4_0)", s)
}

// Context is a llama_context. It is not safe for concurrent use: the engine
// gives each one to a single scheduler goroutine.
type Context struct {
	p      *C.struct_llama_context
	mem    C.llama_memory_t
	nVocab int
	nEmbd  int
	abort  *C.int32_t // C memory: read by ggufd_abort during decode
}

// NewContext creates a context for m.
func NewContext(m *Model, cp ContextParams) (*Context, error) {
	p := C.llama_context_default_params()
	p.n_ctx = C.uint32_t(cp.NCtx)
	p.n_batch = C.uint32_t(cp.NBatch)
	p.n_ubatch = C.uint32_t(cp.NUBatch)
	p.n_seq_max = C.uint32_t(cp.NSeqMax)
	p.n_threads = C.int32_t(cp.Threads)
	p.n_threads_batch = C.int32_t(cp.Threads)
	p.flash_attn_type = C.enum_llama_flash_attn_type(cp.FlashAttn)
	t, err := ggmlType(cp.TypeKV)
	if err != nil {
		return nil, err
	}
	p.type_k, p.type_v = t, t
	p.embeddings = C.bool(cp.Embeddings)
	p.pooling_type = C.enum_llama_pooling_type(cp.Pooling)
	p.kv_unified = C.bool(cp.KVUnified)
	p.no_perf = true
	flag := (*C.int32_t)(C.calloc(1, C.size_t(unsafe.Sizeof(C.int32_t(0)))))
	C.ggufd_set_abort(&p, flag)
	c := C.llama_init_from_model(m.p, p)
	if c == nil {
		C.free(unsafe.Pointer(flag))
		return nil, errors.New("llama.cpp could not create a context (see its log: memory, or an unsupported cache type / flash attention combination)")
	}
	return &Context{p: c, mem: C.llama_get_memory(c), nVocab: m.NVocab(), nEmbd: m.NEmbd(), abort: flag}, nil
}

// SetAbort asks a running Decode to stop as soon as it can (it then returns
// 2). It is the one Context method that is safe to call from another
// goroutine. Clear it before the next Decode.
func (c *Context) SetAbort(v bool) {
	var x int32
	if v {
		x = 1
	}
	atomic.StoreInt32((*int32)(unsafe.Pointer(c.abort)), x)
}

// Free releases the context.
func (c *Context) Free() {
	if c.p != nil {
		C.llama_free(c.p)
		C.free(unsafe.Pointer(c.abort))
		c.p = nil
	}
}

func (c *Context) NCtx() int        { return int(C.llama_n_ctx(c.p)) }
func (c *Context) NCtxSeq() int     { return int(C.llama_n_ctx_seq(c.p)) }
func (c *Context) PoolingType() int { return int(C.llama_pooling_type(c.p)) }

// Decode runs the model on a batch. It returns llama_decode's status:
// 0 ok, 1 no KV slot for the batch, 2 aborted (ubatches already processed
// stay in the KV cache), negative: error.
func (c *Context) Decode(b *Batch) int {
	b.c.n_tokens = C.int32_t(b.n)
	return int(C.llama_decode(c.p, b.c))
}

// Logits returns the logits of batch position i in place. The slice is valid
// until the next Decode.
func (c *Context) Logits(i int) []float32 {
	p := C.llama_get_logits_ith(c.p, C.int32_t(i))
	if p == nil {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(p)), c.nVocab)
}

// EmbeddingsSeq returns the pooled embedding of a sequence (a copy).
func (c *Context) EmbeddingsSeq(seq int) []float32 {
	p := C.llama_get_embeddings_seq(c.p, C.llama_seq_id(seq))
	if p == nil {
		return nil
	}
	return append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(p)), c.nEmbd)...)
}

// EmbeddingsIth returns the embedding of batch position i (a copy).
func (c *Context) EmbeddingsIth(i int) []float32 {
	p := C.llama_get_embeddings_ith(c.p, C.int32_t(i))
	if p == nil {
		return nil
	}
	return append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(p)), c.nEmbd)...)
}

// SeqRm removes positions [p0, p1) of a sequence (-1: open end).
func (c *Context) SeqRm(seq, p0, p1 int) bool {
	return bool(C.llama_memory_seq_rm(c.mem, C.llama_seq_id(seq), C.llama_pos(p0), C.llama_pos(p1)))
}

// SeqCp copies positions [p0, p1) of src to dst.
func (c *Context) SeqCp(src, dst, p0, p1 int) {
	C.llama_memory_seq_cp(c.mem, C.llama_seq_id(src), C.llama_seq_id(dst), C.llama_pos(p0), C.llama_pos(p1))
}

// Clear empties the whole KV cache.
func (c *Context) Clear() { C.llama_memory_clear(c.mem, true) }

// Batch is a llama_batch with Go views of its arrays.
type Batch struct {
	c      C.struct_llama_batch
	n      int
	cap    int
	token  []C.llama_token
	pos    []C.llama_pos
	logits []C.int8_t
	nSeq   []C.int32_t
	seqID  []*C.llama_seq_id
}

// NewBatch allocates a batch of up to capacity tokens.
func NewBatch(capacity, nSeqMax int) *Batch {
	b := &Batch{c: C.llama_batch_init(C.int32_t(capacity), 0, C.int32_t(nSeqMax)), cap: capacity}
	b.token = unsafe.Slice(b.c.token, capacity)
	b.pos = unsafe.Slice(b.c.pos, capacity)
	b.logits = unsafe.Slice(b.c.logits, capacity)
	b.nSeq = unsafe.Slice(b.c.n_seq_id, capacity)
	b.seqID = unsafe.Slice(b.c.seq_id, capacity)
	return b
}

// Add appends a token of sequence seq at position pos; output asks for its
// logits (or embedding). It returns the token's index in the batch.
func (b *Batch) Add(token int32, pos, seq int, output bool) int {
	i := b.n
	b.token[i] = C.llama_token(token)
	b.pos[i] = C.llama_pos(pos)
	b.nSeq[i] = 1
	*b.seqID[i] = C.llama_seq_id(seq)
	if output {
		b.logits[i] = 1
	} else {
		b.logits[i] = 0
	}
	b.n++
	return i
}

func (b *Batch) Len() int { return b.n }
func (b *Batch) Cap() int { return b.cap }
func (b *Batch) Clear()   { b.n = 0 }
func (b *Batch) Free()    { C.llama_batch_free(b.c) }
