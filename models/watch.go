package models

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/ggufd/ggufd/config"
)

// watch reloads when the config file, a chat template next to it, or a GGUF
// in models_dir changes. It watches folders rather than files: editors save
// by writing a temporary file and renaming it over the original, which
// would orphan a watch on the file itself.
func (m *Manager) watch(ctx context.Context, w *fsnotify.Watcher, cfg *config.Config) {
	defer close(m.watchDone)
	defer w.Close()

	watched := map[string]bool{}
	var modelsDir string
	sync := func(cfg *config.Config) {
		want := map[string]bool{}
		if m.configPath != "" {
			want[filepath.Dir(m.configPath)] = true
		}
		modelsDir = cfg.ModelsDir
		want[modelsDir] = true
		for d := range watched {
			if !want[d] {
				_ = w.Remove(d)
				delete(watched, d)
			}
		}
		for d := range want {
			if watched[d] {
				continue
			}
			if err := w.Add(d); err != nil {
				m.log.Warn("cannot watch folder", "dir", d, "err", err)
				continue
			}
			watched[d] = true
		}
	}
	sync(cfg)
	close(m.watchReady)

	relevant := func(ev fsnotify.Event) bool {
		if ev.Op == fsnotify.Chmod {
			return false
		}
		dir, base := filepath.Dir(ev.Name), filepath.Base(ev.Name)
		if m.configPath != "" && dir == filepath.Dir(m.configPath) {
			if base == filepath.Base(m.configPath) {
				return true
			}
			switch strings.ToLower(filepath.Ext(base)) {
			case ".jinja", ".j2", ".jinja2":
				return true
			}
		}
		return dir == modelsDir && strings.EqualFold(filepath.Ext(base), ".gguf") && !strings.HasPrefix(base, ".")
	}

	// Debounce: a save or a copy is a burst of events; reload once it settles.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if relevant(ev) {
				timer.Reset(m.opts.debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			m.log.Warn("file watcher", "err", err)
		case <-timer.C:
			if err := m.Reload(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				m.log.Error("config not applied; still serving the last good one", "err", err)
			} else {
				m.log.Info("config and models reloaded", "models", len(m.Entries()))
			}
			sync(m.currentConfig())
		case <-ctx.Done():
			return
		}
	}
}
