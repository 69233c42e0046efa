package gguf

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Projector files pair with their model by name. For a model NAME.gguf the
// projector is NAME.mmproj.gguf, or mmproj-NAME.gguf (the name llama.cpp's
// conversion scripts and many model repositories use), in the same folder.
const (
	projectorSuffix = ".mmproj.gguf"
	projectorPrefix = "mmproj-"
)

// ProjectorPath is where Synthesize writes the projector of the model at
// modelPath: NAME.mmproj.gguf beside NAME.gguf.
func ProjectorPath(modelPath string) string {
	return strings.TrimSuffix(modelPath, filepath.Ext(modelPath)) + projectorSuffix
}

// ProjectorCandidates lists, in order of preference, the files that would
// be the projector of the model at modelPath by the naming convention.
func ProjectorCandidates(modelPath string) []string {
	dir, base := filepath.Split(modelPath)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	return []string{
		filepath.Join(dir, stem+projectorSuffix),
		filepath.Join(dir, projectorPrefix+stem+".gguf"),
	}
}

// IsProjectorName reports whether a file name follows the projector naming
// convention (such files are never served as models themselves).
func IsProjectorName(name string) bool {
	l := strings.ToLower(filepath.Base(name))
	return strings.HasSuffix(l, projectorSuffix) || strings.HasPrefix(l, projectorPrefix) && strings.HasSuffix(l, ".gguf")
}

// ProjectorArchitecture is general.architecture of multimodal projector
// files (llama.cpp's mtmd reads them; llama_model_load refuses them).
const ProjectorArchitecture = "clip"

// ProjectorSpec describes a synthetic LLaVA-1.5-style vision projector:
// a CLIP ViT encoder (patch embedding, class embedding, position
// embeddings, pre-norm, transformer blocks with biases) and the two-layer
// MLP projector ("mlp" projector type) into the text model's embedding
// size, with random weights and the tensor names and metadata keys
// llama.cpp's clip.cpp loads. An image becomes (ImageSize/PatchSize)²
// embeddings. Zero fields take the defaults noted.
type ProjectorSpec struct {
	ImageSize  int // square input resolution; 32
	PatchSize  int // 8
	Dim        int // encoder width; 32
	Layers     int // encoder blocks; 2 (LLaVA reads the second-to-last)
	Heads      int // 2
	FFN        int // 64
	ProjHidden int // width of the MLP projector's hidden layer; 64
}

func (p ProjectorSpec) withDefaults() (ProjectorSpec, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&p.ImageSize, 32)
	def(&p.PatchSize, 8)
	def(&p.Dim, 32)
	def(&p.Layers, 2)
	def(&p.Heads, 2)
	def(&p.FFN, 64)
	def(&p.ProjHidden, 64)
	switch {
	case p.ImageSize < 0 || p.PatchSize < 0 || p.Dim < 0 || p.Layers < 0 || p.Heads < 0 || p.FFN < 0 || p.ProjHidden < 0:
		return p, fmt.Errorf("projector sizes must be positive: %+v", p)
	case p.ImageSize%p.PatchSize != 0:
		return p, fmt.Errorf("projector image size %d is not a multiple of the patch size %d", p.ImageSize, p.PatchSize)
	case p.Dim%p.Heads != 0:
		return p, fmt.Errorf("projector width %d is not a multiple of its %d heads", p.Dim, p.Heads)
	case p.FFN == p.Dim:
		// clip.cpp takes ffn_down with ne[0] == width for an old export's
		// swapped up/down tensors.
		return p, fmt.Errorf("projector FFN (%d) must differ from its width", p.FFN)
	}
	return p, nil
}

// Patches is the number of embeddings one image becomes.
func (p ProjectorSpec) Patches() int {
	d, err := p.withDefaults()
	if err != nil {
		return 0
	}
	return (d.ImageSize / d.PatchSize) * (d.ImageSize / d.PatchSize)
}

