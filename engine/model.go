package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"

	"github.com/ggufd/ggufd/engine/gguf"
	"github.com/ggufd/ggufd/engine/internal/llamacpp"
)

// Model is a loaded GGUF model with its scheduler. All methods are safe for
// concurrent use.
type Model struct {
	info   Info
	opts   LoadOptions
	lm     *llamacpp.Model
	lc     *llamacpp.Context
	log    *slog.Logger
	tmpl   *chatTemplate
	bosTxt string
	eogs   []int32 // end-of-generation tokens, banned when IgnoreEOS is set
	// bosText is the BOS token's text when the model adds BOS to prompts
	// ("<s>"), "" otherwise.
	bosText string

	submit chan *request
	embeds chan *embedJob
	quit   chan struct{}
	done   chan struct{}

	proj *llamacpp.Projector // image input (vision.go); nil for text-only models
	// onImageEncoded, when set (tests), runs on the scheduler goroutine
	// after each image encode.
	onImageEncoded func()

	// closeMu orders every use of the llama model outside the scheduler
	// (tokenizing, building samplers) and every send to the scheduler
	// against Close: callers hold it for reading and check closed, so once
	// Close has held it for writing no use or send is in flight, none
	// starts, and the scheduler can drain the channels and free the model
	// for good.
	closeMu sync.RWMutex
	closed  bool
	queued  atomic.Int32 // requests waiting for a slot (channel + scheduler's FIFO)

	busy atomic.Int32
	// computeClock times decode steps and sampling for billing; tests
	// replace it to check the attribution arithmetic deterministically.
	computeClock func() time.Time
	busyNanos    atomic.Int64           // decode time over all requests (conservation of billed time)
	promptCost   atomic.Int64           // ns of compute per prompt token, prompt-only steps (EWMA); 0: not measured
	genCost      atomic.Int64           // ns per generated token of a sequence decoding alone (EWMA); 0: not measured
	threads      atomic.Int32           // threads of the last decode step
	threadsWhy   atomic.Pointer[string] // the tuner's reason for them
	steps        atomic.Uint64          // decode steps since the load
	fewerSteps   atomic.Uint64          // of those, steps on fewer threads than maxThreads
	maxThreads   int
	adaptive     bool // threads chosen by the tuner (not fixed in the options)
	requests     atomic.Uint64
	tokensIn     atomic.Uint64
	tokensOut    atomic.Uint64
	imagesIn     atomic.Uint64
	lastRequest  atomic.Int64 // unix nanos
}

const (
	defaultContext    = 4096
	defaultParallel   = 4
	defaultBatch      = 512
	defaultQueueDepth = 64
	maxTopLogprobs    = 20
)

func (o LoadOptions) withDefaults() (LoadOptions, error) {
	if o.Parallel <= 0 {
		o.Parallel = defaultParallel
	}
	if o.BatchSize <= 0 {
		o.BatchSize = defaultBatch
	}
	// Every generating choice puts a token into each step's batch: a
	// context batch smaller than Parallel made llama_decode abort the
	// process (GGML_ASSERT(n_tokens_all <= n_batch)) once more choices ran
	// at once. The scheduler's batch and the context's are this one size.
	o.BatchSize = max(o.BatchSize, o.Parallel)
	if o.QueueDepth <= 0 {
		o.QueueDepth = defaultQueueDepth
	}
	switch o.KVCacheType {
	case "":
		o.KVCacheType = "f16"
	case "f16", "q8_0", "q4_0":
	default:
		return o, fmt.Errorf("kv cache type %q: want f16, q8_0 or q4_0", o.KVCacheType)
	}
	switch o.FlashAttention {
	case "":
		o.FlashAttention = "auto"
	case "auto", "on", "off":
	default:
		return o, fmt.Errorf("flash attention %q: want auto, on or off", o.FlashAttention)
	}
	if o.KVCacheType != "f16" && o.FlashAttention == "off" {
		return o, fmt.Errorf("a quantized KV cache (%s) needs flash attention (auto or on)", o.KVCacheType)
	}
	return o, nil
}

// smallModelParams is where threading stops paying: ggml synchronises its
// threads with spinning barriers after every graph node, and for a model
// this small a node is microseconds of work. On a busy machine a descheduled
// thread then stalls the others for whole time slices (measured here: a
// 0.5M-parameter model took 16 s for 50 tokens with 2 threads under load,
// 0.05 s with 1).
const smallModelParams = 32_000_000

// defaultThreads is one thread for tiny models, else the physical cores
// (hyper-threads share the execution units the matrix kernels saturate).
func defaultThreads(params uint64) int {
	if params < smallModelParams {
		return 1
	}
	return physicalCores()
}

