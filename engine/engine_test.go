package engine

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	ollamallama "github.com/ollama/ollama/llama"
	"github.com/ollama/ollama/ml"

	"github.com/ggufd/ggufd/engine/gguf"
	"github.com/ggufd/ggufd/internal/sharedtest"
	"github.com/ggufd/ggufd/internal/sharedtest/withmeta"
)

const stories = "stories260K.gguf"

func loadModel(t *testing.T, name string, opts LoadOptions) *Model {
	t.Helper()
	m, err := Load(context.Background(), sharedtest.Model(t, name), opts)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// result is a whole stream collected.
type result struct {
	text    []string // per choice
	deltas  [][]string
	finish  []FinishReason
	usage   Usage
	events  []Event
	err     error
	logprob [][]TokenLogprob
}

func collect(t *testing.T, st *Stream, n int) result {
	t.Helper()
	r := result{text: make([]string, n), deltas: make([][]string, n), finish: make([]FinishReason, n), logprob: make([][]TokenLogprob, n)}
	for {
		ev, ok := st.Next()
		if !ok {
			t.Fatal("stream ended without a Done event")
		}
		r.events = append(r.events, ev)
		if ev.Done {
			r.usage, r.err = ev.Usage, ev.Err
			if _, ok := st.Next(); ok {
				t.Fatal("event after Done")
			}
			return r
		}
		r.text[ev.Index] += ev.Text
		if ev.Text != "" {
			r.deltas[ev.Index] = append(r.deltas[ev.Index], ev.Text)
		}
		r.logprob[ev.Index] = append(r.logprob[ev.Index], ev.Logprobs...)
		if ev.FinishReason != "" {
			if r.finish[ev.Index] != "" {
				t.Fatalf("choice %d finished twice", ev.Index)
			}
			r.finish[ev.Index] = ev.FinishReason
		}
	}
}

func generate(t *testing.T, m *Model, req GenerateRequest) result {
	t.Helper()
	st, err := m.Generate(context.Background(), req)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	return collect(t, st, max(req.N, 1))
}

// ollamaModel loads path through Ollama's binding (a reference that does
// not use our own cgo layer) with a one-sequence context of n tokens.
func ollamaModel(t *testing.T, path string, n, threads int) (*ollamallama.Model, *ollamallama.Context) {
	t.Helper()
	ollamallama.BackendInit()
	lm, err := ollamallama.LoadModelFromFile(path, ollamallama.ModelParams{UseMmap: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ollamallama.FreeModel(lm) })
	lc, err := ollamallama.NewContextWithModel(lm, ollamallama.NewContextParams(n, n, 1, threads, ml.FlashAttentionAuto, ""))
	if err != nil {
		t.Fatal(err)
	}
	return lm, lc
}

// plainGreedy is the reference: a single-sequence llama.cpp decode loop
// written against Ollama's binding (not our own cgo layer), argmax sampling.
func plainGreedy(t *testing.T, path, prompt string, n int) string {
	t.Helper()
	lm, lc := ollamaModel(t, path, 512, physicalCores())
	toks, err := lm.Tokenize(prompt, true, true)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := ollamallama.NewBatch(512, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Free()
	for i, tok := range toks {
		batch.Add(tok, nil, i, i == len(toks)-1, 0)
	}
	var out strings.Builder
	pos := len(toks)
	for i := 0; i < n; i++ {
		if err := lc.Decode(batch); err != nil {
			t.Fatal(err)
		}
		logits := lc.GetLogitsIth(batch.NumTokens() - 1)
		best := 0
		for j, v := range logits {
			if v > logits[best] {
				best = j
			}
		}
		if lm.TokenIsEog(best) {
			break
		}
		out.WriteString(lm.TokenToPiece(best))
		batch.Clear()
		batch.Add(best, nil, pos, true, 0)
		pos++
	}
	return out.String()
}

func TestGreedyMatchesPlainDecodeLoop(t *testing.T) {
	const prompt = "Once upon a time"
	want := plainGreedy(t, sharedtest.Model(t, stories), prompt, 64)
	m := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 2})
	got := generate(t, m, GenerateRequest{Prompt: prompt, MaxTokens: 64})
	if got.text[0] != want {
		t.Fatalf("engine text differs from the plain decode loop\nengine: %q\nplain:  %q", got.text[0], want)
	}
	if len(want) < 50 {
		t.Fatalf("reference text suspiciously short: %q", want)
	}
	if got.usage.CompletionTokens == 0 || got.usage.PromptTokens != 5 && got.usage.PromptTokens == 0 {
		t.Fatalf("usage not counted: %+v", got.usage)
	}
	t.Logf("greedy 64 tokens: %q (usage %+v)", got.text[0], got.usage)
}

