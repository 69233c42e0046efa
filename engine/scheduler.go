package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/ggufd/ggufd/engine/internal/llamacpp"
)

// request is one Generate call as the scheduler sees it.
type request struct {
	ctx       context.Context
	prompt    []int32
	media     *promptMedia // the prompt's images (vision.go); nil for text
	req       GenerateRequest
	sampler   llamacpp.SamplerParams
	stream    *Stream
	enqueued  time.Time
	choices   []*choice
	primary   *slot // the slot that processes the prompt
	prefilled int   // prompt tokens in the primary slot's KV cache
	cached    int   // of those, reused from an earlier request
	started   time.Time
	promptEnd time.Time
	generated int           // completion tokens over all choices
	compute   time.Duration // share of decode time (see Usage.ComputeDuration)
	stepToks  int           // tokens this request put in the current step
	live      int           // choices still running
	err       error
	preserved map[int32]bool // special tokens printed anyway (GenerateRequest.PreservedTokens)
	// behind: the stream's reader had not finished with the events of
	// earlier steps when this step's were made (see awaitReaders).
	behind bool
}

// choice is one of a request's n sequences.
type choice struct {
	index    int
	slot     *slot
	sampler  *llamacpp.Sampler
	filter   textFilter
	count    int // tokens generated
	unsent   int // tokens generated since the last event
	next     int32
	outIdx   int // batch row of this choice's logits in the current step, -1 none
	text     []byte
	logprobs []TokenLogprob
	finish   FinishReason
	reported bool // the finish event has been sent
}

// slot is one llama sequence. Its cache mirrors the tokens in the KV cache
// for that sequence, which is what prompt caching matches against.
type slot struct {
	seq      int
	cache    []int32
	owner    *request
	lastUsed time.Time
}

// embedJob is one Embed call, run on the scheduler goroutine because it owns
// the llama context.
type embedJob struct {
	ctx    context.Context
	inputs [][]int32
	result chan embedResult
}

type embedResult struct {
	res EmbedResult
	err error
}

func unixNano(ns int64) time.Time { return time.Unix(0, ns) }

// scheduler is the state owned by the model's single scheduling goroutine.
type scheduler struct {
	m       *Model
	slots   []*slot
	pending []*request // FIFO: waiting for free slots
	active  []*request // admission order
	batch   *llamacpp.Batch
	piece   []byte
	tuner   *threadTuner // nil when the thread count is fixed
	cores   *coreMeter
	threads int          // the llama context's current thread count
	vision  *visionState // image embedding batch, made at the first image
}

// run is the scheduler goroutine: every step it admits waiting requests,
// builds one batch from all active sequences, decodes it and samples.
func (m *Model) run() {
	// llama.cpp's calling thread is one of its compute threads: keeping it
	// the same OS thread keeps its caches warm and the Go runtime from
	// moving other goroutines onto it between decodes.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := &scheduler{m: m, batch: llamacpp.NewBatch(m.opts.BatchSize, m.opts.Parallel)}
	s.threads = m.maxThreads
	if m.adaptive {
		s.tuner = newThreadTuner(m.maxThreads)
		s.cores = newCoreMeter()
	}
	for i := 0; i < m.opts.Parallel; i++ {
		s.slots = append(s.slots, &slot{seq: i})
	}
	defer func() {
		s.shutdown()
		s.batch.Free()
		s.freeVision()
		m.lc.Free()
		m.lm.Free()
		close(m.done)
	}()
	for {
		if len(s.active) == 0 && len(s.pending) == 0 {
			select {
			case r := <-m.submit:
				s.pending = append(s.pending, r)
			case j := <-m.embeds:
				s.embed(j)
				continue
			case <-m.quit:
				return
			}
		}
		select {
		case <-m.quit:
			return
		default:
		}
		s.drain()
		s.reap()
		s.admit()
		if len(s.active) == 0 {
			continue
		}
		s.step()
	}
}

func (s *scheduler) drain() {
	for {
		select {
		case r := <-s.m.submit:
			s.pending = append(s.pending, r)
		case j := <-s.m.embeds:
			s.embed(j)
		default:
			return
		}
	}
}

