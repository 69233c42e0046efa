// Package gguf reads GGUF model files, estimates the memory llama.cpp needs
// to run them, and writes synthetic llama models for tests and benchmarks.
// It is pure Go: nothing here needs cgo or llama.cpp.
//
// Reading:
//
//	f, err := gguf.Open("model.gguf") // header, metadata and tensor directory only
//	if errors.Is(err, gguf.ErrTruncated) { ... }
//	fmt.Println(f.Architecture(), f.ContextLength(), f.ParameterCount())
//	tmpl := f.ChatTemplate()
//
// Open checks the magic and version (2 and 3), every count against the size
// of the file, and that all tensor data is present; errors wrap ErrNotGGUF,
// ErrUnsupportedVersion, ErrTruncated or ErrInvalid and say where the file
// goes wrong (and for truncation, how many bytes are missing).
//
// Sizing:
//
//	e := f.Estimate(gguf.EstimateParams{ContextLength: 4096, Parallel: 4})
//	// e.Weights + e.KVCache + e.Compute == e.Total bytes
//
// See File.Estimate for how the compute buffer is approximated.
package gguf
