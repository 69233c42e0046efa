package gguf

import (
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
func (f *File) Estimate(p EstimateParams) Estimate {
	ctx := uint64(p.ContextLength)
	if ctx == 0 {
		ctx = uint64(f.ContextLength())
	}
	par := uint64(max(p.Parallel, 1))
	batch := uint64(p.BatchSize)
	if batch == 0 {
		batch = 512
	}
	// llama.cpp never reserves a bigger batch than the context holds.
	batch = min(batch, ctx*par)

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
	cells := ctx * par
	layerKV := cells * headsKV * (headK + headV) * num / den
	for i := range e.Layers {
		e.Layers[i].KVCache = layerKV
		e.KVCache += layerKV
	}

	const f32 = 4
	var attn uint64
	if p.FlashAttention {
		attn = batch * ctx * (f32 + 2)
	} else {
		attn = batch*ctx*heads*f32 + batch*ctx*f32
	}
	output := batch * vocab * f32
	ffnPeak := 3 * batch * ffn * f32
	outBuf := par * vocab * f32
	if p.Embeddings {
		outBuf += par * embd * f32
	}
	e.Graph = max(attn, output, ffnPeak) + 6*batch*embd*f32 + 1<<20
	e.HostGraph = 3*batch*embd*f32 + 1<<20
	e.OutputBuffer = outBuf
	e.Compute = e.Graph + e.OutputBuffer

	e.Total = e.Weights + e.KVCache + e.Compute
	return e
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
