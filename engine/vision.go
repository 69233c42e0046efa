package engine

// Image input. A model loaded with LoadOptions.Projector (an mmproj GGUF,
// read by llama.cpp's mtmd library) takes images with its prompt: the
// prompt holds ImageMarker() where each image goes, and mtmd splits it into
// text and image chunks. An image chunk becomes a run of positions in the
// sequence that are filled with embeddings instead of tokens.
//
// The scheduler treats those runs as part of the sequence's prompt
// processing (mediaStep): one step encodes one image (the vision encoder
// and projector), later steps decode its embeddings in chunks no larger
// than a text prompt chunk, so other streams wait no longer for an image
// than for text. Cancellation is checked before each encode and aborts an
// embedding decode midway; mtmd has no abort hook, so one encode always
// runs to its end.
//
// In the prompt the scheduler matches against slot caches, an image's
// positions hold negative placeholder ids derived from a hash of its
// pixels: the same image after the same text is a prompt-cache hit (its
// KV entries are reused and it is not encoded again), and a different
// image ends the shared prefix where it starts. Images are never logged
// or kept beyond their request.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ggufd/ggufd/engine/internal/llamacpp"
)

// Image is a decoded picture: Width×Height pixels, 8-bit RGB, row-major
// with no padding (len(RGB) == Width*Height*3). Callers decode and check
// untrusted files; the engine hands mtmd only this bitmap.
type Image struct {
	Width, Height int
	RGB           []byte
}

var imageMarker = llamacpp.MediaMarker()

// ImageMarker is the text that stands for one image in
// GenerateRequest.Prompt.
func ImageMarker() string { return imageMarker }

// attachProjector loads the model's mmproj file. It runs before the
// scheduler starts.
func (m *Model) attachProjector(path string) error {
	if m.opts.Embeddings {
		return errors.New("a projector needs a generative model, not one loaded for embeddings")
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("projector: %w", err)
	}
	threads := m.opts.Threads
	if threads <= 0 {
		threads = defaultThreads(m.lm.NParams())
	}
	p, err := llamacpp.LoadProjector(path, m.lm, llamacpp.ProjectorParams{
		Threads:   threads,
		GPU:       m.opts.GPULayers != 0,
		FlashAttn: map[string]int{"auto": -1, "off": 0, "on": 1}[m.opts.FlashAttention],
	})
	if err != nil {
		return fmt.Errorf("projector %s: %w", path, err)
	}
	if p.MRoPE() {
		p.Free()
		// Such models place image embeddings at 2-D positions that do not
		// advance one per embedding; the scheduler's one-position-per-entry
		// cache bookkeeping does not model that.
		return fmt.Errorf("projector %s uses M-RoPE positions (Qwen2-VL, Qwen2.5-VL, Qwen3-VL, GLM-4V), which ggufd does not support yet", path)
	}
	m.proj = p
	m.info.Projector = path
	m.info.Vision = true
	m.info.MemoryBytes += uint64(st.Size())
	return nil
}

// promptMedia is what a request's prompt holds besides tokens: mtmd's
// chunks (owning the preprocessed images) and where each image's positions
// are. The scheduler goroutine owns it once the request is queued.
type promptMedia struct {
	chunks *llamacpp.Chunks
	spans  []imageSpan // in prompt order
}

// imageSpan is one image chunk's run of positions in the prompt.
type imageSpan struct {
	start, n int
	chunk    int       // index in chunks
	embd     []float32 // encoder output, from its encode until it is all decoded
}

// free releases the chunks. Safe on nil and more than once.
func (pm *promptMedia) free() {
	if pm == nil {
		return
	}
	pm.chunks.Free()
	for i := range pm.spans {
		pm.spans[i].embd = nil
	}
}

// textBefore bounds a prompt chunk of n tokens from pos to the text before
// the next image: 0 when pos is at (or in) an image.
func (pm *promptMedia) textBefore(pos, n int) int {
	if pm == nil {
		return n
	}
	for _, sp := range pm.spans {
		if pos >= sp.start+sp.n {
			continue
		}
		if pos >= sp.start {
			return 0
		}
		return min(n, sp.start-pos)
	}
	return n
}

// spanAt returns the image whose positions include pos, or nil.
func (pm *promptMedia) spanAt(pos int) *imageSpan {
	if pm == nil {
		return nil
	}
	for i := range pm.spans {
		if sp := &pm.spans[i]; pos >= sp.start && pos < sp.start+sp.n {
			return sp
		}
	}
	return nil
}

