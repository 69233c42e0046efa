// Forwards to the pinned module's ggml/src/ggml-quants.h (see ../ggmlamx.go).
#include "../../ggml/src/ggml-quants.h"
