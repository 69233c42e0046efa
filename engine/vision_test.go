package engine

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"path/filepath"
	"runtime"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	ollamallama "github.com/ollama/ollama/llama"

	"github.com/ggufd/ggufd/engine/gguf"
)

// visionModel writes the synthetic vision preset (a tiny llama with a
// LLaVA-style projector beside it) and returns the model's path.
func visionModel(t *testing.T) string {
	t.Helper()
	spec, err := gguf.Preset("vision-demo")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "vision.gguf")
	if err := gguf.Synthesize(p, spec); err != nil {
		t.Fatal(err)
	}
	return p
}

// imageTokens is what one image becomes with the preset's projector.
var imageTokens = func() int {
	p, err := gguf.Preset("vision-demo")
	if err != nil {
		panic(err)
	}
	return p.Projector.Patches()
}()

func loadVision(t *testing.T, path string, opts LoadOptions) *Model {
	t.Helper()
	opts.Projector = gguf.ProjectorPath(path)
	if opts.Threads == 0 {
		opts.Threads = 1
	}
	m, err := Load(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// testImage is a w×h picture drawn from seed, as the engine takes it and as
// a PNG file (for the reference, which lets llama.cpp decode files).
func testImage(t *testing.T, w, h int, seed byte) (Image, []byte) {
	t.Helper()
	im := image.NewNRGBA(image.Rect(0, 0, w, h))
	rgb := make([]byte, 0, w*h*3)
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: byte(x*7) + seed, G: byte(y*13) ^ seed, B: byte(x*y) + 3*seed, A: 255}
			im.SetNRGBA(x, y, c)
			rgb = append(rgb, c.R, c.G, c.B)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, im); err != nil {
		t.Fatal(err)
	}
	return Image{Width: w, Height: h, RGB: rgb}, buf.Bytes()
}

// referenceLogits runs prefix, the image and suffix through a plain decode
// loop on Ollama's binding (its own mtmd path, which decodes the PNG file
// itself) and returns the logits after the last token.
func referenceLogits(t *testing.T, path, prefix string, pngData []byte, suffix string) []float32 {
	t.Helper()
	lm, lc := ollamaModel(t, path, 256, 1)
	mc, err := ollamallama.NewMtmdContext(lc, gguf.ProjectorPath(path))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Free()
	chunks, err := mc.MultimodalTokenize(lc, pngData)
	if err != nil {
		t.Fatal(err)
	}
	var embd [][]float32
	for _, ch := range chunks {
		if ch.Embed != nil {
			embd = append(embd, ch.Embed)
		}
	}
	pre, err := lm.Tokenize(prefix, true, true) // with BOS, as the engine adds it
	if err != nil {
		t.Fatal(err)
	}
	post, err := lm.Tokenize(suffix, false, true)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := ollamallama.NewBatch(256, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Free()
	eb, err := ollamallama.NewBatch(256, 1, lm.NEmbd())
	if err != nil {
		t.Fatal(err)
	}
	defer eb.Free()
	pos := 0
	for _, tok := range pre {
		tb.Add(tok, nil, pos, false, 0)
		pos++
	}
	if err := lc.Decode(tb); err != nil {
		t.Fatal(err)
	}
	for _, e := range embd {
		eb.Add(0, e, pos, false, 0)
		pos++
	}
	if err := lc.Decode(eb); err != nil {
		t.Fatal(err)
	}
	tb.Clear()
	for i, tok := range post {
		tb.Add(tok, nil, pos, i == len(post)-1, 0)
		pos++
	}
	if err := lc.Decode(tb); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), lc.GetLogitsIth(tb.NumTokens()-1)...)
}

// topLogprobs returns the k most likely tokens of logits with their
// log-probabilities.
func topLogprobs(logits []float32, k int) []TopLogprob {
	maxL := math.Inf(-1)
	for _, l := range logits {
		maxL = math.Max(maxL, float64(l))
	}
	sum := 0.0
	for _, l := range logits {
		sum += math.Exp(float64(l) - maxL)
	}
	out := make([]TopLogprob, len(logits))
	for i, l := range logits {
		out[i] = TopLogprob{Token: i, Logprob: float32(float64(l) - maxL - math.Log(sum))}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Logprob > out[j].Logprob })
	return out[:k]
}

func sameTop(t *testing.T, what string, got, want []TopLogprob) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d alternatives, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i].Token != want[i].Token || math.Abs(float64(got[i].Logprob-want[i].Logprob)) > 1e-3 {
			t.Fatalf("%s: alternative %d = token %d (%.5f), want token %d (%.5f)", what, i, got[i].Token, got[i].Logprob, want[i].Token, want[i].Logprob)
		}
	}
}

