package llamacpp

import (
	"log/slog"
	"testing"
)

func TestLogLevel(t *testing.T) {
	for _, tc := range []struct {
		line string
		in   slog.Level
		want slog.Level
	}{
		{"llama_decode: failed to decode, ret = 2", slog.LevelError, slog.LevelDebug},
		{"graph_compute: ggml_backend_sched_graph_compute_async failed with error 1", slog.LevelError, slog.LevelDebug},
		{"process_ubatch: failed to compute graph, compute status: 1", slog.LevelError, slog.LevelDebug},
		{"llama_decode: failed to decode, ret = -1", slog.LevelError, slog.LevelError},
		{"graph_compute: ggml_backend_sched_graph_compute_async failed with error -1", slog.LevelError, slog.LevelError},
		{"init: possible training context overflow", slog.LevelWarn, slog.LevelDebug},
		{"some other warning", slog.LevelWarn, slog.LevelWarn},
	} {
		if got := logLevel(tc.line, tc.in); got != tc.want {
			t.Errorf("logLevel(%q, %v) = %v, want %v", tc.line, tc.in, got, tc.want)
		}
	}
}