func TestBatchingDoesNotChangeResults(t *testing.T) {
	prompts := []string{
		"Once upon a time", "The little dog", "Lily and Tom went", "One day, a bird",
		"The sun was", "Sam had a red ball", "In the park there", "Mom said",
	}
	m := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 8})
	alone := make([]string, len(prompts))
	for i, p := range prompts {
		alone[i] = generate(t, m, GenerateRequest{Prompt: p, MaxTokens: 48}).text[0]
	}
	together := make([]string, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := m.Generate(context.Background(), GenerateRequest{Prompt: p, MaxTokens: 48})
			if err != nil {
				t.Error(err)
				return
			}
			together[i] = collect(t, st, 1).text[0]
		}()
	}
	wg.Wait()
	for i := range prompts {
		if alone[i] != together[i] {
			t.Errorf("prompt %q: batched output differs\nalone:    %q\ntogether: %q", prompts[i], alone[i], together[i])
		}
	}
}

func TestCancellationFreesSlots(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 512, Parallel: 2, QueueDepth: 4})
	before := runtime.NumGoroutine()
	long := GenerateRequest{Prompt: "Once upon a time", IgnoreEOS: true, MaxTokens: 100000}

	// Two running, one queued: cancel all three at different stages.
	var cancels []context.CancelFunc
	var streams []*Stream
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		st, err := m.Generate(ctx, long)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, st)
	}
	// Wait until the first two are generating.
	for i := 0; i < 2; i++ {
		if ev, ok := streams[i].Next(); !ok || ev.Done {
			t.Fatalf("stream %d ended early", i)
		}
	}
	if got := m.Stats(); got.BusySlots != 2 || got.QueueDepth != 1 {
		t.Fatalf("stats while busy: %+v", got)
	}
	for _, c := range cancels {
		c()
	}
	for i, st := range streams {
		var last Event
		for {
			ev, ok := st.Next()
			if !ok {
				break
			}
			if ev.FinishReason != "" && ev.FinishReason != FinishCancelled {
				t.Fatalf("stream %d finished with %q", i, ev.FinishReason)
			}
			last = ev
		}
		if !last.Done {
			t.Fatalf("stream %d: no Done event", i)
		}
		if i < 2 && last.Usage.CompletionTokens == 0 {
			t.Fatalf("stream %d: a cancelled running request must report what it generated: %+v", i, last.Usage)
		}
		if i == 2 && last.Usage.CompletionTokens != 0 {
			t.Fatalf("queued request generated tokens: %+v", last.Usage)
		}
	}
	if got := m.Stats(); got.BusySlots != 0 || got.QueueDepth != 0 {
		t.Fatalf("slots not freed after cancel: %+v", got)
	}
	// The slots are reusable.
	r := generate(t, m, GenerateRequest{Prompt: "The dog", MaxTokens: 8})
	if r.finish[0] != FinishLength || r.usage.CompletionTokens != 8 {
		t.Fatalf("request after cancel: %+v %+v", r.finish, r.usage)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("goroutines leaked: %d before, %d after", before, n)
	}
}