func physicalCores() int {
	if n, err := cpu.Counts(false); err == nil && n > 0 {
		return n
	}
	return runtime.NumCPU()
}

// checkGGUF gives precise errors for the common ways a model file is wrong
// (missing, not GGUF, truncated) before llama.cpp sees it: llama.cpp only
// logs why it failed.
func checkGGUF(path string) (int64, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return 0, err
	}
	return f.FileSize(), nil
}

// Load loads the GGUF at path and starts its scheduler. Cancelling ctx aborts
// the load.
func Load(ctx context.Context, path string, opts LoadOptions) (*Model, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, &LoadError{Path: path, Err: err}
	}
	size, err := checkGGUF(path)
	if err != nil {
		return nil, &LoadError{Path: path, Err: err}
	}
	lm, err := llamacpp.LoadModel(path, llamacpp.ModelParams{
		GPULayers:   opts.GPULayers,
		TensorSplit: opts.TensorSplit,
		UseMmap:     !opts.NoMmap,
		Progress: func(p float32) bool {
			if opts.Progress != nil {
				opts.Progress(p)
			}
			return ctx.Err() == nil
		},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, &LoadError{Path: path, Err: ctx.Err()}
		}
		return nil, &LoadError{Path: path, Err: err}
	}
	m, err := newModel(lm, path, size, opts)
	if err != nil {
		lm.Free()
		return nil, &LoadError{Path: path, Err: err}
	}
	if opts.Projector != "" {
		if err := m.attachProjector(opts.Projector); err != nil {
			m.lc.Free()
			lm.Free()
			return nil, &LoadError{Path: path, Err: err}
		}
	}
	if err := m.warmUp(ctx); err != nil {
		if m.proj != nil {
			m.proj.Free()
		}
		m.lc.Free()
		lm.Free()
		return nil, &LoadError{Path: path, Err: err}
	}
	go m.run()
	return m, nil
}

// warmUp runs one small decode before the model serves. With mmap the first
// decode pages the weights in (measured: the first request after a load was
// billed 1.67 s of prompt processing against 0.18 s for the next); doing it
// here makes that load time, which is never billed, and the first request
// costs what later ones do. llama.cpp's own tools warm up the same way.
func (m *Model) warmUp(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	b := llamacpp.NewBatch(2, 1)
	defer b.Free()
	first := m.lm.BOS()
	if first < 0 {
		first = 0
	}
	b.Add(first, 0, 0, true)
	m.lc.SetWarmup(true)
	rc := m.lc.Decode(b)
	m.lc.SetWarmup(false)
	m.lc.Clear()
	if rc != 0 {
		return fmt.Errorf("warm-up decode failed with status %d", rc)
	}
	m.info.WarmupDuration = time.Since(start)
	return nil
}

