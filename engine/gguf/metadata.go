package gguf

import "math"

func (f *File) kv(key string) (KV, bool) {
	i, ok := f.index[key]
	if !ok {
		return KV{}, false
	}
	return f.KVs[i], true
}

// Value returns the raw value of key (see KV.Value for the Go types).
func (f *File) Value(key string) (any, bool) {
	kv, ok := f.kv(key)
	return kv.Value, ok
}

// Keys returns every metadata key in file order.
func (f *File) Keys() []string {
	keys := make([]string, len(f.KVs))
	for i, kv := range f.KVs {
		keys[i] = kv.Key
	}
	return keys
}

// String returns a string value.
func (f *File) String(key string) (string, bool) {
	kv, ok := f.kv(key)
	if !ok {
		return "", false
	}
	s, ok := kv.Value.(string)
	return s, ok
}

// Uint returns an integer value of any integer type; negative values are
// reported as absent, as no caller of a count can use them.
func (f *File) Uint(key string) (uint64, bool) {
	kv, ok := f.kv(key)
	if !ok {
		return 0, false
	}
	return toUint(kv.Value)
}

// Float returns a float value; integers are converted too, since writers are
// not consistent about which type they use for e.g. rope scaling factors.
func (f *File) Float(key string) (float64, bool) {
	kv, ok := f.kv(key)
	if !ok {
		return 0, false
	}
	switch v := kv.Value.(type) {
	case float32:
		return float64(v), true
	case float64:
		return v, true
	}
	if u, ok := toUint(kv.Value); ok {
		return float64(u), true
	}
	if i, ok := toInt(kv.Value); ok {
		return float64(i), true
	}
	return 0, false
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, bool) {
	kv, ok := f.kv(key)
	if !ok {
		return false, false
	}
	b, ok := kv.Value.(bool)
	return b, ok
}

// Strings returns an array of strings (e.g. tokenizer.ggml.tokens). The
// slice is the File's own: do not modify it.
func (f *File) Strings(key string) ([]string, bool) {
	kv, ok := f.kv(key)
	if !ok {
		return nil, false
	}
	a, ok := kv.Value.(Array)
	if !ok {
		return nil, false
	}
	s, ok := a.Values.([]string)
	return s, ok
}

// ArrayLen returns the length of an array value.
func (f *File) ArrayLen(key string) (int, bool) {
	kv, ok := f.kv(key)
	if !ok {
		return 0, false
	}
	a, ok := kv.Value.(Array)
	return a.Len, ok
}

func toUint(v any) (uint64, bool) {
	switch v := v.(type) {
	case uint8:
		return uint64(v), true
	case uint16:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	case uint64:
		return v, true
	}
	if i, ok := toInt(v); ok && i >= 0 {
		return uint64(i), true
	}
	return 0, false
}

func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}

// Architecture is general.architecture, e.g. "llama".
func (f *File) Architecture() string {
	s, _ := f.String("general.architecture")
	return s
}

// Name is general.name, "" if absent.
func (f *File) Name() string {
	s, _ := f.String("general.name")
	return s
}

// archUint reads "<arch>.<suffix>" as an int. Some architectures store
// per-layer values (e.g. head counts) as arrays; the largest entry is
// returned for those, as sizing must cover the biggest layer.
func (f *File) archUint(suffix string) int {
	key := f.Architecture() + "." + suffix
	if u, ok := f.Uint(key); ok {
		return clampInt(u)
	}
	kv, ok := f.kv(key)
	if !ok {
		return 0
	}
	a, ok := kv.Value.(Array)
	if !ok {
		return 0
	}
	var m uint64
	forEachUint(a, func(u uint64) {
		m = max(m, u)
	})
	return clampInt(m)
}

func forEachUint(a Array, fn func(uint64)) {
	switch vs := a.Values.(type) {
	case []uint8:
		for _, v := range vs {
			fn(uint64(v))
		}
	case []uint16:
		for _, v := range vs {
			fn(uint64(v))
		}
	case []uint32:
		for _, v := range vs {
			fn(uint64(v))
		}
	case []uint64:
		for _, v := range vs {
			fn(v)
		}
	case []int32:
		for _, v := range vs {
			fn(uint64(max(v, 0)))
		}
	case []int64:
		for _, v := range vs {
			fn(uint64(max(v, 0)))
		}
	}
}

func clampInt(u uint64) int {
	if u > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(u)
}

// ContextLength is <arch>.context_length, the trained context; 0 if absent.
func (f *File) ContextLength() int { return f.archUint("context_length") }

// BlockCount is <arch>.block_count, the number of layers.
func (f *File) BlockCount() int { return f.archUint("block_count") }

// EmbeddingLength is <arch>.embedding_length.
func (f *File) EmbeddingLength() int { return f.archUint("embedding_length") }

// FeedForwardLength is <arch>.feed_forward_length.
func (f *File) FeedForwardLength() int { return f.archUint("feed_forward_length") }

// HeadCount is <arch>.attention.head_count.
func (f *File) HeadCount() int { return f.archUint("attention.head_count") }

// HeadCountKV is <arch>.attention.head_count_kv, or HeadCount when absent
// (no grouped-query attention), as llama.cpp reads it.
func (f *File) HeadCountKV() int {
	if n := f.archUint("attention.head_count_kv"); n > 0 {
		return n
	}
	return f.HeadCount()
}

// VocabSize is the number of tokens in tokenizer.ggml.tokens, 0 if absent.
func (f *File) VocabSize() int {
	n, _ := f.ArrayLen("tokenizer.ggml.tokens")
	return n
}

// ChatTemplate is tokenizer.chat_template, "" if absent.
func (f *File) ChatTemplate() string {
	s, _ := f.String("tokenizer.chat_template")
	return s
}

// ParameterCount is the number of values in all tensors.
func (f *File) ParameterCount() uint64 {
	var n uint64
	for _, t := range f.Tensors {
		n += t.Elements()
	}
	return n
}

// TensorBytes is the size of all tensor data, without alignment padding.
func (f *File) TensorBytes() uint64 {
	var n uint64
	for _, t := range f.Tensors {
		n += t.Size
	}
	return n
}

// FileSize is the size of the file in bytes.
func (f *File) FileSize() int64 { return f.Size }

// Tensor returns the tensor called name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}