func TestCancelDuringPromptProcessing(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 2048, Parallel: 1, BatchSize: 32})
	prompt := strings.Repeat("Once upon a time there was a little girl. ", 40)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := m.Generate(ctx, GenerateRequest{Prompt: prompt, MaxTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	r := collect(t, st, 1)
	if r.finish[0] != FinishCancelled {
		t.Fatalf("finish = %q, want cancelled", r.finish[0])
	}
	if r.usage.CompletionTokens != 0 {
		t.Fatalf("generated after cancel during prefill: %+v", r.usage)
	}
	if m.Stats().BusySlots != 0 {
		t.Fatal("slot still busy")
	}
}

func TestCancelAbortsLongPromptChunk(t *testing.T) {
	// One chunk holds the whole prompt: without aborting the decode, the
	// model would stay busy with it after the client left.
	m := loadModel(t, stories, LoadOptions{ContextLength: 4096, Parallel: 1, BatchSize: 4096})
	prompt := strings.Repeat("Once upon a time there was a little girl who liked to play. ", 60)
	toks, _ := m.Tokenize(prompt, true, true)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := m.Generate(ctx, GenerateRequest{Prompt: prompt, MaxTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(30*time.Millisecond, cancel)
	r := collect(t, st, 1)
	if r.finish[0] != FinishCancelled || r.usage.CompletionTokens != 0 {
		t.Fatalf("finish %q usage %+v", r.finish[0], r.usage)
	}
	if r.usage.PromptTokens >= len(toks) {
		t.Fatalf("the whole %d-token prompt was processed after cancel: %+v", len(toks), r.usage)
	}
	// The aborted chunk left nothing behind: the next request works and
	// reuses no stale cache.
	next := generate(t, m, GenerateRequest{Prompt: "Once upon a time", MaxTokens: 4})
	if next.finish[0] != FinishLength || next.usage.CachedTokens != 0 {
		t.Fatalf("after abort: %q %+v", next.finish[0], next.usage)
	}
}

func TestMaxTokensAndStopStrings(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 1})
	base := generate(t, m, GenerateRequest{Prompt: "Once upon a time", MaxTokens: 40})
	if base.finish[0] != FinishLength || base.usage.CompletionTokens != 40 {
		t.Fatalf("max_tokens: finish %q usage %+v", base.finish[0], base.usage)
	}
	text := base.text[0]
	// A stop string from the middle of the known output, several bytes long
	// so that it spans token boundaries.
	words := strings.Fields(text)
	if len(words) < 6 {
		t.Fatalf("output too short: %q", text)
	}
	stop := words[3] + " " + words[4]
	i := strings.Index(text, stop)
	r := generate(t, m, GenerateRequest{Prompt: "Once upon a time", MaxTokens: 40, Stop: []string{"zzzz", stop}})
	if r.finish[0] != FinishStop {
		t.Fatalf("finish = %q, want stop (stop %q in %q)", r.finish[0], stop, text)
	}
	if r.text[0] != text[:i] {
		t.Fatalf("text = %q, want %q", r.text[0], text[:i])
	}
	for _, d := range r.deltas[0] {
		if strings.Contains(d, stop) {
			t.Fatalf("delta contains the stop string: %q", d)
		}
	}
}

func TestTextFilter(t *testing.T) {
	tests := []struct {
		name   string
		stops  []string
		pieces []string
		want   []string // emitted per push, then flush
		stop   bool
	}{
		{"plain", nil, []string{"ab", "c"}, []string{"ab", "c", ""}, false},
		{"split utf8", nil, []string{"\xe4", "\xbd", "\xa0!"}, []string{"", "", "你!", ""}, false},
		{"stop across pieces", []string{"END"}, []string{"xE", "N", "Dy"}, []string{"x", "", ""}, true},
		{"partial stop released", []string{"END"}, []string{"xE", "Na"}, []string{"x", "ENa", ""}, false},
		{"stop inside piece", []string{"\n\n"}, []string{"a\n\nb"}, []string{"a"}, true},
		{"invalid bytes flushed", nil, []string{"a\xff", "\xe4"}, []string{"a\uFFFD", "", "\uFFFD"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newTextFilter(tc.stops)
			var got []string
			stopped := false
			for _, p := range tc.pieces {
				out, s := f.push([]byte(p))
				got = append(got, out)
				if s {
					stopped = true
					break
				}
			}
			if !stopped {
				got = append(got, f.flush())
			}
			if stopped != tc.stop || strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q stop=%v, want %q stop=%v", got, stopped, tc.want, tc.stop)
			}
			for _, g := range got {
				if !utf8.ValidString(g) {
					t.Fatalf("invalid UTF-8 emitted: %q", g)
				}
			}
		})
	}
}