// reap ends requests whose context was cancelled: waiting ones at once,
// running ones at this step boundary, freeing their slots.
func (s *scheduler) reap() {
	kept := s.pending[:0]
	for _, r := range s.pending {
		if r.ctx.Err() != nil {
			s.m.queued.Add(-1)
			s.finishRequest(r, FinishCancelled)
			continue
		}
		kept = append(kept, r)
	}
	clear(s.pending[len(kept):])
	s.pending = kept
	for _, r := range s.active {
		if r.ctx.Err() != nil {
			s.finishRequest(r, FinishCancelled)
		}
	}
	s.compactActive()
}

func (s *scheduler) compactActive() {
	kept := s.active[:0]
	for _, r := range s.active {
		if r.live > 0 {
			kept = append(kept, r)
		}
	}
	clear(s.active[len(kept):])
	s.active = kept
}

// admit moves waiting requests into free slots in FIFO order. A request that
// needs more slots than are free waits, and so does everybody behind it, so
// no request can starve.
func (s *scheduler) admit() {
	for len(s.pending) > 0 {
		r := s.pending[0]
		free := s.freeSlots()
		if len(free) < len(r.choices) {
			return
		}
		s.pending[0] = nil
		s.pending = s.pending[1:]
		s.m.queued.Add(-1)
		s.assign(r, free)
		s.active = append(s.active, r)
		s.m.busy.Add(int32(len(r.choices)))
		s.m.requests.Add(1)
		s.m.lastRequest.Store(time.Now().UnixNano())
	}
}

func (s *scheduler) freeSlots() []*slot {
	var free []*slot
	for _, sl := range s.slots {
		if sl.owner == nil {
			free = append(free, sl)
		}
	}
	return free
}

// assign gives the request the free slot whose cache shares the longest
// prefix with its prompt (the rest of the prompt is all that is processed),
// and the least recently used free slots for its other choices.
func (s *scheduler) assign(r *request, free []*slot) {
	best, bestLen := -1, -1
	for i, sl := range free {
		n := commonPrefix(sl.cache, r.prompt)
		if n > bestLen || n == bestLen && sl.lastUsed.Before(free[best].lastUsed) {
			best, bestLen = i, n
		}
	}
	primary := free[best]
	free = append(free[:best:best], free[best+1:]...)
	// The last prompt token is always evaluated: its logits start generation.
	reuse := r.media.alignReuse(min(bestLen, len(r.prompt)-1))
	if !s.m.lc.SeqRm(primary.seq, reuse, -1) {
		// Partial removal is not possible for some caches (recurrent
		// models): start the sequence over.
		s.m.lc.SeqRm(primary.seq, -1, -1)
		reuse = 0
	}
	primary.cache = primary.cache[:reuse]
	r.primary, r.prefilled, r.cached = primary, reuse, reuse
	r.started = time.Now()
	for i, c := range r.choices {
		if i == 0 {
			c.slot = primary
		} else {
			// Oldest first, so recently used caches survive for reuse.
			j := oldest(free)
			c.slot = free[j]
			free = append(free[:j], free[j+1:]...)
		}
		c.slot.owner = r
	}
}

func oldest(slots []*slot) int {
	j := 0
	for i, sl := range slots {
		if sl.lastUsed.Before(slots[j].lastUsed) {
			j = i
		}
	}
	return j
}

