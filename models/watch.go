package models

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/ggufd/ggufd/config"
)

// watch reloads when the config file, a chat template next to it, or a GGUF
// in models_dir changes. It watches folders rather than files: editors save
// by writing a temporary file and renaming it over the original, which
// would orphan a watch on the file itself.
//
// A watch dies with its folder: when models_dir (or the config's folder) is
// removed or renamed away, the watcher watches its nearest existing
// ancestor instead, whose events say when the folder is back, and then
// watches the folder again (rm -rf models && mkdir models, a restored
// backup, a remount).
func (m *Manager) watch(ctx context.Context, w *fsnotify.Watcher, cfg *config.Config) {
	defer close(m.watchDone)
	defer w.Close()

	var modelsDir string
	var wanted []string // the folders whose files matter
	setWanted := func(cfg *config.Config) {
		modelsDir = cfg.ModelsDir
		wanted = []string{modelsDir}
		if m.configPath != "" && filepath.Dir(m.configPath) != modelsDir {
			wanted = append(wanted, filepath.Dir(m.configPath))
		}
	}
	// aliases: the watched paths under which a wanted folder's events
	// arrive when fsnotify watches it under another name (see syncWatches).
	var aliases map[string][]string
	sync := func() (appeared bool) {
		appeared, aliases = syncWatches(w, wanted, func(dir string, err error) {
			m.log.Warn("cannot watch folder", "dir", dir, "err", err)
		})
		return appeared
	}
	// in reports whether dir, the folder of an event, is folder.
	in := func(dir, folder string) bool {
		return dir == folder || slices.Contains(aliases[dir], folder)
	}
	// onPath reports whether name is a wanted folder or one of its
	// ancestors: its creation, removal or renaming changes what to watch.
	onPath := func(name string) bool {
		for _, d := range wanted {
			for p := d; ; p = filepath.Dir(p) {
				if p == name {
					return true
				}
				if filepath.Dir(p) == p {
					break
				}
			}
		}
		return false
	}
	setWanted(cfg)
	sync()
	close(m.watchReady)

	relevant := func(ev fsnotify.Event) bool {
		if ev.Op == fsnotify.Chmod {
			return false
		}
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			// A wanted folder itself going away takes its files with it.
			if slices.Contains(wanted, ev.Name) {
				return true
			}
		}
		dir, base := filepath.Dir(ev.Name), filepath.Base(ev.Name)
		if m.configPath != "" && in(dir, filepath.Dir(m.configPath)) {
			if base == filepath.Base(m.configPath) {
				return true
			}
			switch strings.ToLower(filepath.Ext(base)) {
			case ".jinja", ".j2", ".jinja2":
				return true
			}
		}
		return in(dir, modelsDir) && strings.EqualFold(filepath.Ext(base), ".gguf") && !strings.HasPrefix(base, ".")
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
			reload := relevant(ev)
			if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				if onPath(ev.Name) && sync() {
					reload = true
				}
			}
			if reload {
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
			if m.opts.afterWatchReload != nil {
				m.opts.afterWatchReload()
			}
			// A folder the reload found missing may be back by now, with
			// files the reload did not see and no watch saw arrive: when a
			// wanted folder is newly watched, look again.
			setWanted(m.currentConfig())
			if sync() {
				timer.Reset(m.opts.debounce)
			}
		case <-ctx.Done():
			return
		}
	}
}

// folderWatcher is what syncWatches needs of an *fsnotify.Watcher.
type folderWatcher interface {
	WatchList() []string
	Add(name string) error
	Remove(name string) error
}

// syncWatches makes w's watches match the wanted folders (each, or while it
// does not exist its nearest existing ancestor). It asks w what it watches
// rather than remembering what it added: fsnotify drops the watch of a
// folder that is removed or renamed. It reports whether it started watching
// a wanted folder (files may have arrived there before the watch did, so
// the caller reloads), and the aliases: watched paths that are the same
// folder as wanted ones under another name.
//
// Two names of one folder (a symlink to it, one folder mounted twice) are
// one inotify watch, which fsnotify lists under the first name added and
// reports events under. Such a wanted folder counts as watched, or it
// would be added again, and reported as newly watched, at every call; and
// its events are recognised through the aliases.
func syncWatches(w folderWatcher, wanted []string, warn func(dir string, err error)) (appeared bool, aliases map[string][]string) {
	// A folder created or removed while the watches change moves a target;
	// a few rounds make sure none of that goes unseen.
	for range 4 {
		watching := map[string]bool{}
		for _, p := range w.WatchList() {
			watching[p] = true
		}
		// In the order wanted: which of two names of one folder fsnotify
		// lists does not change from one call to the next.
		var order []string
		targets := map[string]bool{}
		for _, d := range wanted {
			t := watchTarget(d)
			if !targets[t] {
				order = append(order, t)
			}
			targets[t] = true
		}
		for p := range watching {
			if !targets[p] {
				_ = w.Remove(p)
				delete(watching, p)
			}
		}
		aliases = map[string][]string{}
		for _, t := range order {
			if watching[t] {
				continue
			}
			if p := sameFolder(t, watching); p != "" {
				aliases[p] = append(aliases[p], t)
				continue
			}
			if err := w.Add(t); err != nil {
				if !errors.Is(err, fs.ErrNotExist) { // else gone meanwhile: the next round sees it
					warn(t, err)
				}
				continue
			}
			watching[t] = true
			appeared = appeared || slices.Contains(wanted, t)
		}
		stable := true
		for _, d := range wanted {
			stable = stable && targets[watchTarget(d)]
		}
		if stable {
			break
		}
	}
	return appeared, aliases
}

// sameFolder is the path in watching that is the folder dir under another
// name, or "".
func sameFolder(dir string, watching map[string]bool) string {
	st, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	for p := range watching {
		if pst, err := os.Stat(p); err == nil && os.SameFile(st, pst) {
			return p
		}
	}
	return ""
}

// watchTarget is the folder to watch for dir: dir itself, or while it does
// not exist (or is not a folder) its nearest existing ancestor, where its
// creation shows.
func watchTarget(dir string) string {
	for {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}
