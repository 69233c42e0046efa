package models

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine"
)

func TestConfigEditAppliedLive(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireBackend(t, b.name)
			e := newEnv(t, b.load, `
models:
  stories:
    file: stories.gguf
    description: before
`, func(models string) { twoModels(models, t) })
			l := e.acquire("stories")

			// A non-load setting applies at once, without a reload.
			e.writeConfig(`
models:
  stories:
    file: stories.gguf
    description: after
    aliases: [tales]
`)
			waitFor(t, 5*time.Second, "alias applied", func() bool {
				en, err := e.m.Lookup("tales")
				return err == nil && en.Model.Description == "after"
			})
			if e.state("stories") != StateLoaded || e.loads.count("stories.gguf") != 1 {
				t.Fatal("a description change reloaded the model")
			}

			// An invalid config is not applied.
			e.writeConfig("models:\n  stories:\n    file: stories.gguf\n    contxt: 64\n")
			if err := e.m.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "contxt") {
				t.Errorf("Reload of an invalid config: %v", err)
			}
			if _, err := e.m.Lookup("tales"); err != nil {
				t.Fatalf("invalid config replaced the good one: %v", err)
			}
			// While the config is invalid, models_dir changes still apply,
			// through the watcher.
			copyModel(t, "stories260K-chatml.gguf", e.models, "added.gguf")
			waitFor(t, 5*time.Second, "added.gguf discovered under an invalid config", func() bool {
				_, err := e.m.Lookup("added")
				return err == nil
			})
			if _, err := e.m.Lookup("tales"); err != nil {
				t.Fatalf("rescan dropped the last good config: %v", err)
			}

			// A load setting changes: reload once the request finishes.
			e.writeConfig(`
models:
  stories:
    file: stories.gguf
    context: 64
    aliases: [tales]
`)
			waitFor(t, 5*time.Second, "new context in catalog", func() bool {
				en, _ := e.m.Lookup("stories")
				return en.ContextLength == 64
			})
			// state goes through the loop, after the whole reload.
			if e.state("stories") != StateLoaded || e.loads.count("stories.gguf") != 1 {
				t.Fatal("reloaded under a lease")
			}
			if l.Entry().ContextLength != 2048 {
				t.Errorf("the running request's entry changed")
			}
			l.Release()
			l2 := e.acquire("tales")
			if l2.Entry().ContextLength != 64 || e.loads.count("stories.gguf") != 2 {
				t.Errorf("after reload: context %d, %d loads", l2.Entry().ContextLength, e.loads.count("stories.gguf"))
			}
			if o := e.loads.lastOpts("stories.gguf"); o.ContextLength != 64 {
				t.Errorf("loaded with context %d", o.ContextLength)
			}
			l2.Release()

			// Removing the model from the config: its file is still in
			// models_dir, so it stays served as a discovered model; the
			// configured alias goes away.
			e.writeConfig("")
			waitFor(t, 5*time.Second, "alias removed", func() bool {
				_, err := e.m.Lookup("tales")
				return err != nil
			})
			en, err := e.m.Lookup("stories")
			if err != nil || !en.Discovered {
				t.Errorf("stories after removal from config: %+v %v", en, err)
			}

			// An in-place write (no rename) is picked up too.
			if err := os.WriteFile(e.cfgPath, []byte("models_dir: models\nmodels:\n  stories:\n    file: stories.gguf\n    aliases: [inplace]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "in-place edit applied", func() bool {
				_, err := e.m.Lookup("inplace")
				return err == nil
			})
		})
	}
}

func TestModelFilesAddedAndRemoved(t *testing.T) {
	e := newEnv(t, fakeLoad, "", func(models string) { twoModels(models, t) })
	copyModel(t, "stories260K-chatml.gguf", e.models, "new.gguf")
	waitFor(t, 5*time.Second, "new model discovered", func() bool {
		_, err := e.m.Lookup("new")
		return err == nil
	})
	l := e.acquire("tiny")
	if err := os.Remove(filepath.Join(e.models, "tiny.gguf")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "tiny removed", func() bool {
		_, err := e.m.Lookup("tiny")
		var nf *NotFoundError
		return errors.As(err, &nf)
	})
	fm := l.Loaded().(*fakeModel)
	// Removed from the catalog but leased: still loaded, not unloading.
	var st State
	e.m.call(func() {
		for r := range e.m.st.detached {
			st = r.state
		}
	})
	if st != StateLoaded || fm.closed.Load() {
		t.Fatalf("removed model is %q (closed %v) under a lease, want loaded", st, fm.closed.Load())
	}
	l.Release()
	waitFor(t, 2*time.Second, "removed model closed", fm.closed.Load)
}