// firstTop generates one greedy token with its top alternatives.
func firstTop(t *testing.T, m *Model, prompt string, images ...Image) ([]TopLogprob, Usage) {
	t.Helper()
	res := generate(t, m, GenerateRequest{Prompt: prompt, Images: images, MaxTokens: 1, Logprobs: true, TopLogprobs: 5})
	if res.err != nil || len(res.logprob[0]) != 1 {
		t.Fatalf("generate: err %v, %d logprobs", res.err, len(res.logprob[0]))
	}
	return res.logprob[0][0].Top, res.usage
}

const (
	visionPrefix = "A picture:"
	visionSuffix = "\nWhat is in it?"
)

func visionPrompt(images int) string {
	p := visionPrefix
	for range images {
		p += ImageMarker()
	}
	return p + visionSuffix
}

// The engine's logits after a prompt with an image match a plain decode
// loop that gets the image's embeddings from Ollama's own mtmd binding:
// the image reaches the model at the right positions, whole.
func TestVisionMatchesReferenceDecode(t *testing.T) {
	path := visionModel(t)
	img, pngData := testImage(t, 40, 24, 1)
	want := topLogprobs(referenceLogits(t, path, visionPrefix, pngData, visionSuffix), 5)

	m := loadVision(t, path, LoadOptions{ContextLength: 256, Parallel: 2})
	if !m.Info().Vision || m.Info().Projector != gguf.ProjectorPath(path) {
		t.Fatalf("info = %+v, want a vision model with its projector", m.Info())
	}
	got, u := firstTop(t, m, visionPrompt(1), img)
	sameTop(t, "first token", got, want)
	if u.ImageTokens != imageTokens {
		t.Errorf("image tokens = %d, want %d", u.ImageTokens, imageTokens)
	}
	text, err := m.Tokenize(visionPrefix, true, true)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := m.Tokenize(visionSuffix, false, true)
	if want := len(text) + imageTokens + len(rest); u.PromptTokens != want {
		t.Errorf("prompt tokens = %d, want %d (text and image)", u.PromptTokens, want)
	}

	// A different image changes what the model sees.
	other, _ := testImage(t, 40, 24, 99)
	got2, _ := firstTop(t, m, visionPrompt(1), other)
	if got2[0].Token == got[0].Token && got2[0].Logprob == got[0].Logprob {
		t.Errorf("two different images gave the same first-token distribution %+v", got2)
	}
}

// Sampling with a seed gives the same text on two loads of the model.
func TestVisionSeededSamplingIsDeterministic(t *testing.T) {
	path := visionModel(t)
	img, _ := testImage(t, 17, 33, 5)
	seed := uint64(42)
	req := GenerateRequest{Prompt: visionPrompt(2), Images: []Image{img, img}, MaxTokens: 12, IgnoreEOS: true,
		Sampling: SamplingParams{Temperature: 0.9, Seed: &seed}}
	var texts []string
	for range 2 {
		m := loadVision(t, path, LoadOptions{ContextLength: 256, Parallel: 1})
		res := generate(t, m, req)
		if res.err != nil {
			t.Fatal(res.err)
		}
		if res.usage.ImageTokens != 2*imageTokens || res.usage.CompletionTokens != 12 {
			t.Fatalf("usage = %+v, want %d image tokens and 12 completion tokens", res.usage, 2*imageTokens)
		}
		texts = append(texts, res.text[0])
	}
	if texts[0] != texts[1] || texts[0] == "" {
		t.Errorf("seeded runs differ: %q vs %q", texts[0], texts[1])
	}
}

// The same image after the same text is a prompt-cache hit: nothing is
// encoded again and only the last token is evaluated. A different image
// shares the cache up to where it starts.
func TestVisionPromptCache(t *testing.T) {
	m := loadVision(t, visionModel(t), LoadOptions{ContextLength: 256, Parallel: 1})
	img, _ := testImage(t, 32, 32, 7)
	other, _ := testImage(t, 32, 32, 8)
	req := GenerateRequest{Prompt: visionPrompt(1), Images: []Image{img}, MaxTokens: 4, IgnoreEOS: true}
	first := generate(t, m, req)
	if first.err != nil || m.Stats().ImagesIn != 1 {
		t.Fatalf("first: err %v, %d images encoded", first.err, m.Stats().ImagesIn)
	}
	if first.usage.CachedTokens != 0 {
		t.Errorf("first request: %d cached tokens on a cold cache", first.usage.CachedTokens)
	}
	again := generate(t, m, req)
	if again.usage.CachedTokens != again.usage.PromptTokens-1 || m.Stats().ImagesIn != 1 {
		t.Errorf("repeat: cached %d of %d prompt tokens, %d images encoded; want all but the last, no new encode",
			again.usage.CachedTokens, again.usage.PromptTokens, m.Stats().ImagesIn)
	}
	if again.text[0] != first.text[0] || again.usage.ImageTokens != imageTokens {
		t.Errorf("repeat: %q (%d image tokens), first %q", again.text[0], again.usage.ImageTokens, first.text[0])
	}
	req.Images = []Image{other}
	changed := generate(t, m, req)
	prefix, _ := m.Tokenize(visionPrefix, true, true)
	if changed.usage.CachedTokens != len(prefix) || m.Stats().ImagesIn != 2 {
		t.Errorf("other image: cached %d tokens, %d encoded; want the %d text tokens before the image, a new encode",
			changed.usage.CachedTokens, m.Stats().ImagesIn, len(prefix))
	}
}

