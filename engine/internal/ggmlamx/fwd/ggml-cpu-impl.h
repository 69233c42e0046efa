// Forwards to the pinned module's ggml/src/ggml-cpu/ggml-cpu-impl.h (see ../ggmlamx.go).
#include "../../ggml/src/ggml-cpu/ggml-cpu-impl.h"