// TestWatchedFolderRecreated: hot reload outlives a watched folder that is
// removed or renamed away and then created again (rm -rf models && mkdir
// models, a restored backup, a remount): the watch that died with the old
// folder is set up on the new one, so files added to it are served.
func TestWatchedFolderRecreated(t *testing.T) {
	mkdirModels := func(e *env) {
		if err := os.MkdirAll(e.models, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		gone func(e *env) // takes the folder away
		back func(e *env) // creates it again and adds fresh.gguf
		want string       // the name fresh.gguf is then served under
	}{
		{"models_dir removed", func(e *env) {
			if err := os.RemoveAll(e.models); err != nil {
				t.Fatal(err)
			}
		}, func(e *env) {
			mkdirModels(e)
			copyModel(t, "stories260K.gguf", e.models, "fresh.gguf")
		}, "fresh"},
		{"models_dir renamed away", func(e *env) {
			if err := os.Rename(e.models, e.models+".old"); err != nil {
				t.Fatal(err)
			}
		}, func(e *env) {
			mkdirModels(e)
			copyModel(t, "stories260K.gguf", e.models, "fresh.gguf")
		}, "fresh"},
		{"config folder removed with models_dir in it", func(e *env) {
			if err := os.RemoveAll(e.dir); err != nil {
				t.Fatal(err)
			}
		}, func(e *env) {
			mkdirModels(e)
			copyModel(t, "stories260K.gguf", e.models, "fresh.gguf")
			e.writeConfig("models:\n  again:\n    file: fresh.gguf\n")
		}, "again"},
	}
	// when: the folder is back after the watcher has set up its watches
	// again, or already while the reload of its removal runs (files then
	// arrive before any watch on the new folder can see them).
	for _, during := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if during {
				name += ", back during the reload"
			}
			t.Run(name, func(t *testing.T) {
				var armed atomic.Bool
				var e *env
				hook := withAfterWatchReload(func() {
					if during && armed.CompareAndSwap(true, false) {
						tt.back(e)
					}
				})
				e = newEnv(t, fakeLoad, "", func(models string) {
					copyModel(t, "stories260K.gguf", models, "stories.gguf")
				}, hook)
				armed.Store(during)
				tt.gone(e)
				// Without the hook, the reload of the removal is over before
				// the folder is back, so only the watcher can find what is
				// added next.
				waitFor(t, 5*time.Second, "stories gone with its folder", func() bool {
					_, err := e.m.Lookup("stories")
					return err != nil
				})
				if !during {
					tt.back(e)
				}
				waitFor(t, 5*time.Second, tt.want+" served from the folder created again", func() bool {
					_, err := e.m.Lookup(tt.want)
					return err == nil
				})
			})
		}
	}
}

func TestDemoModelOnFirstRun(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireBackend(t, b.name)
			dir := filepath.Join(t.TempDir(), "models") // does not exist yet
			m, err := New(testConfig(dir), "", testLogger(t), WithLoader(b.load))
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			if _, err := os.Stat(filepath.Join(dir, DemoName+".gguf")); err != nil {
				t.Fatalf("demo model not written: %v", err)
			}
			en, err := m.Lookup(DemoName)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(en.Model.Description, "gibberish") || !en.Discovered {
				t.Errorf("demo entry %+v", en)
			}
			vis, err := m.Lookup(VisionDemoName)
			if err != nil || vis.Projector == "" || !strings.Contains(vis.Model.Description, "takes images") {
				t.Errorf("vision demo entry %+v (%v): want one with its projector", vis, err)
			}
			if n := len(m.Entries()); n != 2 {
				t.Errorf("%d entries, want the two demos (the projector is not a model)", n)
			}
			l, err := m.Acquire(context.Background(), DemoName)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			if em := l.Model(); em != nil {
				// The real engine serves the demo model end to end.
				st, err := em.Generate(context.Background(), engine.GenerateRequest{Prompt: "Hello", MaxTokens: 8})
				if err != nil {
					t.Fatal(err)
				}
				var ev engine.Event
				for e, ok := st.Next(); ok; e, ok = st.Next() {
					ev = e
				}
				if !ev.Done || ev.Err != nil || ev.Usage.CompletionTokens == 0 {
					t.Errorf("generation ended with %+v", ev)
				}
			}
		})
	}
}

func TestNoDemoWhenModelsExist(t *testing.T) {
	dir := t.TempDir()
	copyModel(t, "stories260K.gguf", dir, "stories.gguf")
	m, err := New(testConfig(dir), "", testLogger(t), WithLoader(fakeLoad))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if _, err := os.Stat(filepath.Join(dir, DemoName+".gguf")); err == nil {
		t.Error("demo model written next to real models")
	}
}

