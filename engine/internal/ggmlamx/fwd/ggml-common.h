// Forwards to the pinned module's ggml/src/ggml-common.h (see ../ggmlamx.go).
#include "../../ggml/src/ggml-common.h"
