// Forwards to the pinned module's ggml/src/ggml-backend-impl.h (see ../ggmlamx.go).
#include "../../ggml/src/ggml-backend-impl.h"