func (p ProjectorSpec) kvs(model SynthSpec) []KV {
	u32 := func(key string, v int) KV { return KV{Key: key, Type: TypeUint32, Value: uint32(v)} }
	f32s := func(key string, v ...float32) KV {
		return KV{Key: key, Type: TypeArray, Value: Array{Type: TypeFloat32, Len: len(v), Values: v}}
	}
	return []KV{
		{Key: "general.architecture", Type: TypeString, Value: ProjectorArchitecture},
		{Key: "general.type", Type: TypeString, Value: "mmproj"},
		{Key: "general.name", Type: TypeString, Value: model.Name + "-mmproj"},
		{Key: "general.description", Type: TypeString, Value: "Synthetic LLaVA-style vision projector with random weights."},
		{Key: "general.file_type", Type: TypeUint32, Value: uint32(fileTypeF32)},
		{Key: "general.alignment", Type: TypeUint32, Value: uint32(defaultAlignment)},
		{Key: "clip.has_vision_encoder", Type: TypeBool, Value: true},
		{Key: "clip.has_text_encoder", Type: TypeBool, Value: false},
		{Key: "clip.projector_type", Type: TypeString, Value: "mlp"},
		{Key: "clip.use_gelu", Type: TypeBool, Value: false},
		u32("clip.vision.image_size", p.ImageSize),
		u32("clip.vision.patch_size", p.PatchSize),
		u32("clip.vision.embedding_length", p.Dim),
		u32("clip.vision.feed_forward_length", p.FFN),
		u32("clip.vision.block_count", p.Layers),
		u32("clip.vision.projection_dim", model.Dim),
		u32("clip.vision.attention.head_count", p.Heads),
		{Key: "clip.vision.attention.layer_norm_epsilon", Type: TypeFloat32, Value: float32(1e-5)},
		// CLIP's normalisation constants, as real LLaVA projectors carry.
		f32s("clip.vision.image_mean", 0.48145466, 0.4578275, 0.40821073),
		f32s("clip.vision.image_std", 0.26862954, 0.26130258, 0.27577711),
	}
}

// tensors lists the encoder and projector tensors in ggml order. Weights
// are f32 except the patch embedding, a convolution kernel that real
// projectors store as f16 (ggml's im2col path); 1-D tensors (norms,
// biases) are ones.
func (p ProjectorSpec) tensors(model SynthSpec) []WriteTensor {
	dim, ffn, hid, text := uint64(p.Dim), uint64(p.FFN), uint64(p.ProjHidden), uint64(model.Dim)
	patch, positions := uint64(p.PatchSize), uint64(p.Patches()+1) // + the class embedding
	var ts []WriteTensor
	seed := uint64(model.Seed) ^ 0x7669_7369_6f6e // "vision"
	add := func(name string, typ GGMLType, dims ...uint64) {
		rng := newRNG(seed ^ uint64(len(ts)+1)*0x9e3779b97f4a7c15)
		ts = append(ts, WriteTensor{Name: name, Dims: dims, Type: typ, Fill: randomFill(typ, dims, rng)})
	}
	add("v.patch_embd.weight", GGMLTypeF16, patch, patch, 3, dim)
	add("v.class_embd", GGMLTypeF32, dim)
	add("v.position_embd.weight", GGMLTypeF32, dim, positions)
	add("v.pre_ln.weight", GGMLTypeF32, dim)
	add("v.pre_ln.bias", GGMLTypeF32, dim)
	for i := range p.Layers {
		blk := fmt.Sprintf("v.blk.%d.", i)
		for _, m := range []string{"attn_q", "attn_k", "attn_v", "attn_out"} {
			add(blk+m+".weight", GGMLTypeF32, dim, dim)
			add(blk+m+".bias", GGMLTypeF32, dim)
		}
		add(blk+"ln1.weight", GGMLTypeF32, dim)
		add(blk+"ln1.bias", GGMLTypeF32, dim)
		add(blk+"ffn_up.weight", GGMLTypeF32, dim, ffn)
		add(blk+"ffn_up.bias", GGMLTypeF32, ffn)
		add(blk+"ffn_down.weight", GGMLTypeF32, ffn, dim)
		add(blk+"ffn_down.bias", GGMLTypeF32, dim)
		add(blk+"ln2.weight", GGMLTypeF32, dim)
		add(blk+"ln2.bias", GGMLTypeF32, dim)
	}
	add("mm.0.weight", GGMLTypeF32, dim, hid)
	add("mm.0.bias", GGMLTypeF32, hid)
	add("mm.2.weight", GGMLTypeF32, hid, text)
	add("mm.2.bias", GGMLTypeF32, text)
	return ts
}