func commonPrefix(a, b []int32) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// step builds and decodes one batch: one token for every generating choice,
// then prompt chunks of prefilling requests in arrival order within the
// token budget. While others are generating, prompt chunks are kept small
// so that a long prompt delays running streams by a bounded amount.
func (s *scheduler) step() {
	stepStart := s.m.computeClock()
	b := s.batch
	b.Clear()
	generating := 0
	for _, r := range s.active {
		r.stepToks = 0
		if r.prefilled < len(r.prompt) {
			continue
		}
		for _, c := range r.choices {
			if c.finish != "" {
				continue
			}
			c.outIdx = b.Add(c.next, len(c.slot.cache), c.slot.seq, true)
			generating++
			r.stepToks++
		}
	}
	budget := b.Cap() - b.Len()
	if generating > 0 {
		budget = min(budget, max(s.m.opts.BatchSize/4, 32))
	}
	var chunks []prefillChunk
	var media *request
	for _, r := range s.active {
		if budget <= 0 {
			break
		}
		rest := len(r.prompt) - r.prefilled
		if rest <= 0 {
			continue
		}
		n := min(rest, budget)
		if n = r.media.textBefore(r.prefilled, n); n == 0 {
			// The prompt goes on with an image: it gets the rest of
			// the budget, after this step's token batch (vision.go).
			media = r
			break
		}
		ch := prefillChunk{r: r, n: n, last: -1}
		for i := 0; i < n; i++ {
			pos := r.prefilled + i
			isLast := pos == len(r.prompt)-1
			row := b.Add(r.prompt[pos], pos, r.primary.seq, isLast)
			if isLast {
				ch.last = row
			}
		}
		budget -= n
		r.stepToks += n
		chunks = append(chunks, ch)
	}
	defer s.mediaStep(media, budget)

	if b.Len() == 0 {
		return
	}
	rc := s.decode(generating == 0 && len(chunks) == 1, chunks[0:min(len(chunks), 1)])
	if rc == 2 {
		// Aborted because its only request was cancelled: drop the part of
		// the prompt that made it into the KV cache; reap ends the request.
		r := chunks[0].r
		s.m.lc.SeqRm(r.primary.seq, r.prefilled, -1)
		s.charge(r, s.m.computeClock().Sub(stepStart))
		return
	}
	if rc != 0 {
		s.failBatch(fmt.Errorf("llama_decode failed with status %d", rc))
		return
	}
	now := s.m.computeClock()
	s.shareStep(now.Sub(stepStart), b.Len(), generating, len(chunks) > 0)
	// Generated tokens that were fed are now in the KV cache.
	for _, r := range s.active {
		if r.prefilled < len(r.prompt) {
			continue
		}
		for _, c := range r.choices {
			if c.outIdx >= 0 {
				c.slot.cache = append(c.slot.cache, c.next)
			}
		}
	}
	for _, ch := range chunks {
		r := ch.r
		r.primary.cache = append(r.primary.cache, r.prompt[r.prefilled:r.prefilled+ch.n]...)
		r.prefilled += ch.n
		s.m.tokensIn.Add(uint64(ch.n))
		if ch.last < 0 {
			continue
		}
		// Wall clock, like started and enqueued: computeClock is for
		// billing and tests replace it.
		r.promptEnd = time.Now()
		s.forkChoices(r)
		for _, c := range r.choices {
			c.outIdx = ch.last
		}
	}
	for _, r := range s.active {
		if r.prefilled < len(r.prompt) {
			continue
		}
		markBehind(r)
		for _, c := range r.choices {
			if c.outIdx < 0 || c.finish != "" {
				continue
			}
			idx := c.outIdx
			c.outIdx = -1
			t0 := s.m.computeClock()
			s.sample(r, c, idx)
			took := s.m.computeClock().Sub(t0)
			s.charge(r, took) // sampling (grammars) is the choice's own cost
			if took > maxGrammarStep && c.finish == "" && c.sampler.HasGrammar() {
				s.grammarTooCostly(r, took)
			}
		}
		s.flushEvents(r)
	}
	s.compactActive()
	s.awaitReaders()
}

// readerGrace bounds how long a step waits for stream readers.
const readerGrace = 2 * time.Millisecond

// awaitReaders gives the readers of the events just pushed (HTTP handlers
// encoding and writing chunks) a moment to finish with them before the next
// decode. ggml's threads wait for each other in spinning barriers after
// every graph node, so a reader that runs on a core in the middle of a
// decode stalls all of them. Together with the locked OS thread this took
// the engine from 0.90x to 1.01-1.03x the speed of a plain decode loop at
// 2 threads on 2 cores (make bench, 8 rounds). A slow reader is not waited
// for past readerGrace, and a reader already behind (its client reads
// slowly, or not at all) is not waited for: waiting readerGrace for it at
// every step slowed every other stream of the model 3x (2 ms a step beside
// one client that had stopped reading).
func (s *scheduler) awaitReaders() { awaitReaders(s.active, time.Now) }

func awaitReaders(active []*request, now func() time.Time) {
	waiting := false
	for _, r := range active {
		waiting = waiting || !r.behind
	}
	if !waiting {
		return
	}
	deadline := now().Add(readerGrace)
	for {
		all := true
		for _, r := range active {
			if !r.behind && !r.stream.caughtUp() {
				all = false
				break
			}
		}
		if all || now().After(deadline) {
			return
		}
		runtime.Gosched()
	}
}

