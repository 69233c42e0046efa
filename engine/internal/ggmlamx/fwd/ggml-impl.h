// Forwards to the pinned module's ggml/src/ggml-impl.h (see ../ggmlamx.go).
#include "../../ggml/src/ggml-impl.h"
