// Forwards to the pinned module's ggml/src/ggml-cpu/simd-mappings.h (see ../ggmlamx.go).
#include "../../ggml/src/ggml-cpu/simd-mappings.h"