// markBehind notes, before a step's events are pushed, whether r's reader
// is still busy with earlier ones.
func markBehind(r *request) { r.behind = !r.stream.caughtUp() }

// prefillChunk is the part of one request's prompt in a batch.
type prefillChunk struct {
	r    *request
	n    int
	last int // batch row of the final prompt token, -1 if not in this chunk
}

// decode runs the batch. When the batch is one request's prompt chunk and
// nothing else (watch), cancelling that request aborts the decode midway:
// a long prompt on a slow machine takes seconds per chunk, and a client
// that left should not keep the model busy for that long.
func (s *scheduler) decode(watch bool, chunks []prefillChunk) int {
	n := s.batch.Len()
	th := s.threads
	if s.tuner != nil {
		th = s.tuner.threads(n)
	}
	if th != s.threads {
		s.m.lc.SetThreads(th)
		s.threads = th
	}
	s.m.steps.Add(1)
	if th < s.m.maxThreads {
		s.m.fewerSteps.Add(1)
	}
	start := time.Now()
	if s.tuner != nil {
		s.cores.begin(start)
	}
	rc := s.decodeBatch(watch, chunks)
	if rc == 0 && s.tuner != nil {
		now := time.Now()
		s.tuner.observe(n, th, now.Sub(start))
		s.cores.decoded(now.Sub(start), th)
		if use, ok := s.cores.sample(now); ok {
			s.tuner.observeCores(use)
		}
		last, why := s.tuner.snapshot()
		s.m.threads.Store(int32(last))
		if cur := s.m.threadsWhy.Load(); cur == nil || *cur != why {
			s.m.threadsWhy.Store(&why)
		}
	}
	return rc
}

// decodeBatch runs one llama_decode; with watch, cancelling the first
// chunk's request aborts it mid-graph.
func (s *scheduler) decodeBatch(watch bool, chunks []prefillChunk) int {
	if !watch {
		return s.m.lc.Decode(s.batch)
	}
	return s.decodeCancellable(chunks[0].r.ctx, func() int { return s.m.lc.Decode(s.batch) })
}

// decodeCancellable runs decode; cancelling ctx meanwhile aborts it
// (llama_decode then returns 2).
func (s *scheduler) decodeCancellable(ctx context.Context, decode func() int) int {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			s.m.lc.SetAbort(true)
		case <-done:
		}
	}()
	rc := decode()
	close(done)
	<-stopped
	s.m.lc.SetAbort(false)
	return rc
}

// forkChoices gives every extra choice of a request a copy of the prompt's
// KV cache once the primary slot has processed it.
func (s *scheduler) forkChoices(r *request) {
	for _, c := range r.choices[1:] {
		s.m.lc.SeqRm(c.slot.seq, -1, -1)
		s.m.lc.SeqCp(r.primary.seq, c.slot.seq, -1, -1)
		c.slot.cache = append(c.slot.cache[:0], r.primary.cache...)
	}
}

// sample draws a choice's next token from batch row idx and decides whether
// the choice goes on.
func (s *scheduler) sample(r *request, c *choice, idx int) {
	m := s.m
	tok, status := c.sampler.Sample(m.lc, idx)
	if status != llamacpp.Sampled {
		s.noToken(r, c, status)
		return
	}
	c.count++
	c.unsent++
	r.generated++
	m.tokensOut.Add(1)
	special := r.preserved[tok]
	if r.req.Logprobs {
		c.logprobs = append(c.logprobs, tokenLogprob(m.lm, m.lc.Logits(idx), tok, r.req.TopLogprobs, special))
	}
	if !r.req.IgnoreEOS && m.lm.IsEOG(tok) {
		s.finishChoice(r, c, FinishStop, true)
		return
	}
	s.piece = m.lm.AppendPiece(s.piece[:0], tok, special)
	text, stopped := c.filter.push(s.piece)
	c.text = append(c.text, text...)
	switch {
	case stopped:
		s.finishChoice(r, c, FinishStop, false)
	case r.req.MaxTokens > 0 && c.count >= r.req.MaxTokens:
		s.finishChoice(r, c, FinishLength, true)
	case len(c.slot.cache)+1 >= m.info.ContextLength:
		// The next token would not fit the sequence's context.
		s.finishChoice(r, c, FinishLength, true)
	default:
		c.next = tok
	}
}