func TestModelsDirOverrideSurvivesReload(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "elsewhere")
	if err := os.MkdirAll(filepath.Join(dir, "models"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	copyModel(t, "stories260K.gguf", other, "stories.gguf")
	cfgPath := filepath.Join(dir, "ggufd.yaml")
	if err := os.WriteFile(cfgPath, []byte("models_dir: models\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, cfgPath, testLogger(t), WithLoader(fakeLoad), WithModelsDir(other))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if err := m.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lookup("stories"); err != nil {
		t.Errorf("after reload: %v", err)
	}
}

// TestMemoryCheckAtStartup estimates a real GGUF with the default
// estimator: config.Load accepts any setting (it opens no model file);
// Start refuses an absurd parallel × context, citing the config's line,
// before anything loads, and accepts it with a GPU that can hold the rest.
func TestMemoryCheckAtStartup(t *testing.T) {
	gpu := WithDevices(func() []DeviceMemory {
		return []DeviceMemory{{ID: "CUDA0", Kind: "gpu", TotalBytes: 80 << 30, FreeBytes: 80 << 30}}
	})
	const absurd = "memory_limit: 64MiB\nmodels:\n  stories: {parallel: 64, context: 65536}\n"
	tests := []struct {
		name string
		body string
		opts []Option
		err  []string // substrings of Start's error; none: it starts
	}{
		{"modest", "models:\n  stories: {parallel: 2}\n", nil, nil},
		{"absurd", absurd, nil, []string{"ggufd.yaml:4:3: models.stories: needs about", "more than memory_limit (64MiB)"}},
		{"absurd with a GPU", absurd, []Option{gpu}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyModel(t, "stories260K.gguf", dir, "stories.gguf")
			path := filepath.Join(dir, "ggufd.yaml")
			if err := os.WriteFile(path, []byte("models_dir: .\n"+tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			loads := newLoadCounter(fakeLoad)
			m, err := New(cfg, path, testLogger(t), append([]Option{WithLoader(loads.load)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			err = m.Start(context.Background())
			defer m.Close(context.Background())
			if len(tt.err) == 0 {
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				return
			}
			for _, want := range tt.err {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Start: %v, want an error with %q", err, want)
				}
			}
			if c := loads.count("stories.gguf"); c != 0 {
				t.Errorf("%d loads of a model that cannot fit", c)
			}
		})
	}
}

// A load setting edited while a request is in flight drains the model for a
// reload; reverting the edit (an editor's save then undo) must cancel that
// drain too, not only the reload, so the model serves requests again at once
// and is not reloaded with the settings it already has. An admin Unload
// asked for meanwhile still drains it.
func TestRevertedLoadEditCancelsTheDrain(t *testing.T) {
	const (
		before = "models:\n  stories:\n    file: stories.gguf\n    context: 128\n"
		edited = "models:\n  stories:\n    file: stories.gguf\n    context: 64\n"
	)
	tests := []struct {
		name               string
		queuedBeforeRevert bool // the request arrives while the edit is in force
		adminUnload        bool // an admin Unload is asked for while the edit is in force
		servedAtOnce       bool // the request is served beside the one in flight
		loads              int
	}{
		{"request after the revert", false, false, true, 1},
		{"request queued behind the drain", true, false, true, 1},
		{"admin unload keeps the drain", true, true, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, fakeLoad, before, func(models string) { twoModels(models, t) }, WithDebounce(time.Hour))
			inFlight := e.acquire("stories")
			defer inFlight.Release() // on failure too, so Close does not wait for it
			e.edit(edited)
			var unloaded chan error
			if tt.adminUnload {
				unloaded = make(chan error, 1)
				go func() { unloaded <- e.m.Unload(context.Background(), "stories") }()
				waitFor(t, 5*time.Second, "unload requested", func() bool { return e.unloadAsked("stories") })
			}
			var req <-chan acquireResult
			if tt.queuedBeforeRevert {
				req = e.acquireAsync("stories")
				waitFor(t, 5*time.Second, "request queued behind the drain", func() bool { return e.waiting("stories") == 1 })
			}
			e.edit(before)
			if en, _ := e.m.Lookup("stories"); en.ContextLength != 128 {
				t.Fatalf("context %d after the revert, want 128", en.ContextLength)
			}
			if req == nil {
				req = e.acquireAsync("stories")
			}

			if tt.servedAtOnce {
				select {
				case res := <-req:
					if res.err != nil {
						t.Fatalf("Acquire after the revert: %v", res.err)
					}
					res.lease.Release()
				case <-time.After(5 * time.Second):
					t.Fatal("the request still waits for the reload that the revert cancelled")
				}
			} else {
				waitFor(t, 5*time.Second, "request waiting for the admin unload", func() bool { return e.waiting("stories") == 1 })
			}
			inFlight.Release()
			if tt.adminUnload {
				if err := <-unloaded; err != nil {
					t.Fatalf("Unload: %v", err)
				}
			}
			if !tt.servedAtOnce {
				res := <-req
				if res.err != nil {
					t.Fatalf("Acquire after the unload: %v", res.err)
				}
				res.lease.Release()
			}
			e.acquire("stories").Release()
			if n := e.loads.count("stories.gguf"); n != tt.loads {
				t.Errorf("%d loads, want %d", n, tt.loads)
			}
		})
	}
}

// Reloads at once (the file watcher's and POST /admin/reload) take turns,
// from reading the file to the last OnConfig hook: a reload that starts
// while another one's hooks run waits, then applies the file as it is when
// its turn comes, so hooks (which keep state of their own, as cmd/ggufd's
// authReloader does) never run concurrently and end on the config the
// manager applied last.
func TestReloadsTakeTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, write := unstartedManager(t, "body_limit: 1MiB\n")

		var (
			mu      sync.Mutex
			running int               // hooks running now
			seen    []config.ByteSize // body_limit of each hook call, in order
		)
		release := make(chan struct{})
		m.OnConfig(func(c *config.Config) {
			mu.Lock()
			running++
			if running > 1 {
				t.Error("OnConfig hooks ran concurrently")
			}
			first := len(seen) == 0 && running == 1
			mu.Unlock()
			if first {
				<-release // the first reload's hook is late: preempted, or its log write blocks
			}
			mu.Lock()
			seen = append(seen, c.BodyLimit)
			running--
			mu.Unlock()
		})

		ctx := context.Background()
		first := make(chan error, 1)
		go func() { first <- m.Reload(ctx) }()
		synctest.Wait() // in its hook
		write("body_limit: 2MiB\n")
		second := make(chan error, 1)
		go func() { second <- m.Reload(ctx) }()
		synctest.Wait()             // waiting for its turn
		write("body_limit: 3MiB\n") // edited again meanwhile
		close(release)
		for _, done := range []chan error{first, second} {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}

		applied := m.Config().BodyLimit
		mu.Lock()
		defer mu.Unlock()
		if want := []config.ByteSize{1 << 20, 3 << 20}; !slices.Equal(seen, want) || applied != want[1] {
			t.Errorf("hooks saw body_limit %v, the manager applied %v; want hooks %v and the manager on the last", seen, applied, want)
		}
	})
}