// alignReuse moves a reusable cache prefix that ends inside an image back
// to the image's start: an image's embeddings are decoded whole from one
// encode, never from the middle.
func (pm *promptMedia) alignReuse(reuse int) int {
	if sp := pm.spanAt(reuse); sp != nil {
		return sp.start
	}
	return reuse
}

// tokensBefore counts the image positions among the first n of the prompt.
func (pm *promptMedia) tokensBefore(n int) int {
	if pm == nil {
		return 0
	}
	total := 0
	for _, sp := range pm.spans {
		total += max(0, min(n, sp.start+sp.n)-sp.start)
	}
	return total
}

// tokenizeWithImages splits text at the image markers into the prompt the
// scheduler runs: text tokens, and placeholder ids where the images go.
func (m *Model) tokenizeWithImages(text string, images []Image) ([]int32, *promptMedia, error) {
	if m.proj == nil {
		return nil, nil, ErrNoVision
	}
	if len(text) > maxTextBytes {
		return nil, nil, &InvalidRequestError{Param: "prompt", Message: fmt.Sprintf("the text is %d bytes; at most %d can be tokenized", len(text), maxTextBytes)}
	}
	if n := strings.Count(text, imageMarker); n != len(images) {
		return nil, nil, &InvalidRequestError{Param: "images", Message: fmt.Sprintf("the prompt marks %d image places (%s) but %d images were given", n, imageMarker, len(images))}
	}
	bitmaps := make([]llamacpp.Bitmap, len(images))
	for i, im := range images {
		if im.Width <= 0 || im.Height <= 0 || len(im.RGB) != im.Width*im.Height*3 {
			return nil, nil, &InvalidRequestError{Param: "images", Message: fmt.Sprintf("image %d: %d bytes do not hold %dx%d RGB pixels", i, len(im.RGB), im.Width, im.Height)}
		}
		bitmaps[i] = llamacpp.Bitmap{Width: im.Width, Height: im.Height, RGB: im.RGB, ID: imageKey(im)}
	}
	// As in tokenize: a text that brings its own BOS gets no second one.
	ownBOS := m.bosText != "" && strings.HasPrefix(text, m.bosText)
	chunks, err := m.proj.Tokenize(text, !ownBOS, true, bitmaps)
	if errors.Is(err, llamacpp.ErrPreprocess) {
		return nil, nil, &InvalidRequestError{Param: "images", Message: err.Error()}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("tokenize with images: %w", err)
	}
	pm := &promptMedia{chunks: chunks}
	var prompt []int32
	seen := map[string]int{} // chunks per image so far (mtmd may slice one image into several)
	for i := range chunks.Len() {
		ch := chunks.At(i)
		if !ch.IsImage() {
			prompt = append(prompt, ch.Tokens()...)
			continue
		}
		id := ch.ID()
		key := sha256.Sum256(fmt.Appendf(nil, "%s/%d", id, seen[id]))
		seen[id]++
		sp := imageSpan{start: len(prompt), n: ch.NTokens(), chunk: i}
		prompt = appendPlaceholders(prompt, sp.n, key)
		pm.spans = append(pm.spans, sp)
	}
	if ownBOS && m.lm.AddEOS() {
		prompt = append(prompt, m.lm.EOS())
	}
	if err := m.checkImageLayout(prompt, pm); err != nil {
		pm.free()
		return nil, nil, err
	}
	return prompt, pm, nil
}

// checkImageLayout refuses prompts the scheduler cannot run as asked.
func (m *Model) checkImageLayout(prompt []int32, pm *promptMedia) error {
	if len(prompt) > 0 && prompt[len(prompt)-1] < 0 {
		// Generation starts from the logits of the last prompt position,
		// which the scheduler takes from a text token.
		return &InvalidRequestError{Param: "images", Message: "the prompt ends with an image: text must follow it (a chat template's generation prompt does)"}
	}
	if m.proj.NonCausal() {
		for _, sp := range pm.spans {
			if sp.n > m.opts.BatchSize {
				return &InvalidRequestError{Param: "images", Message: fmt.Sprintf("an image of %d tokens exceeds the batch size of %d, and this projector needs each image decoded in one batch", sp.n, m.opts.BatchSize)}
			}
		}
	}
	return nil
}

