package gguf

import (
	"bytes"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to the reader and the estimate, which run
// on every file in models_dir: they must fail with an error, never panic,
// recurse without bound or allocate for what the bytes do not hold.
func FuzzOpen(f *testing.F) {
	f.Add(header(3, 0, 0))
	f.Add(withAlignment(f, 64))
	f.Add(nestedArrays(8).pad())
	f.Add(rawFile(1, 0).tensor("big", GGMLTypeF32, 1<<31, 1<<31).pad())
	f.Add(rawFile(0, 2).kvStr("general.architecture", "llama").kvU32("llama.block_count", 1<<20).pad())
	f.Add(rawFile(1, 5).kvStr("general.architecture", "llama").
		kvU32("llama.block_count", 1).
		kvU32("llama.attention.head_count", 1<<20).
		kvU32("llama.attention.key_length", 1<<31).
		kvU32("llama.attention.value_length", 1<<31).
		tensor("blk.0.attn_q.weight", GGMLTypeF32, 8).pad())
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := decode(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if uint64(g.DataOffset)+g.TensorBytes() > uint64(len(data)) {
			t.Fatalf("accepted %d tensor bytes at %d in a %d-byte file", g.TensorBytes(), g.DataOffset, len(data))
		}
		for _, p := range []EstimateParams{{}, {ContextLength: 1 << 20, Parallel: 64, BatchSize: 1 << 16, Embeddings: true}} {
			e, err := g.Estimate(p)
			if err != nil {
				continue
			}
			if len(e.Layers) > len(g.Tensors) {
				t.Fatalf("%d layers from %d tensors", len(e.Layers), len(g.Tensors))
			}
			if e.Total < e.Weights || e.Total < e.KVCache || e.Total < e.Compute {
				t.Fatalf("total %d below a part: %+v", e.Total, e)
			}
		}
	})
}
