// Compiles the pinned module's ggml AMX buffer type (see ggmlamx.go). The
// whole file is inside #if defined(__AMX_INT8__) && defined(__AVX512VNNI__):
// without those CPU flags it compiles to nothing.
#include "../../ggml/src/ggml-cpu/amx/amx.cpp"
