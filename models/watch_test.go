package models

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/ggufd/ggufd/config"
)

// TestSyncWatchesSettlesOnAliases: a wanted folder that is another wanted
// folder under a second name (a symlink, a folder mounted twice) is one
// inotify watch, listed under the first name only. syncWatches must count
// it as watched: it reported it newly watched at every call, and since the
// watcher reloads after a reload that newly watched a folder, it reloaded
// every debounce period forever.
func TestSyncWatchesSettlesOnAliases(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	other := filepath.Join(dir, "other")
	link := filepath.Join(dir, "link")
	for _, d := range []string{real, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		wanted  []string
		aliased bool // link and real are one watch
	}{
		{"two folders", []string{other, real}, false},
		{"a symlink to another wanted folder", []string{link, real}, true},
		{"the same, the other way round", []string{real, link}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := fsnotify.NewWatcher()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			warn := func(dir string, err error) { t.Errorf("cannot watch %s: %v", dir, err) }
			if appeared, _ := syncWatches(w, tt.wanted, warn); !appeared {
				t.Fatal("the first sync watched nothing new")
			}
			appeared, aliases := syncWatches(w, tt.wanted, warn)
			if appeared {
				t.Fatalf("the second sync, with nothing changed on disk, watched a folder anew (watching %v)", w.WatchList())
			}
			if !tt.aliased {
				if len(aliases) != 0 {
					t.Fatalf("aliases %v for two distinct folders", aliases)
				}
				return
			}
			listed := w.WatchList()
			if len(listed) != 1 {
				t.Fatalf("watching %v: want one watch for the folder's two names", listed)
			}
			want := link
			if listed[0] == link {
				want = real
			}
			if !slices.Contains(aliases[listed[0]], want) {
				t.Fatalf("aliases %v: want %s's events known as %s's", aliases, listed[0], want)
			}
		})
	}
}

// TestModelsDirThroughSymlinkToConfigFolder: models_dir named through a
// symlink to the config's own folder is one watch for both; the events of
// each name arrive under the other's. A GGUF added is served and an edit of
// the config is applied.
func TestModelsDirThroughSymlinkToConfigFolder(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	copyModel(t, "stories260K.gguf", real, "stories.gguf")
	cfgPath := filepath.Join(real, "ggufd.yaml")
	writeCfg := func(body string) {
		// models_dir is absolute here; writeConfig's relative one would be
		// real/models.
		tmp := filepath.Join(real, ".ggufd.yaml.tmp")
		if err := os.WriteFile(tmp, []byte("models_dir: "+link+"\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfgPath); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg("")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, cfgPath, testLogger(t), WithLoader(fakeLoad), WithDebounce(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	startUntilCleanup(t, m)
	copyModel(t, "stories260K.gguf", real, "more.gguf")
	waitFor(t, 5*time.Second, "more served", func() bool {
		_, err := m.Lookup("more")
		return err == nil
	})
	writeCfg("models:\n  renamed:\n    file: more.gguf\n")
	waitFor(t, 5*time.Second, "the config edit applied", func() bool {
		_, err := m.Lookup("renamed")
		return err == nil
	})
}
