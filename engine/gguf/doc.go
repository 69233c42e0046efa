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
//	e, err := f.Estimate(gguf.EstimateParams{ContextLength: 4096, Parallel: 4})
//	// e.Weights + e.KVCache + e.Compute == e.Total bytes;
//	// errors.Is(err, gguf.ErrTooLarge): more than any memory holds
//
// See File.Estimate for how the compute buffer is approximated.
//
// Writing synthetic models (benchmarks, the daemon's demo model):
//
//	spec, err := gguf.Preset("tinyllama-1.1b") // or "demo", "110m"
//	spec.Vocab = gguf.VocabSource{DonorPath: "llama-2-tiny-random.gguf"} // optional: a real 32k vocabulary
//	spec.Seed = 42
//	err = gguf.Synthesize("/tmp/tinyllama-random.gguf", spec)
//
// This is what the `ggufd dev synth` subcommand wraps: it maps a preset name
// plus flags onto a SynthSpec and calls Synthesize. The output is
// deterministic for a spec, written to a temporary file and renamed into
// place. On a 2-core machine the 1.1B preset with a 32k vocabulary (1.17 GB
// of Q8_0) takes about 3.5 s; the demo about 10 ms. Models load and run in
// llama.cpp but their output is gibberish: the weights are random.
//
// Write is the underlying streaming writer for any GGUF content.
package gguf