func TestUTF8HoldbackWithByteTokens(t *testing.T) {
	m := loadModel(t, "llama-2-tiny-random.gguf", LoadOptions{ContextLength: 256, Parallel: 1})
	// Make the model emit only the byte tokens of "你" (E4 BD A0) in random
	// order: most deltas would split or break characters without holdback.
	bias := map[int]float32{}
	for _, piece := range []string{"<0xE4>", "<0xBD>", "<0xA0>"} {
		tok := -1
		for id := 0; id < m.Info().VocabSize; id++ {
			if m.lm.TokenText(int32(id)) == piece {
				tok = id
				break
			}
		}
		if tok < 0 {
			t.Fatalf("byte token %s not in vocabulary", piece)
		}
		bias[tok] = 100
	}
	seed := uint64(7)
	r := generate(t, m, GenerateRequest{Prompt: "Hello", MaxTokens: 90, IgnoreEOS: true,
		Sampling: SamplingParams{Temperature: 1, Seed: &seed, LogitBias: bias}})
	if len(r.deltas[0]) == 0 {
		t.Fatal("no text")
	}
	for _, d := range r.deltas[0] {
		if !utf8.ValidString(d) {
			t.Fatalf("delta is not valid UTF-8: %q", d)
		}
	}
	if r.usage.CompletionTokens != 90 {
		t.Fatalf("usage: %+v", r.usage)
	}
	t.Logf("text: %q", r.text[0])
}

func TestPromptCache(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 1024, Parallel: 2})
	history := strings.Repeat("Lily liked to play in the park with her dog. ", 12)
	first := generate(t, m, GenerateRequest{Prompt: history, MaxTokens: 8})
	if first.usage.CachedTokens != 0 {
		t.Fatalf("first request reports cached tokens: %+v", first.usage)
	}
	second := generate(t, m, GenerateRequest{Prompt: history + "Then she went home.", MaxTokens: 8})
	if second.usage.CachedTokens < first.usage.PromptTokens-2 {
		t.Fatalf("history was recomputed: first %+v, second %+v", first.usage, second.usage)
	}
	if second.usage.PromptTokens <= second.usage.CachedTokens {
		t.Fatalf("usage: %+v", second.usage)
	}
	t.Logf("prompt processing: first %v for %d tokens, second %v with %d of %d cached",
		first.usage.PromptDuration, first.usage.PromptTokens, second.usage.PromptDuration, second.usage.CachedTokens, second.usage.PromptTokens)
}

func TestPromptTooLong(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 64, Parallel: 1})
	_, err := m.Generate(context.Background(), GenerateRequest{Prompt: strings.Repeat("Once upon a time ", 40)})
	var tooLong *PromptTooLongError
	if !errors.As(err, &tooLong) {
		t.Fatalf("err = %v, want PromptTooLongError", err)
	}
	if tooLong.ContextLength != 64 || tooLong.PromptTokens <= 64 {
		t.Fatalf("error numbers: %+v", tooLong)
	}
	if !strings.Contains(err.Error(), "64") {
		t.Fatalf("message does not say the limit: %v", err)
	}
	// Reaching the context end while generating finishes with length.
	r := generate(t, m, GenerateRequest{Prompt: "Once upon a time", IgnoreEOS: true})
	if r.finish[0] != FinishLength || r.usage.PromptTokens+r.usage.CompletionTokens > 64 {
		t.Fatalf("context end: finish %q usage %+v", r.finish[0], r.usage)
	}
}