// OnConfig hooks run in their reload's turn but not on the manager's loop,
// so they may call the manager; a Reload waiting for its turn (here one a
// hook calls, which would otherwise wait for itself) ends with its context.
func TestOnConfigHooksMayCallTheManager(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _ := unstartedManager(t, "body_limit: 1MiB\n")
		var (
			calls int
			inner error
		)
		m.OnConfig(func(c *config.Config) {
			calls++
			if got := m.Config(); got != c {
				t.Errorf("Config() in the hook is not the config applied")
			}
			if s, err := m.Status("stories"); err != nil || s.State != StateUnloaded || len(m.Entries()) != 1 {
				t.Errorf("Status in the hook: %+v, %v; %d entries", s, err, len(m.Entries()))
			}
			if calls == 1 { // once: without turns it would call this hook again
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				inner = m.Reload(ctx)
			}
		})
		if err := m.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !errors.Is(inner, context.DeadlineExceeded) {
			t.Errorf("Reload waiting for its turn: %v, want %v", inner, context.DeadlineExceeded)
		}
	})
}

// unstartedManager is a manager of stories.gguf (fake loads) over a config
// file of models_dir "." and body, never started: in a synctest bubble its
// goroutines must all be ones synctest sees blocked, which the file
// watcher's is not. write replaces the file's body; the manager is closed
// when the test ends.
func unstartedManager(t *testing.T, body string) (m *Manager, write func(body string)) {
	t.Helper()
	dir := t.TempDir()
	copyModel(t, "stories260K.gguf", dir, "stories.gguf")
	path := filepath.Join(dir, "ggufd.yaml")
	write = func(body string) {
		if err := os.WriteFile(path, []byte("models_dir: .\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(body)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err = New(cfg, path, testLogger(t), WithLoader(fakeLoad), plentyOfMemory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m, write
}
