// Package ggmlamx compiles ggml's AMX kernels (ggml-cpu/amx/amx.cpp and
// mmq.cpp from the pinned github.com/ollama/ollama module), which the module's
// own cgo packages leave out.
//
// Why: when the C flags enable AMX (-march=native on Sapphire Rapids and
// later Xeons defines __AMX_INT8__), the module's ggml-cpu.cpp references
// ggml_backend_amx_buffer_type() and the link fails with an undefined
// reference. Compiling the two files here provides it, so the build links on
// those hosts and ggml multiplies Q4_0/Q4_1/Q8_0/K-quant matrices with AMX
// tiles. Without AMX in the flags (AMD, older Intel, GGUFD_PORTABLE=1) both
// files are preprocessed to nothing, so this package costs nothing there.
//
// The wrappers include the module's sources through the ggml include folder
// that the Makefile puts on CGO_CPPFLAGS ("../../ggml/src/…" resolves only
// against .../ml/backend/ggml/ggml/include). The module's files then include
// ggml's internal headers by bare name, which gcc looks up beside the
// including file or on -I; fwd/ forwards each of those names to the module's
// copy, so no global flag changes (a new CGO_CPPFLAGS would make every
// checkout recompile llama.cpp) and no source is copied.
//
// The flags match the module's ggml-cpu package (-DNDEBUG
// -DGGML_USE_LLAMAFILE, C++17) so both sides see the same declarations.
package ggmlamx

// #cgo CXXFLAGS: -std=c++17
// #cgo CPPFLAGS: -I${SRCDIR}/fwd -DNDEBUG -DGGML_USE_LLAMAFILE
// #cgo linux CPPFLAGS: -D_GNU_SOURCE
import "C"