// shareStep divides a decode step's time among the requests in it in
// proportion to the tokens each contributed, and keeps the measured cost per
// token that per-second reservations use.
func (s *scheduler) shareStep(d time.Duration, tokens, generating int, prefill bool) {
	if tokens == 0 {
		return
	}
	left := d
	var last *request
	for _, r := range s.active {
		if r.stepToks == 0 {
			continue
		}
		share := d * time.Duration(r.stepToks) / time.Duration(tokens)
		s.charge(r, share)
		left -= share
		last = r
	}
	if last != nil {
		s.charge(last, left) // rounding, so that the shares add up to d
	}
	switch {
	case !prefill && generating == 1:
		ewmaStore(&s.m.genCost, d)
	case prefill && generating == 0 && tokens >= 16:
		ewmaStore(&s.m.promptCost, d/time.Duration(tokens))
	}
}

// charge bills d of compute to r and counts it as model busy time.
func (s *scheduler) charge(r *request, d time.Duration) {
	r.compute += d
	s.m.busyNanos.Add(int64(d))
}

// ewmaStore folds d into an exponentially weighted average (weight 1/8).
// Only the scheduler goroutine writes it.
func ewmaStore(v *atomic.Int64, d time.Duration) {
	old := v.Load()
	if old == 0 {
		v.Store(int64(d))
		return
	}
	v.Store(old + (int64(d)-old)/8)
}

// noToken ends a choice whose sampler had nothing to draw. A grammar that
// is complete but whose end token is banned (ignore_eos, logit_bias) has
// simply produced everything it can: that is a normal stop. Anything else is
// the request's own contradiction (its bans cover every token the grammar
// allows, or its grammar grew too ambiguous), reported to the caller
// instead of reaching llama.cpp's assert or stalling the scheduler.
func (s *scheduler) noToken(r *request, c *choice, status llamacpp.SampleStatus) {
	if status == llamacpp.NoCandidate && c.sampler.GrammarAcceptsEnd(s.m.eogs) {
		s.finishChoice(r, c, FinishStop, true)
		return
	}
	if r.err == nil {
		switch {
		case status == llamacpp.SampleFailed:
			r.err = errors.New("sampling failed inside llama.cpp")
		case status == llamacpp.GrammarTooAmbiguous:
			param := "grammar"
			if r.req.Grammar == "" {
				param = "response_format"
			}
			r.err = &InvalidRequestError{Param: param, Message: fmt.Sprintf("the grammar is too ambiguous: after this output it allows more than %d readings at once, which llama.cpp would follow one by one; make alternatives that share a beginning differ earlier", llamacpp.MaxGrammarStacks)}
		case c.sampler.HasGrammar():
			r.err = &InvalidRequestError{Param: "logit_bias", Message: "no token can be generated: logit_bias or ignore_eos bans every token the grammar allows at this point"}
		default:
			r.err = &InvalidRequestError{Param: "logit_bias", Message: "no token can be generated: logit_bias or ignore_eos bans every token"}
		}
	}
	// The step flushes r's events after sampling, so only end the choices.
	for _, other := range r.choices {
		s.finishChoice(r, other, FinishStop, false)
	}
}

// maxGrammarStep bounds what one token's sampling against a grammar may
// take; the scheduler goroutine does nothing else meanwhile. The static
// checks (gbnfcheck.go) and the stack limit bound the known blow-ups, but
// not every grammar's work per token (a recursive rule whose continuation
// can be empty in several ways multiplies it while its stacks merge), and
// the cost of a stack grows with the vocabulary: 1,024 stacks took 98 ms a
// token on a 32,000-token vocabulary here, 8 ms on a 512-token one. A
// request past this is ended, so no grammar stalls a model for long.
const maxGrammarStep = time.Second

// grammarTooCostly ends r, whose last token took took to sample against
// its grammar.
func (s *scheduler) grammarTooCostly(r *request, took time.Duration) {
	if r.err == nil {
		param := "grammar"
		if r.req.Grammar == "" {
			param = "response_format"
		}
		r.err = &InvalidRequestError{Param: param, Message: fmt.Sprintf("the grammar is too costly: one token took %v to sample against it (at most %v)", took.Round(time.Millisecond), maxGrammarStep)}
	}
	for _, c := range r.choices {
		s.finishChoice(r, c, FinishStop, false)
	}
}

