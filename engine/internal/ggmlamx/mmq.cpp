// Compiles the pinned module's ggml AMX matrix-multiplication kernels (see
// ggmlamx.go); empty unless the CPU flags enable AMX-INT8 and AVX512-VNNI.
#include "../../ggml/src/ggml-cpu/amx/mmq.cpp"
