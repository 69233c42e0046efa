package gguf

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// EstimateParams describes how a model will be loaded.
type EstimateParams struct {
	ContextLength int    // tokens per sequence; 0: the trained context length
	Parallel      int    // sequences decoded together; 0: 1
	KVCacheType   string // "f16" (default), "q8_0" or "q4_0"
	BatchSize     int    // tokens per decode step (llama.cpp's n_ubatch); 0: 512
	Embeddings    bool   // the context also returns embeddings
	// FlashAttention says llama.cpp will use flash attention. Leave it false
	// for a conservative estimate: without it the attention scores of a
	// whole batch are materialised, which is the biggest compute buffer of
	// most models at long contexts.
	FlashAttention bool
}

// Estimate is the memory a loaded model needs, in bytes, split as llama.cpp
// splits its buffers.
type Estimate struct {
	Weights uint64 // tensor data (mapped or read into memory)
	KVCache uint64 // K and V for every layer and every cell
	Compute uint64 // compute graph buffer plus the logits/embeddings output buffer
	Total   uint64

	// The same bytes by where llama.cpp can put them, for placing a model
	// on GPUs. llama.cpp offloads the last repeating layers first, the
	// output layer only once every repeating layer is offloaded, and keeps
	// the input layer on the CPU.
	//
	//	Weights = InputWeights + Σ Layers[i].Weights + OutputWeights - TiedOutput
	//	KVCache = Σ Layers[i].KVCache
	//	Compute = Graph + OutputBuffer
	Layers []LayerEstimate // the repeating layers (blk.N), in order
	// InputWeights are the token embeddings and every tensor outside the
	// repeating and output layers: always on the CPU.
	InputWeights uint64
	// OutputWeights are the output norm and head, counted as one more
	// layer when offloaded.
	OutputWeights uint64
	// TiedOutput is the part of OutputWeights that is the token embedding
	// matrix reused as the head (no output.weight in the file): free on the
	// CPU, where it shares the input's mapping, a copy on a GPU.
	TiedOutput uint64
	// Graph is the compute buffer of a device that runs layers of the
	// graph; every such device (the CPU included) reserves one.
	Graph uint64
	// HostGraph is what the CPU reserves instead when every layer runs on
	// GPUs: the input embeddings of one batch. Not measured on a GPU here;
	// sized generously (three batch × embedding f32 tensors plus 1 MiB).
	HostGraph uint64
	// OutputBuffer holds the logits (and embeddings) handed back per
	// sequence. It is always in system memory.
	OutputBuffer uint64
}

// LayerEstimate is one repeating layer: its weights and its share of the KV
// cache, which lives on the same device as the layer.
type LayerEstimate struct {
	Weights uint64
	KVCache uint64
}

// Bytes is what the layer takes on the device that holds it.
func (l LayerEstimate) Bytes() uint64 { return l.Weights + l.KVCache }

// kvBytesPerElement gives the cache element size as a fraction num/den
// (quantized caches store blocks of 32 values).
func kvBytesPerElement(cacheType string) (num, den uint64) {
	switch strings.ToLower(cacheType) {
	case "q8_0":
		return 34, 32
	case "q4_0":
		return 18, 32
	default: // "f16" and anything llama.cpp would also fall back to f16 for
		return 2, 1
	}
}