// A generating stream keeps getting tokens while another request's images
// are processed: one encode or one chunk of embeddings per step, each chunk
// no larger than a text prompt chunk. The chunked result equals the image
// decoded whole.
func TestVisionImagesInterleaveWithStreams(t *testing.T) {
	path := visionModel(t)
	images := make([]Image, 4)
	for i := range images {
		images[i], _ = testImage(t, 24, 24, byte(10+i))
	}
	prompt := visionPrompt(len(images))
	alone := loadVision(t, path, LoadOptions{ContextLength: 256, Parallel: 1})
	want, _ := firstTop(t, alone, prompt, images...)

	// Batches of 8: a chunk holds at most 7 embeddings next to the one
	// token of the running stream.
	const batch = 8
	m := loadVision(t, path, LoadOptions{ContextLength: 256, Parallel: 2, BatchSize: batch})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	running, err := m.Generate(ctx, GenerateRequest{Prompt: "Once upon a time", IgnoreEOS: true, MaxTokens: 200})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, ok := running.Next(); !ok {
				return
			}
		}
	}()
	for m.Stats().TokensOut == 0 {
		runtime.Gosched()
	}
	before := m.Stats().TokensOut
	st, err := m.Generate(context.Background(), GenerateRequest{Prompt: prompt, Images: images, MaxTokens: 1, Logprobs: true, TopLogprobs: 5})
	if err != nil {
		t.Fatal(err)
	}
	res := collect(t, st, 1)
	during := m.Stats().TokensOut - before - 1
	cancel()
	if res.err != nil {
		t.Fatal(res.err)
	}
	sameTop(t, "chunked images", res.logprob[0][0].Top, want)
	chunks := (imageTokens + batch - 2) / (batch - 1)
	if steps := uint64(len(images) * (1 + chunks)); during < steps {
		t.Errorf("the running stream got %d tokens while %d images were processed; want at least one per encode and chunk (%d)", during, len(images), steps)
	}
}

// Cancelling a request between image encodes ends it at once (the rest is
// never encoded) and leaves the slot's cache consistent for the next one.
func TestVisionCancelDuringEncoding(t *testing.T) {
	path := visionModel(t)
	images := make([]Image, 3)
	for i := range images {
		images[i], _ = testImage(t, 20, 20, byte(30+i))
	}
	req := GenerateRequest{Prompt: visionPrompt(len(images)), Images: images, MaxTokens: 1, Logprobs: true, TopLogprobs: 5}
	fresh := loadVision(t, path, LoadOptions{ContextLength: 256, Parallel: 1})
	want, _ := firstTop(t, fresh, req.Prompt, images...)

	m := loadVision(t, path, LoadOptions{ContextLength: 256, Parallel: 1})
	ctx, cancel := context.WithCancel(context.Background())
	m.onImageEncoded = cancel
	st, err := m.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	res := collect(t, st, 1)
	m.onImageEncoded = nil
	if res.finish[0] != FinishCancelled || res.err != nil {
		t.Fatalf("finish %q, err %v; want cancelled", res.finish[0], res.err)
	}
	if n := m.Stats().ImagesIn; n != 1 {
		t.Errorf("%d images encoded; want 1, then the cancellation", n)
	}
	if res.usage.ImageTokens != 0 || res.usage.PromptTokens >= len(req.Prompt) {
		t.Errorf("usage %+v: want only the text before the first image", res.usage)
	}
	got, _ := firstTop(t, m, req.Prompt, images...)
	sameTop(t, "after a cancelled request", got, want)
}