// imageKey identifies an image by its pixels.
func imageKey(im Image) string {
	h := sha256.New()
	var dims [8]byte
	binary.LittleEndian.PutUint32(dims[:4], uint32(im.Width))
	binary.LittleEndian.PutUint32(dims[4:], uint32(im.Height))
	h.Write(dims[:])
	h.Write(im.RGB)
	return hex.EncodeToString(h.Sum(nil))
}

// appendPlaceholders appends n ids standing for an image's positions:
// negative (never a token) and drawn from the image's key, 31 bits per
// position over the first eight, so two different images share a prefix of
// placeholders with probability 2^-248.
func appendPlaceholders(prompt []int32, n int, key [32]byte) []int32 {
	for i := range n {
		v := binary.LittleEndian.Uint32(key[4*(i%8):]) & 0x7fffffff
		prompt = append(prompt, -1-int32(v))
	}
	return prompt
}

// discard frees what a prepared request holds that the garbage collector
// does not: samplers and images (C memory). For requests that never reach
// the scheduler.
func (r *request) discard() {
	for _, c := range r.choices {
		c.sampler.Free()
	}
	r.media.free()
}

// visionState is the scheduler's part for image input.
type visionState struct {
	batch *llamacpp.EmbdBatch
}

func (s *scheduler) freeVision() {
	if s.vision != nil {
		s.vision.batch.Free()
	}
	if s.m.proj != nil {
		s.m.proj.Free()
	}
}

// mediaStep does one step of image work for r, whose prompt continues with
// an image: encode it, or decode up to budget of its embeddings (a whole
// image for projectors that need non-causal attention). It runs after the
// step's token batch, whose logits have been sampled by then.
func (s *scheduler) mediaStep(r *request, budget int) {
	if r == nil || r.live == 0 || r.ctx.Err() != nil || budget <= 0 {
		return // a cancelled request is ended by reap
	}
	sp := r.media.spanAt(r.prefilled)
	if sp == nil {
		return
	}
	m := s.m
	// Encoding and embedding decodes are the request's own compute, billed
	// per second like its prompt processing (see Usage.ComputeDuration).
	t0 := m.computeClock()
	defer func() { s.charge(r, m.computeClock().Sub(t0)) }()
	if sp.embd == nil {
		embd, err := m.proj.Encode(r.media.chunks.At(sp.chunk))
		if err != nil {
			s.failRequest(r, fmt.Errorf("encode image: %w", err))
			return
		}
		sp.embd = embd
		m.imagesIn.Add(1)
		if m.onImageEncoded != nil {
			m.onImageEncoded()
		}
		return
	}
	if s.vision == nil {
		s.vision = &visionState{batch: llamacpp.NewEmbdBatch(max(m.opts.BatchSize, 1), m.proj.NEmbd(), m.opts.Parallel)}
	}
	b := s.vision.batch
	done := r.prefilled - sp.start
	n := min(sp.n-done, budget, b.Cap())
	nonCausal := m.proj.NonCausal()
	if nonCausal {
		n = sp.n // the whole image, checked against the batch size in prepare
	}
	b.Clear()
	width := m.proj.NEmbd()
	for i := range n {
		row := done + i
		b.Add(sp.embd[row*width:(row+1)*width], r.prefilled+i, r.primary.seq)
	}
	if nonCausal {
		m.lc.SetCausalAttn(false)
	}
	rc := s.decodeCancellable(r.ctx, func() int { return m.lc.DecodeEmbd(b) })
	if nonCausal {
		m.lc.SetCausalAttn(true)
	}
	switch {
	case rc == 2:
		// Aborted: the request was cancelled; reap ends it.
		m.lc.SeqRm(r.primary.seq, r.prefilled, -1)
		return
	case rc != 0:
		s.failRequest(r, fmt.Errorf("llama_decode of image embeddings failed with status %d", rc))
		return
	}
	r.primary.cache = append(r.primary.cache, r.prompt[r.prefilled:r.prefilled+n]...)
	r.prefilled += n
	m.tokensIn.Add(uint64(n))
	if done+n == sp.n {
		sp.embd = nil
	}
}

// failRequest ends one request whose image work failed; the others go on.
func (s *scheduler) failRequest(r *request, err error) {
	s.m.log.Error("image processing failed", "err", err)
	s.endWithError(r, err)
}
