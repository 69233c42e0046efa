package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/models"
)

// fakeModel generates scripted pieces per choice.
type fakeModel struct {
	info      engine.Info
	pieces    []string
	block     bool          // wait for cancellation instead of finishing
	delay     time.Duration // between pieces
	genErr    error         // returned by Generate
	genErrAt  int           // when > 0, genErr is returned by that call only (1: the first)
	promptErr error         // returned by ApplyChatTemplate
	fim       bool          // has fill-in-the-middle tokens
	logprobs  []float32     // per piece when set; -0.5 otherwise
	// doneErr ends each generation with this error after its pieces, as
	// the engine reports a failure inside a batch.
	doneErr error

	mu        sync.Mutex
	calls     int // Generate calls
	requests  []engine.GenerateRequest
	cancelled chan struct{}
}

func newFakeModel() *fakeModel {
	return &fakeModel{
		info:      engine.Info{Parallel: 4, VocabSize: 512, ContextLength: 256},
		pieces:    []string{"Hello", " world"},
		cancelled: make(chan struct{}, 16),
	}
}

func (m *fakeModel) Generate(ctx context.Context, req engine.GenerateRequest) (EventStream, error) {
	m.mu.Lock()
	m.calls++
	if m.genErr != nil && (m.genErrAt == 0 || m.calls == m.genErrAt) {
		m.mu.Unlock()
		return nil, m.genErr
	}
	m.requests = append(m.requests, req)
	m.mu.Unlock()
	n := max(req.N, 1)
	ch := make(chan engine.Event, 64)
	go func() {
		defer close(ch)
		usage := engine.Usage{PromptTokens: 7, CachedTokens: 2}
		if m.block {
			<-ctx.Done()
			m.cancelled <- struct{}{}
			for i := range n {
				ch <- engine.Event{Index: i, FinishReason: engine.FinishCancelled}
			}
			ch <- engine.Event{Done: true, Usage: usage}
			return
		}
		for i := range n {
			for j, p := range m.pieces {
				select {
				case <-time.After(m.delay):
				case <-ctx.Done():
				}
				ev := engine.Event{Index: i, Text: p}
				if req.Logprobs {
					lp := float32(-0.5)
					if j < len(m.logprobs) {
						lp = m.logprobs[j]
					}
					ev.Logprobs = []engine.TokenLogprob{{Token: j, Text: p, Bytes: []byte(p), Logprob: lp,
						Top: []engine.TopLogprob{{Token: j, Text: p, Bytes: []byte(p), Logprob: lp}}}}
				}
				ch <- ev
				usage.CompletionTokens++
			}
			ch <- engine.Event{Index: i, FinishReason: engine.FinishLength}
		}
		ch <- engine.Event{Done: true, Usage: usage, Err: m.doneErr}
	}()
	return chanStream(ch), nil
}

type chanStream chan engine.Event

func (c chanStream) Next() (engine.Event, bool) {
	ev, ok := <-c
	return ev, ok
}

func (m *fakeModel) Embed(ctx context.Context, req engine.EmbedRequest) (engine.EmbedResult, error) {
	n := len(req.Texts) + len(req.Tokens)
	res := engine.EmbedResult{PromptTokens: 3 * n}
	for range n {
		res.Vectors = append(res.Vectors, []float32{0.6, 0.8})
	}
	return res, nil
}

func (m *fakeModel) Tokenize(text string, addSpecial, parseSpecial bool) ([]int, error) {
	var out []int
	if addSpecial {
		out = append(out, 1)
	}
	for _, r := range text {
		out = append(out, int(r))
	}
	return out, nil
}

func (m *fakeModel) Detokenize(tokens []int) (string, error) {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteRune(rune(t))
	}
	return b.String(), nil
}

func (m *fakeModel) ApplyChatTemplate(req engine.ChatRequest) (string, error) {
	if m.promptErr != nil {
		return "", m.promptErr
	}
	var b strings.Builder
	for _, msg := range req.Messages {
		b.WriteString("<" + msg["role"].(string) + ">" + msg["content"].(string) + "\n")
	}
	if req.AddGenerationPrompt {
		b.WriteString("<assistant>")
	}
	return b.String(), nil
}