// TestFillInMiddle: a vocabulary with fill-in-the-middle tokens lays an
// infill prompt out as llama-server does (BOS, FIM_PRE, prefix, FIM_SUF,
// suffix, FIM_MID), and the model generates from it; one without them
// says so.
func TestFillInMiddle(t *testing.T) {
	const bos, pre, suf, mid = 1, 500, 501, 502 // stories260K's <s>, and three of its tokens as FIM markers
	fimID := func(key string, id uint32) gguf.KV {
		return gguf.KV{Key: "tokenizer.ggml.fim_" + key + "_token_id", Type: gguf.TypeUint32, Value: id}
	}
	path := withmeta.Model(t, stories, fimID("pre", pre), fimID("suf", suf), fimID("mid", mid))
	m, err := Load(context.Background(), path, LoadOptions{ContextLength: 256, Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	got, err := m.FillInMiddle("Once upon", "they lived happily.")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := m.Tokenize("Once upon", false, false)
	after, _ := m.Tokenize("they lived happily.", false, false)
	want := slices.Concat([]int{bos, pre}, before, []int{suf}, after, []int{mid})
	if !slices.Equal(got, want) {
		t.Fatalf("infill prompt %v, want %v", got, want)
	}
	r := generate(t, m, GenerateRequest{PromptTokens: got, MaxTokens: 4, IgnoreEOS: true})
	if r.err != nil || r.usage.PromptTokens != len(want) || r.usage.CompletionTokens != 4 {
		t.Fatalf("generation from the infill prompt: %v, usage %+v", r.err, r.usage)
	}
	plain := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 1})
	if _, err := plain.FillInMiddle("a", "b"); !errors.Is(err, ErrNoFillInMiddle) {
		t.Fatalf("a vocabulary without FIM tokens: %v", err)
	}
}

func TestJSONSchemaForcesValidJSON(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 512, Parallel: 1})
	schema := []byte(`{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":99}},"required":["name","age"],"additionalProperties":false}`)
	r := generate(t, m, GenerateRequest{Prompt: "Once upon a time", MaxTokens: 300, JSONSchema: schema})
	if r.finish[0] != FinishStop {
		t.Fatalf("finish %q; text %q", r.finish[0], r.text[0])
	}
	var v struct {
		Name *string
		Age  *int
	}
	if err := json.Unmarshal([]byte(r.text[0]), &v); err != nil || v.Name == nil || v.Age == nil {
		t.Fatalf("output is not the schema's JSON: %q (%v)", r.text[0], err)
	}
	// A broken grammar is the caller's error.
	_, err := m.Generate(context.Background(), GenerateRequest{Prompt: "x", Grammar: "root ::= ("})
	var inv *InvalidRequestError
	if !errors.As(err, &inv) || inv.Param != "grammar" {
		t.Fatalf("bad grammar: %v", err)
	}
}

func TestChoicesAndLogprobs(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 4})
	seed := uint64(42)
	r := generate(t, m, GenerateRequest{Prompt: "Once upon a time", MaxTokens: 20, N: 3, Logprobs: true, TopLogprobs: 5,
		Sampling: SamplingParams{Temperature: 1.5, Seed: &seed}})
	for i := 0; i < 3; i++ {
		if r.finish[i] == "" || r.text[i] == "" {
			t.Fatalf("choice %d: finish %q text %q", i, r.finish[i], r.text[i])
		}
		if len(r.logprob[i]) == 0 {
			t.Fatalf("choice %d: no logprobs", i)
		}
		for _, lp := range r.logprob[i] {
			if lp.Logprob > 0 || len(lp.Top) != 5 {
				t.Fatalf("bad logprob entry %+v", lp)
			}
			for j := 1; j < len(lp.Top); j++ {
				if lp.Top[j].Logprob > lp.Top[j-1].Logprob {
					t.Fatalf("top logprobs not sorted: %+v", lp.Top)
				}
			}
			if lp.Logprob > lp.Top[0].Logprob+1e-5 {
				t.Fatalf("chosen token more likely than the top alternative: %+v", lp)
			}
		}
	}
	if r.text[0] == r.text[1] && r.text[1] == r.text[2] {
		t.Fatalf("three sampled choices are identical: %q", r.text[0])
	}
	if r.usage.CompletionTokens != len(r.logprob[0])+len(r.logprob[1])+len(r.logprob[2]) {
		t.Fatalf("completion tokens %d do not add up over choices", r.usage.CompletionTokens)
	}
	// Same seed, same output.
	again := generate(t, m, GenerateRequest{Prompt: "Once upon a time", MaxTokens: 20, N: 3, Sampling: SamplingParams{Temperature: 1.5, Seed: &seed}})
	for i := range again.text {
		if again.text[i] != r.text[i] {
			t.Fatalf("seeded choice %d not reproducible: %q vs %q", i, again.text[i], r.text[i])
		}
	}
}

