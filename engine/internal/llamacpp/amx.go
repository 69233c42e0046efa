package llamacpp

// Links ggml's AMX kernels, which -march=native on AMX hosts requires (see
// package ggmlamx).
import _ "github.com/ggufd/ggufd/engine/internal/ggmlamx"