func newModel(lm *llamacpp.Model, path string, size int64, opts LoadOptions) (*Model, error) {
	arch, _ := lm.Meta("general.architecture")
	name, _ := lm.Meta("general.name")
	ctxLen := opts.ContextLength
	if ctxLen <= 0 {
		ctxLen = min(lm.NCtxTrain(), defaultContext)
		if ctxLen <= 0 {
			ctxLen = defaultContext
		}
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = defaultThreads(lm.NParams())
	}
	// Threads set in the options are the operator's and stay fixed; the
	// default count is where the tuner starts (see threadTuner).
	adaptive := opts.Threads <= 0
	cp := llamacpp.ContextParams{
		NCtx:      ctxLen * opts.Parallel,
		NBatch:    opts.BatchSize,
		NUBatch:   opts.BatchSize,
		NSeqMax:   opts.Parallel,
		Threads:   threads,
		FlashAttn: map[string]int{"auto": -1, "off": 0, "on": 1}[opts.FlashAttention],
		TypeKV:    opts.KVCacheType,
		Pooling:   llamacpp.PoolingUnspecified,
		// One KV buffer for all sequences. With one buffer per sequence,
		// llama.cpp splits a batch into a micro-batch per run of
		// consecutive sequence ids (split_equal), so decoding slots 0, 2
		// and 5 together would cost three forward passes. The scheduler
		// caps each sequence at ContextLength, so the shared buffer
		// (ContextLength × Parallel cells) never runs out, and copying a
		// prompt to n > 1 choices is a metadata update.
		KVUnified: true,
	}
	if opts.Embeddings {
		// A non-causal embedding model must see a whole input in one
		// micro-batch, so the batch is as large as a sequence's context.
		cp.Embeddings = true
		cp.NBatch = max(ctxLen, opts.BatchSize)
		cp.NUBatch = cp.NBatch
		if _, ok := lm.Meta(arch + ".pooling_type"); !ok {
			cp.Pooling = llamacpp.PoolingMean
		}
	}
	lc, err := llamacpp.NewContext(lm, cp)
	if err != nil {
		return nil, err
	}
	if got := lc.NCtxSeq(); got < ctxLen {
		ctxLen = got
	}
	m := &Model{
		opts:         opts,
		lm:           lm,
		lc:           lc,
		maxThreads:   threads,
		computeClock: time.Now,
		adaptive:     adaptive,
		log:          slog.Default().With("model", path),
		submit:       make(chan *request, opts.QueueDepth),
		embeds:       make(chan *embedJob, opts.QueueDepth),
		quit:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	why := threadsDefaultReason(threads)
	if !adaptive {
		why = fmt.Sprintf("%d threads: set in the model's options", threads)
	}
	m.threads.Store(int32(threads))
	m.threadsWhy.Store(&why)
	if opts.ComputeClock != nil {
		m.computeClock = opts.ComputeClock
	}

	if lm.AddBOS() && lm.BOS() >= 0 {
		m.bosText = lm.TokenText(lm.BOS())
	}
	for t := int32(0); t < int32(lm.NVocab()); t++ {
		if lm.IsEOG(t) {
			m.eogs = append(m.eogs, t)
		}
	}
	if bos := lm.BOS(); bos >= 0 {
		m.bosTxt = lm.TokenText(bos)
	}
	eosTxt := ""
	if eos := lm.EOS(); eos >= 0 {
		eosTxt = lm.TokenText(eos)
	}
	tmplSrc := opts.ChatTemplate
	if tmplSrc == "" {
		tmplSrc = lm.ChatTemplate()
	}
	m.tmpl = newChatTemplate(tmplSrc, m.bosTxt, eosTxt, m.log)
	kvBytes := uint64(2*lm.NLayer()*ctxLen*opts.Parallel) *
		uint64(lm.NEmbd()/max(lm.NHead(), 1)*lm.NHeadKV()) * kvBytesPerElem(opts.KVCacheType) / 1000
	m.info = Info{
		Path:           path,
		Name:           name,
		Architecture:   arch,
		ParameterCount: lm.NParams(),
		TrainedContext: lm.NCtxTrain(),
		ContextLength:  ctxLen,
		Parallel:       opts.Parallel,
		VocabSize:      lm.NVocab(),
		EmbeddingSize:  lm.NEmbd(),
		ChatTemplate:   tmplSrc,
		FileSize:       size,
		Embeddings:     opts.Embeddings,
		MemoryBytes:    lm.Size() + kvBytes,
	}
	return m, nil
}

// kvBytesPerElem is in thousandths of a byte (q8_0 and q4_0 pack 32 values
// with a 2-byte scale).
func kvBytesPerElem(t string) uint64 {
	switch t {
	case "q8_0":
		return 34 * 1000 / 32
	case "q4_0":
		return 18 * 1000 / 32
	}
	return 2000
}

// Info describes the model.
func (m *Model) Info() Info { return m.info }

// maxTextBytes bounds what one text given to the tokenizer may hold:
// llama.cpp counts in int32 and a token array is 4 bytes per input byte at
// worst. Callers keep their own, lower limits (the HTTP body limit).
const maxTextBytes = 256 << 20

// tokenize is the one way text reaches llama.cpp's tokenizer. With
// addSpecial, BOS is added when the model wants it, unless the text already
// starts with BOS: templates such as Llama-2's and Mistral's write <s>
// themselves, and a doubled BOS degrades answers (llama.cpp warns on every
// request).
func (m *Model) tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error) {
	if len(text) > maxTextBytes {
		return nil, fmt.Errorf("the text is %d bytes; at most %d can be tokenized", len(text), maxTextBytes)
	}
	if addSpecial && parseSpecial && m.bosText != "" && strings.HasPrefix(text, m.bosText) {
		// The text brings its own BOS: tokenize without adding specials
		// (which would add a second one), then add the end token the model
		// wants, if any.
		toks, err := m.lm.Tokenize(text, false, true)
		if err != nil {
			return nil, err
		}
		if m.lm.AddEOS() {
			toks = append(toks, m.lm.EOS())
		}
		return toks, nil
	}
	return m.lm.Tokenize(text, addSpecial, parseSpecial)
}

// tokenizePrompt tokenizes a rendered prompt: special tokens parsed, BOS
// added once.
func (m *Model) tokenizePrompt(text string) ([]int32, error) { return m.tokenize(text, true, true) }