func (s *scheduler) finishChoice(r *request, c *choice, reason FinishReason, flush bool) {
	if c.finish != "" {
		return
	}
	if flush {
		c.text = append(c.text, c.filter.flush()...)
	}
	c.finish = reason
	r.live--
	c.sampler.Free()
	sl := c.slot
	sl.owner = nil
	sl.lastUsed = time.Now()
	s.m.busy.Add(-1)
}

// flushEvents sends each choice's new text (and finish) to the stream, and
// the final usage event once every choice has ended.
func (s *scheduler) flushEvents(r *request) {
	for _, c := range r.choices {
		if len(c.text) == 0 && len(c.logprobs) == 0 && (c.finish == "" || c.reported) {
			continue
		}
		ev := Event{Index: c.index, Text: string(c.text), Logprobs: c.logprobs, Tokens: c.unsent}
		c.unsent = 0
		if c.finish != "" && !c.reported {
			ev.FinishReason = c.finish
			c.reported = true
		}
		c.text, c.logprobs = c.text[:0], nil
		r.stream.push(ev)
	}
	if r.live == 0 {
		r.media.free()
		r.stream.push(Event{Done: true, Usage: r.usage(), Err: r.err})
	}
}

func (r *request) usage() Usage {
	now := time.Now()
	u := Usage{CachedTokens: r.cached, CompletionTokens: r.generated, ComputeDuration: r.compute}
	if r.started.IsZero() {
		// Never left the queue.
		u.QueueDuration = now.Sub(r.enqueued)
		return u
	}
	u.QueueDuration = r.started.Sub(r.enqueued)
	// A request stopped during prompt processing pays for what was processed.
	u.PromptTokens = r.prefilled
	u.ImageTokens = r.media.tokensBefore(r.prefilled)
	if r.promptEnd.IsZero() {
		u.PromptDuration = now.Sub(r.started)
	} else {
		u.PromptDuration = r.promptEnd.Sub(r.started)
		u.GenerationDuration = now.Sub(r.promptEnd)
	}
	return u
}

// finishRequest ends every running choice of r with reason and delivers the
// final events.
func (s *scheduler) finishRequest(r *request, reason FinishReason) {
	for _, c := range r.choices {
		if c.finish != "" {
			continue
		}
		if c.slot == nil {
			// Still queued: no slot, no sampler in use beyond its allocation.
			c.finish = reason
			r.live--
			c.sampler.Free()
			continue
		}
		s.finishChoice(r, c, reason, false)
	}
	s.flushEvents(r)
}

// failBatch ends every active request with an internal error; the KV cache
// state of their sequences is unknown, so it is dropped.
func (s *scheduler) failBatch(err error) {
	s.m.log.Error("decode failed", "err", err)
	for _, r := range s.active {
		s.endWithError(r, err)
	}
	s.compactActive()
}

// endWithError ends r with an internal error. The KV cache state of its
// sequences is unknown, so it is dropped.
func (s *scheduler) endWithError(r *request, err error) {
	for _, c := range r.choices {
		if c.slot != nil {
			s.m.lc.SeqRm(c.slot.seq, -1, -1)
			c.slot.cache = c.slot.cache[:0]
		}
	}
	r.err = err
	s.finishRequest(r, FinishStop)
}

// shutdown cancels everything at Close.
func (s *scheduler) shutdown() {
	for {
		select {
		case r := <-s.m.submit:
			s.pending = append(s.pending, r)
			continue
		case j := <-s.m.embeds:
			j.result <- embedResult{err: ErrClosed}
			continue
		default:
		}
		break
	}
	for _, r := range s.pending {
		s.m.queued.Add(-1)
		s.finishRequest(r, FinishCancelled)
	}
	s.pending = nil
	for _, r := range s.active {
		s.finishRequest(r, FinishCancelled)
	}
	s.active = nil
}

// specialTokens resolves marker strings to the control tokens that spell
// them; markers that are plain text in this vocabulary print anyway.
func (m *Model) specialTokens(markers []string) map[int32]bool {
	var set map[int32]bool
	for _, s := range markers {
		toks, err := m.lm.Tokenize(s, false, true)
		if err != nil || len(toks) != 1 || !m.lm.IsControl(toks[0]) {
			continue
		}
		if set == nil {
			set = make(map[int32]bool, len(markers))
		}
		set[toks[0]] = true
	}
	return set
}