// FillInMiddle lays the prompt out as the engine does, with the fake's
// tokenizer and fill-in-the-middle tokens 1000..1002 when fim is set.
func (m *fakeModel) FillInMiddle(prefix, suffix string) ([]int, error) {
	if !m.fim {
		return nil, engine.ErrNoFillInMiddle
	}
	pre, _ := m.Tokenize(prefix, false, false)
	suf, _ := m.Tokenize(suffix, false, false)
	return slices.Concat([]int{1000}, pre, []int{1001}, suf, []int{1002}), nil
}

func (m *fakeModel) Info() engine.Info { return m.info }

func (m *fakeModel) lastRequest(t *testing.T) engine.GenerateRequest {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.requests) == 0 {
		t.Fatal("no generate request reached the model")
	}
	return m.requests[len(m.requests)-1]
}

// fakeCatalog serves fake models by name.
type fakeCatalog struct {
	entries    map[string]models.Entry
	models     map[string]*fakeModel
	acquireErr error
	loadDelay  time.Duration
	released   chan string
}

func newFakeCatalog() *fakeCatalog {
	return &fakeCatalog{
		entries: map[string]models.Entry{
			"tiny": {Name: "tiny", ContextLength: 256, LoadHash: "tinyhash",
				Model: config.Model{Name: "tiny", Aliases: []string{"tiny-alias"}, Description: "a tiny model"}},
			"embed": {Name: "embed", Embeddings: true, Model: config.Model{Name: "embed", Embeddings: true}},
		},
		models:   map[string]*fakeModel{"tiny": newFakeModel(), "embed": newFakeModel()},
		released: make(chan string, 64),
	}
}

// edit changes the settings of a model.
func (c *fakeCatalog) edit(name string, f func(*models.Entry)) {
	e := c.entries[name]
	f(&e)
	c.entries[name] = e
}

func (c *fakeCatalog) Lookup(name string) (models.Entry, error) {
	if name == "tiny-alias" {
		name = "tiny"
	}
	e, ok := c.entries[name]
	if !ok {
		return models.Entry{}, &models.NotFoundError{Name: name, Suggestions: []string{"tiny"}}
	}
	return e, nil
}

func (c *fakeCatalog) Acquire(ctx context.Context, name string) (Lease, error) {
	if c.acquireErr != nil {
		return nil, c.acquireErr
	}
	if c.loadDelay > 0 {
		select {
		case <-time.After(c.loadDelay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &fakeLease{m: c.models[name], name: name, c: c}, nil
}

func (c *fakeCatalog) Statuses() []models.Status {
	return []models.Status{
		{Entry: c.entries["tiny"], State: models.StateLoaded, MemoryBytes: 1 << 20, BusySlots: 1, QueueDepth: 2,
			Requests: 5, PromptTokensDecoded: 30, TokensGenerated: 12, ImagesEncoded: 1, DecodeSteps: 9, FewerThreadSteps: 4,
			Placement: []models.DeviceUsage{{Device: "CPU", Name: "system memory", Kind: "cpu", Layers: 6, Bytes: 1 << 20}}},
		{Entry: c.entries["embed"], State: models.StateLoading, Progress: 0.42},
	}
}

func (c *fakeCatalog) Status(name string) (models.Status, error) {
	for _, st := range c.Statuses() {
		if st.Name == name {
			return st, nil
		}
	}
	return models.Status{}, &models.NotFoundError{Name: name}
}

type fakeLease struct {
	m    *fakeModel
	name string
	c    *fakeCatalog
}

func (l *fakeLease) Model() Model { return l.m }
func (l *fakeLease) Release()     { l.c.released <- l.name }

// newTestServer serves a fake catalog on 127.0.0.1 and stops with the test.
func newTestServer(t *testing.T, cat *fakeCatalog, opts ...Option) (*Server, string) {
	t.Helper()
	return newTestServerWith(t, Settings{Limits: Limits{BodyLimit: 1 << 16}}, cat, opts...)
}

func newTestServerWith(t *testing.T, st Settings, cat *fakeCatalog, opts ...Option) (*Server, string) {
	t.Helper()
	s, err := NewWithCatalog(st, cat, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(s.Handler())
	ts.Config = s.http
	ts.Start()
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