// Estimate predicts what llama.cpp allocates on the CPU to run the model with
// the given parameters.
//
// The compute buffer is modelled on how llama.cpp sizes it: it reserves the
// graph of one full batch (n_ubatch tokens, each producing logits) and ggml's
// graph allocator reuses memory between operations, so the buffer is about
// the largest set of tensors alive at one point of the graph, not their sum.
// Three points compete (B = batch, n_kv = cells one sequence sees):
//
//   - attention without flash attention: the scores KQ (B × n_kv × heads
//     f32) plus the f32 mask (B × n_kv); with flash attention the scores are
//     never materialised, but the f32 mask and its f16 copy are;
//   - the output: logits for B tokens (B × vocab f32);
//   - the feed-forward block: gate, up and their product (3 × B × ffn f32).
//
// On top of the largest come the activations that live through a whole
// layer (residual stream, norms, Q/K/V: ~6 × B × embd f32), a fixed 1 MiB for
// small inputs and graph bookkeeping, and the output buffer that holds the
// logits handed back per sequence (parallel × vocab f32, plus embd when
// embeddings are on). Measured against llama.cpp (this module's pinned
// version, CPU backend) on the shared test models and on synthetic models
// in the 110M and TinyLlama-1.1B shapes, this lands 3-25% above the
// reported "CPU compute buffer size" + "output buffer size" (never below);
// see TestEstimateMatchesLlamaCpp. The KV estimate matches llama.cpp
// exactly. GPU backends size buffers differently and are not covered, nor
// are sliding-window or recurrent architectures, whose caches are smaller.
//
// llama.cpp refuses a quantized V cache (q8_0, q4_0) without flash
// attention; Estimate does not check that.
//
// Metadata can claim sizes no machine has (head counts and dimensions are
// uint32 each, and their products far exceed 64 bits): when any figure
// passes 2^63 bytes, Estimate returns an error wrapping ErrTooLarge rather
// than a figure that wrapped around to something small.
func (f *File) Estimate(p EstimateParams) (Estimate, error) {
	var c checked
	ctx := uint64(max(p.ContextLength, 0))
	if ctx == 0 {
		ctx = uint64(f.ContextLength())
	}
	par := uint64(max(p.Parallel, 1))
	batch := uint64(max(p.BatchSize, 0))
	if batch == 0 {
		batch = 512
	}
	cells := c.mul("context × parallel", ctx, par)
	// llama.cpp never reserves a bigger batch than the context holds.
	batch = min(batch, cells)

	layers := uint64(f.BlockCount())
	embd := uint64(f.EmbeddingLength())
	heads := uint64(f.HeadCount())
	headsKV := uint64(f.HeadCountKV())
	ffn := uint64(f.FeedForwardLength())
	vocab := uint64(f.VocabSize())
	if vocab == 0 {
		// Without a tokenizer the output matrix tells the vocabulary size.
		if t, ok := f.Tensor("output.weight"); ok && len(t.Dims) == 2 {
			vocab = t.Dims[1]
		} else if t, ok := f.Tensor("token_embd.weight"); ok && len(t.Dims) == 2 {
			vocab = t.Dims[1]
		}
	}

	var headK, headV uint64
	if heads > 0 {
		headK, headV = embd/heads, embd/heads
	}
	arch := f.Architecture()
	if k, ok := f.Uint(arch + ".attention.key_length"); ok {
		headK = k
	}
	if v, ok := f.Uint(arch + ".attention.value_length"); ok {
		headV = v
	}

	// Every layer llama.cpp builds has tensors of its own (blk.N.*), so a
	// file holds at least as many tensors as it has layers. A block_count
	// beyond that is a file llama.cpp refuses (tensors missing); bounding it
	// by the tensors present keeps a 128-byte file claiming 2^31 layers from
	// making splitWeights allocate 32 GiB, one LayerEstimate per claimed
	// layer.
	layers = min(layers, uint64(len(f.Tensors)))

	var e Estimate
	e.Weights = f.TensorBytes()
	f.splitWeights(&e, int(layers))

	num, den := kvBytesPerElement(p.KVCacheType)
	layerKV := c.mul("KV cache", cells, headsKV, c.add("KV cache", headK, headV), num) / den
	e.KVCache = c.mul("KV cache", layerKV, layers)
	for i := range e.Layers {
		e.Layers[i].KVCache = layerKV
	}

	const f32 = 4
	var attn uint64
	if p.FlashAttention {
		attn = c.mul("attention", batch, ctx, f32+2)
	} else {
		attn = c.add("attention", c.mul("attention", batch, ctx, heads, f32), c.mul("attention", batch, ctx, f32))
	}
	output := c.mul("logits", batch, vocab, f32)
	ffnPeak := c.mul("feed-forward", 3, batch, ffn, f32)
	outBuf := c.mul("output buffer", par, vocab, f32)
	if p.Embeddings {
		outBuf = c.add("output buffer", outBuf, c.mul("output buffer", par, embd, f32))
	}
	e.Graph = c.add("compute graph", max(attn, output, ffnPeak), c.mul("compute graph", 6, batch, embd, f32), 1<<20)
	e.HostGraph = c.add("compute graph", c.mul("compute graph", 3, batch, embd, f32), 1<<20)
	e.OutputBuffer = outBuf
	e.Compute = c.add("compute", e.Graph, e.OutputBuffer)

	e.Total = c.add("total", e.Weights, e.KVCache, e.Compute)
	if c.over != "" {
		return Estimate{}, fmt.Errorf("%w: %s: its %s alone would need more than 2^63 bytes (context %d, parallel %d)",
			ErrTooLarge, f.Path, c.over, ctx, par)
	}
	return e, nil
}

// ErrTooLarge is what Estimate wraps when the metadata describes a model
// bigger than any memory (more than 2^63 bytes).
var ErrTooLarge = errors.New("gguf: model too large")

// checked multiplies and adds sizes, noting the first figure that passes
// 2^63 bytes (beyond any memory, and with room left for the sums callers
// make of the figures). A result past it is math.MaxUint64, never small, so
// the figures computed from it overflow too.
type checked struct{ over string }

func (c *checked) fail(what string) uint64 {
	if c.over == "" {
		c.over = what
	}
	return math.MaxUint64
}

func (c *checked) mul(what string, xs ...uint64) uint64 {
	if slices.Contains(xs, 0) {
		return 0
	}
	r := uint64(1)
	for _, x := range xs {
		hi, lo := bits.Mul64(r, x)
		if hi != 0 || lo > math.MaxInt64 {
			return c.fail(what)
		}
		r = lo
	}
	return r
}

func (c *checked) add(what string, xs ...uint64) uint64 {
	var r uint64
	for _, x := range xs {
		sum, carry := bits.Add64(r, x, 0)
		if carry != 0 || sum > math.MaxInt64 {
			return c.fail(what)
		}
		r = sum
	}
	return r
}

// splitWeights sorts the tensors into the layers llama.cpp places: blk.N.*
// into repeating layer N, output.* and output_norm.* into the output layer,
// everything else into the input layer (which stays on the CPU; small
// per-layer extras such as rope_freqs are counted there too).
func (f *File) splitWeights(e *Estimate, layers int) {
	e.Layers = make([]LayerEstimate, layers)
	head := false
	for _, t := range f.Tensors {
		switch {
		case strings.HasPrefix(t.Name, "blk."):
			rest := t.Name[len("blk."):]
			dot := strings.IndexByte(rest, '.')
			if n, err := strconv.Atoi(rest[:max(dot, 0)]); err == nil && n >= 0 && n < layers {
				e.Layers[n].Weights += t.Size
				continue
			}
			e.InputWeights += t.Size
		case strings.HasPrefix(t.Name, "output.") || strings.HasPrefix(t.Name, "output_norm."):
			head = head || t.Name == "output.weight"
			e.OutputWeights += t.Size
		default:
			e.InputWeights += t.Size
		}
	}
	if !head {
		// No head of its own: llama.cpp reuses the token embeddings.
		if t, ok := f.Tensor("token_embd.weight"); ok {
			e.TiedOutput = t.Size
			e.OutputWeights += t.Size
		}
	}
}
