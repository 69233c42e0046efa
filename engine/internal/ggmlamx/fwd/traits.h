// Forwards to the pinned module's ggml/src/ggml-cpu/traits.h (see ../ggmlamx.go).
#include "../../ggml/src/ggml-cpu/traits.h"