func TestVisionRequestErrors(t *testing.T) {
	path := visionModel(t)
	m := loadVision(t, path, LoadOptions{ContextLength: 128, Parallel: 1})
	textOnly, err := Load(context.Background(), path, LoadOptions{ContextLength: 128, Parallel: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { textOnly.Close() })
	img, _ := testImage(t, 8, 8, 1)
	huge := make([]Image, 8)
	for i := range huge {
		huge[i] = img
	}
	tests := []struct {
		name  string
		model *Model
		req   GenerateRequest
		param string // the InvalidRequestError's param; "" for the error below
		err   error
	}{
		{"no projector", textOnly, GenerateRequest{Prompt: visionPrompt(1), Images: []Image{img}}, "", ErrNoVision},
		{"fewer markers", m, GenerateRequest{Prompt: visionPrompt(1), Images: []Image{img, img}}, "images", nil},
		{"more markers", m, GenerateRequest{Prompt: visionPrompt(2), Images: []Image{img}}, "images", nil},
		{"ends with the image", m, GenerateRequest{Prompt: "Look: " + ImageMarker(), Images: []Image{img}}, "images", nil},
		{"short bitmap", m, GenerateRequest{Prompt: visionPrompt(1), Images: []Image{{Width: 8, Height: 8, RGB: img.RGB[:10]}}}, "images", nil},
		{"token prompt", m, GenerateRequest{PromptTokens: []int{1, 2}, Images: []Image{img}}, "images", nil},
		{"longer than the context", m, GenerateRequest{Prompt: visionPrompt(len(huge)), Images: huge}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.model.Generate(context.Background(), tt.req)
			var inv *InvalidRequestError
			var long *PromptTooLongError
			switch {
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
			case tt.param != "":
				if !errors.As(err, &inv) || inv.Param != tt.param {
					t.Fatalf("err = %v, want an invalid %s", err, tt.param)
				}
			default:
				if !errors.As(err, &long) || long.PromptTokens < len(huge)*imageTokens {
					t.Fatalf("err = %v, want a prompt too long counting %d image tokens", err, len(huge)*imageTokens)
				}
			}
		})
	}
	// A text prompt (markers and all) still works on both.
	for _, mm := range []*Model{m, textOnly} {
		if res := generate(t, mm, GenerateRequest{Prompt: visionPrompt(1), MaxTokens: 2}); res.err != nil || res.usage.ImageTokens != 0 {
			t.Errorf("text prompt: err %v, usage %+v", res.err, res.usage)
		}
	}
}

func TestVisionLoadErrors(t *testing.T) {
	path := visionModel(t)
	tests := []struct {
		name string
		opts LoadOptions
	}{
		{"missing projector", LoadOptions{Projector: filepath.Join(t.TempDir(), "none.mmproj.gguf")}},
		{"a model as projector", LoadOptions{Projector: path}},
		{"embeddings", LoadOptions{Projector: gguf.ProjectorPath(path), Embeddings: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Threads, tt.opts.ContextLength = 1, 128
			m, err := Load(context.Background(), path, tt.opts)
			var le *LoadError
			if err == nil {
				m.Close()
			}
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LoadError", err)
			}
		})
	}
}

// Image encoding is prompt processing: it happens inside the window that
// PromptDuration measures, which per-second pricing bills.
func TestVisionEncodingIsBilledPromptTime(t *testing.T) {
	m := loadVision(t, visionModel(t), LoadOptions{ContextLength: 256, Parallel: 1})
	images := make([]Image, 3)
	for i := range images {
		images[i], _ = testImage(t, 30, 30, byte(50+i))
	}
	// The compute clock stands still except during each encode, when the
	// hook (which runs inside the encode's timing) moves it an hour: the
	// request's compute bill is then the encodes' time and nothing else,
	// whatever the machine's load.
	const perImage = time.Hour
	var offset atomic.Int64
	base := time.Unix(0, 0)
	m.computeClock = func() time.Time { return base.Add(time.Duration(offset.Load())) }
	var encoded []time.Time // written on the scheduler goroutine, read after Done
	m.onImageEncoded = func() {
		encoded = append(encoded, time.Now())
		offset.Add(int64(perImage))
	}
	before := time.Now()
	st, err := m.Generate(context.Background(), GenerateRequest{Prompt: visionPrompt(len(images)), Images: images, MaxTokens: 2})
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	res := collect(t, st, 1)
	if res.err != nil || len(encoded) != len(images) {
		t.Fatalf("err %v, %d encodes", res.err, len(encoded))
	}
	u := res.usage
	// The prompt window starts QueueDuration after the request was queued
	// (between before and after) and lasts PromptDuration.
	if start := before.Add(u.QueueDuration); encoded[0].Before(start) {
		t.Errorf("the first image was encoded %v before prompt processing began", start.Sub(encoded[0]))
	}
	if end := after.Add(u.QueueDuration + u.PromptDuration); encoded[len(encoded)-1].After(end) {
		t.Errorf("the last image was encoded %v after prompt processing ended", encoded[len(encoded)-1].Sub(end))
	}
	if want := time.Duration(len(images)) * perImage; u.ProcessingDuration() != want {
		t.Errorf("billed %v of compute, want the %d encodes' %v", u.ProcessingDuration(), len(images), want)
	}
	if u.PromptDuration <= 0 || u.PromptDuration > after.Sub(before)+time.Since(after) {
		t.Errorf("prompt duration %v is not wall-clock time", u.PromptDuration)
	}
}