// useModel holds closeMu for reading while a caller outside the scheduler
// uses the llama model (tokenizer, vocabulary, samplers) or sends to the
// scheduler, so Close waits for it and the scheduler frees nothing under
// it; after Close it refuses with ErrClosed. Each success is ended by
// doneWithModel.
func (m *Model) useModel() error {
	m.closeMu.RLock()
	if m.closed {
		m.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (m *Model) doneWithModel() { m.closeMu.RUnlock() }

// Tokenize turns text into token ids.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]int, error) {
	if err := m.useModel(); err != nil {
		return nil, err
	}
	defer m.doneWithModel()
	toks, err := m.tokenize(text, addSpecial, parseSpecial)
	if err != nil {
		return nil, &InvalidRequestError{Param: "content", Message: err.Error()}
	}
	out := make([]int, len(toks))
	for i, t := range toks {
		out[i] = int(t)
	}
	return out, nil
}

// FillInMiddle is the prompt that asks the model for the text between
// prefix and suffix, laid out as llama-server lays it out: BOS when the
// model wants one, then FIM_PRE prefix FIM_SUF suffix FIM_MID. A model
// whose vocabulary lacks those tokens (only code models trained for infill
// have them) returns ErrNoFillInMiddle.
func (m *Model) FillInMiddle(prefix, suffix string) ([]int, error) {
	if err := m.useModel(); err != nil {
		return nil, err
	}
	defer m.doneWithModel()
	pre, suf, mid := m.lm.FIMTokens()
	if pre < 0 || suf < 0 || mid < 0 {
		return nil, ErrNoFillInMiddle
	}
	before, err := m.tokenize(prefix, false, false)
	if err != nil {
		return nil, &InvalidRequestError{Param: "prompt", Message: err.Error()}
	}
	after, err := m.tokenize(suffix, false, false)
	if err != nil {
		return nil, &InvalidRequestError{Param: "suffix", Message: err.Error()}
	}
	out := make([]int, 0, len(before)+len(after)+4)
	if m.lm.AddBOS() {
		out = append(out, int(m.lm.BOS()))
	}
	out = append(out, int(pre))
	for _, t := range before {
		out = append(out, int(t))
	}
	out = append(out, int(suf))
	for _, t := range after {
		out = append(out, int(t))
	}
	return append(out, int(mid)), nil
}

// Detokenize turns token ids into text.
func (m *Model) Detokenize(tokens []int) (string, error) {
	if err := m.useModel(); err != nil {
		return "", err
	}
	defer m.doneWithModel()
	toks, err := m.checkTokens("tokens", tokens)
	if err != nil {
		return "", err
	}
	return m.lm.Detokenize(toks, false, true), nil
}

func (m *Model) checkTokens(param string, tokens []int) ([]int32, error) {
	n := m.lm.NVocab()
	out := make([]int32, len(tokens))
	for i, t := range tokens {
		if t < 0 || t >= n {
			return nil, &InvalidRequestError{Param: param, Message: fmt.Sprintf("token id %d at index %d is outside the vocabulary (0..%d)", t, i, n-1)}
		}
		out[i] = int32(t)
	}
	return out, nil
}

// Stats is a snapshot of slots and queue.
func (m *Model) Stats() Stats {
	s := Stats{
		Slots:            m.opts.Parallel,
		BusySlots:        int(m.busy.Load()),
		QueueDepth:       int(m.queued.Load()),
		Requests:         m.requests.Load(),
		TokensIn:         m.tokensIn.Load(),
		TokensOut:        m.tokensOut.Load(),
		Threads:          int(m.threads.Load()),
		Busy:             time.Duration(m.busyNanos.Load()),
		PromptTokenCost:  time.Duration(m.promptCost.Load()),
		GenTokenCost:     time.Duration(m.genCost.Load()),
		MaxThreads:       m.maxThreads,
		DecodeSteps:      m.steps.Load(),
		FewerThreadSteps: m.fewerSteps.Load(),
		ImagesIn:         m.imagesIn.Load(),
	}
	if why := m.threadsWhy.Load(); why != nil {
		s.ThreadsReason = *why
	}
	if ns := m.lastRequest.Load(); ns != 0 {
		s.LastRequest = unixNano(ns)
	}
	return s
}

// Close cancels queued and running requests (they end with FinishCancelled),
// stops the scheduler and frees the model's memory. It is safe to call more
// than once.
func (m *Model) Close() error {
	m.closeMu.Lock()
	already := m.closed
	m.closed = true
	m.closeMu.Unlock()
	if !already {
		close(m.quit)
	}
	<-m.done
	return nil
}