func TestEmbeddings(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 4, Embeddings: true})
	res, err := m.Embed(context.Background(), EmbedRequest{Texts: []string{"Once upon a time", "The dog ran", "Once upon a time"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Vectors) != 3 || res.PromptTokens == 0 {
		t.Fatalf("result: %d vectors, %d tokens", len(res.Vectors), res.PromptTokens)
	}
	for i, v := range res.Vectors {
		if len(v) != m.Info().EmbeddingSize {
			t.Fatalf("vector %d has %d dims, want %d", i, len(v), m.Info().EmbeddingSize)
		}
		var sum float64
		for _, x := range v {
			sum += float64(x) * float64(x)
		}
		if math.Abs(math.Sqrt(sum)-1) > 1e-4 {
			t.Fatalf("vector %d norm %f", i, math.Sqrt(sum))
		}
	}
	for j := range res.Vectors[0] {
		if math.Abs(float64(res.Vectors[0][j]-res.Vectors[2][j])) > 1e-5 {
			t.Fatal("same input embedded differently in one batch")
		}
	}
	if _, err := m.Generate(context.Background(), GenerateRequest{Prompt: "x"}); !errors.Is(err, ErrEmbeddingModel) {
		t.Fatalf("generate on an embedding model: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	src := sharedtest.Model(t, stories)
	data, err := readFile(src)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"truncated.gguf": data[:len(data)/2],
		"text.gguf":      []byte("this is not a model"),
	}
	for name, content := range cases {
		p := writeFile(t, dir, name, content)
		_, err := Load(context.Background(), p, LoadOptions{ContextLength: 128, Parallel: 1})
		var le *LoadError
		if !errors.As(err, &le) {
			t.Fatalf("%s: err = %v, want LoadError", name, err)
		}
		want := map[string]error{"truncated.gguf": gguf.ErrTruncated, "text.gguf": gguf.ErrNotGGUF}[name]
		if !errors.Is(err, want) {
			t.Fatalf("%s: err = %v, want %v", name, err, want)
		}
	}
	if _, err := Load(context.Background(), dir+"/missing.gguf", LoadOptions{}); err == nil {
		t.Fatal("missing file loaded")
	}
}

// TestUseAfterClose: every method that reaches the llama model answers
// ErrClosed once the model is closed, and one racing with Close either
// runs before the model is freed or gets ErrClosed. Generate tokenized
// and built its sampler before checking, on memory the scheduler had
// freed: llama.cpp read a garbage token id and aborted the process (a
// forced shutdown closes models that still have requests in flight).
func TestUseAfterClose(t *testing.T) {
	calls := []struct {
		name  string
		embed bool
		call  func(m *Model) error
	}{
		{"Generate", false, func(m *Model) error {
			_, err := m.Generate(context.Background(), GenerateRequest{Prompt: "Hello world, this is a test", Grammar: `root ::= "yes" | "no"`})
			return err
		}},
		{"Tokenize", false, func(m *Model) error { _, err := m.Tokenize("Hello world", true, true); return err }},
		{"Detokenize", false, func(m *Model) error { _, err := m.Detokenize([]int{1, 2, 3}); return err }},
		{"FillInMiddle", false, func(m *Model) error { _, err := m.FillInMiddle("a", "b"); return err }},
		{"Embed", true, func(m *Model) error {
			_, err := m.Embed(context.Background(), EmbedRequest{Texts: []string{"Hello world"}})
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			m := loadModel(t, "llama-2-tiny-random.gguf", LoadOptions{ContextLength: 256, Parallel: 1, Embeddings: c.embed})
			// Racing with Close: each call either ran or was refused.
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for range 20 {
						if err := c.call(m); errors.Is(err, ErrClosed) {
							return
						}
					}
				})
			}
			m.Close()
			wg.Wait()
			for range 20 {
				if err := c.call(m); !errors.Is(err, ErrClosed) {
					t.Fatalf("%s after Close: %v, want ErrClosed", c.name, err)
				}
			}
		})
	}
}
