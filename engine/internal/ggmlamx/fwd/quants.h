// Forwards to the pinned module's ggml/src/ggml-cpu/quants.h (see ../ggmlamx.go).
#include "../../ggml/src/ggml-cpu/quants.h"
