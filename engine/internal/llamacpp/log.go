package llamacpp

/*
#include "llama.h"

extern void ggufdLog(int level, char *text, void *user_data);

static void ggufd_install_log(void) {
	llama_log_set((ggml_log_callback)ggufdLog, NULL);
}
*/
import "C"

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// llama.cpp logs a lot at "info" on every load (tensor counts, buffer
// sizes). That is debugging detail for a daemon's operator, so it goes to
// slog at debug level; llama.cpp's warnings and errors stay warnings and
// errors. Lines arrive in pieces; a partial line is kept until its newline.
var (
	logMu   sync.Mutex
	logLine strings.Builder
	logLvl  slog.Level
)

func installLog() { C.ggufd_install_log() }

//export ggufdLog
func ggufdLog(level C.int, text *C.char, _ *C.void) {
	lv := slog.LevelDebug
	switch level {
	case C.GGML_LOG_LEVEL_WARN:
		lv = slog.LevelWarn
	case C.GGML_LOG_LEVEL_ERROR:
		lv = slog.LevelError
	case C.GGML_LOG_LEVEL_CONT:
		lv = logLvl
	}
	s := C.GoString(text)
	logMu.Lock()
	defer logMu.Unlock()
	logLvl = lv
	logLine.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		return
	}
	line := strings.TrimRight(logLine.String(), "\n")
	logLine.Reset()
	lv = logLevel(line, lv)
	if line != "" && slog.Default().Enabled(context.Background(), lv) {
		slog.Default().Log(context.Background(), lv, "llama.cpp: "+line)
	}
}

// logLevel re-grades llama.cpp lines whose level misleads an operator of
// ggufd.
func logLevel(line string, lv slog.Level) slog.Level {
	switch {
	case lv == slog.LevelWarn && strings.Contains(line, "possible training context overflow"):
		// With one KV buffer for all sequences llama.cpp sees the whole
		// buffer as one sequence's context; the engine caps each sequence
		// at its configured length, so this warning does not apply.
		return slog.LevelDebug
	case lv == slog.LevelError && (strings.Contains(line, "failed to decode, ret = 2") ||
		strings.Contains(line, "graph_compute_async failed with error 1") ||
		strings.Contains(line, "failed to compute graph, compute status: 1")):
		// Status 2 / GGML_STATUS_ABORTED (1): the engine's abort callback
		// stopped a decode because its request was cancelled. Expected.
		return slog.LevelDebug
	}
	return lv
}
