package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/server/apierror"
	"github.com/labstack/echo/v4"
)

// renderer turns engine events into one endpoint's response format.
type renderer interface {
	// opening returns the chunks a stream starts with (roles, echoed prompts).
	opening() []any
	// chunk returns the stream chunk for an event, or nil for none.
	chunk(ev engine.Event) any
	// add accumulates an event for the non-streaming response.
	add(ev engine.Event)
	// response is the non-streaming body.
	response(u engine.Usage) any
	// usageChunk is the final include_usage chunk.
	usageChunk(u engine.Usage) any
	// choices is how many choices the response has.
	choices() int
}

// generation is a validated chat or completions request.
type generation struct {
	params      *genParams
	promptParam string // the field a too-long prompt is blamed on
	// build renders the prompt(s) once the model is loaded: one engine
	// request per prompt, each with params.choices() choices.
	build func(m Model) ([]engine.GenerateRequest, error)
	// renderer formats the events; m is nil when the answer is given
	// without generating (see stopped).
	renderer func(m Model) renderer
}

// generate serves a chat or completions request; r holds its model and the
// size admission reserves for.
func (s *Server) generate(c echo.Context, r *request, g *generation) error {
	r.choices = g.params.choices()
	if g.params.stream() {
		r.sse = newSSEWriter(c.Response(), s.settings.StreamWriteTimeout)
	}
	return s.serve(c, r, job{
		run:     func(ctx context.Context, m Model) (result, error) { return g.run(ctx, c, r, m) },
		stopped: func() result { return g.stopped(c, r) },
	})
}

// run generates on m, streaming each event or collecting them for one JSON
// answer.
func (g *generation) run(ctx context.Context, c echo.Context, r *request, m Model) (result, error) {
	reqs, err := g.build(m)
	if err != nil {
		return result{}, blamePrompt(err, g.promptParam)
	}
	if limit := r.completionCap; limit > 0 {
		for i := range reqs {
			if reqs[i].MaxTokens == 0 || reqs[i].MaxTokens > limit {
				reqs[i].MaxTokens = limit
			}
		}
	}
	if par := m.Info().Parallel; par > 0 && g.params.choices() > par {
		return result{}, apierror.InvalidParam("n", "Invalid 'n': this model serves at most %d choices per request.", par)
	}
	genCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if limit := pricingOf(r.model).MaxDuration(); r.model.Model.Pricing.PerSecond > 0 && limit > 0 {
		// Per-second billing stops at the price's cap (max_seconds), so
		// the generation does too. Wall time from here includes queueing,
		// so it errs on the client's side.
		var cancelCap context.CancelFunc
		genCtx, cancelCap = context.WithTimeout(genCtx, limit)
		defer cancelCap()
	}
	stream, used, err := startAll(genCtx, m, reqs)
	if err != nil {
		return result{usage: used}, blamePrompt(err, g.promptParam)
	}
	rd := g.renderer(m)
	out := &output{sse: r.sse, r: rd, cancel: cancel, req: r, capped: genCtx}
	res := result{}
	res.usage, res.finish, err = out.pump(stream)
	if err != nil {
		return res, blamePrompt(fmt.Errorf("generate: %w", err), g.promptParam)
	}
	res.answer = func() error {
		if r.sse == nil {
			return c.JSON(http.StatusOK, rd.response(res.usage))
		}
		if g.params.includeUsage() {
			out.send(rd.usageChunk(res.usage))
		}
		if out.writeOK {
			_ = r.sse.finish()
		}
		return nil
	}
	return res, nil
}

// output delivers one generation's events to the client.
type output struct {
	sse     *sseWriter // nil: one JSON response at the end
	r       renderer
	cancel  context.CancelFunc // stops the generation
	req     *request           // gets the time to first token
	capped  context.Context    // the generation's context, to spot the time cap
	writeOK bool
}

// send writes a stream chunk. When the client is gone it stops the
// generation; the stream is still drained.
func (o *output) send(v any) {
	if !o.writeOK || v == nil {
		return
	}
	if err := o.sse.send(v); err != nil {
		o.writeOK = false
		o.cancel()
	}
}

// pump reads the stream to its end, streaming or accumulating each event.
// It returns the usage, the first choice's finish reason (for the ledger)
// and the engine's error, if any.
func (o *output) pump(stream EventStream) (usage engine.Usage, finish string, err error) {
	o.writeOK = true
	if o.sse != nil {
		for _, ch := range o.r.opening() {
			o.send(ch)
		}
	}
	for {
		ev, ok := stream.Next()
		if !ok {
			return usage, finish, err
		}
		if o.req.ttft == 0 && ev.Text != "" {
			o.req.ttft = time.Since(o.req.start)
		}
		if ev.FinishReason == engine.FinishCancelled && errors.Is(o.capped.Err(), context.DeadlineExceeded) {
			ev.FinishReason = engine.FinishLength // stopped at the processing-time cap
		}
		if ev.Text != "" || len(ev.Logprobs) > 0 || ev.FinishReason != "" {
			if o.sse != nil {
				o.send(o.r.chunk(ev))
			} else {
				o.r.add(ev)
			}
		}
		if ev.FinishReason != "" && finish == "" {
			finish = finishReason(ev.FinishReason)
		}
		if ev.Done {
			usage, err = ev.Usage, ev.Err
		}
	}
}

// stopped answers with every choice empty and stopped, for a request the
// account suspended before generation started.
func (g *generation) stopped(c echo.Context, r *request) result {
	rd := g.renderer(nil)
	var u engine.Usage
	return result{finish: "stop", answer: func() error {
		if r.sse == nil {
			for i := range rd.choices() {
				rd.add(engine.Event{Index: i, FinishReason: engine.FinishStop})
			}
			return c.JSON(http.StatusOK, rd.response(u))
		}
		for _, ch := range rd.opening() {
			_ = r.sse.send(ch)
		}
		for i := range rd.choices() {
			_ = r.sse.send(rd.chunk(engine.Event{Index: i, FinishReason: engine.FinishStop}))
		}
		if g.params.includeUsage() {
			_ = r.sse.send(rd.usageChunk(u))
		}
		return r.sse.finish()
	}}
}

// blamePrompt names the request's prompt field in a context-length error.
func blamePrompt(err error, param string) error {
	var tooLong *engine.PromptTooLongError
	if errors.As(err, &tooLong) {
		return contextLengthError(tooLong, param)
	}
	return err
}

// startAll starts one engine request per prompt and merges their events,
// numbering choices prompt by prompt (index = prompt*n + choice) as OpenAI
// does for batched prompts.
func startAll(ctx context.Context, m Model, reqs []engine.GenerateRequest) (EventStream, engine.Usage, error) {
	if len(reqs) == 1 {
		st, err := m.Generate(ctx, reqs[0])
		return st, engine.Usage{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	streams := make([]EventStream, 0, len(reqs))
	for _, r := range reqs {
		st, err := m.Generate(ctx, r)
		if err != nil {
			// The prompts already started may have decoded and generated
			// before the cancel reaches them: what they used comes back
			// with the error, to be billed (it was settled as nothing).
			cancel()
			var used engine.Usage
			for _, st := range streams {
				used = addUsage(used, drain(st))
			}
			return nil, used, err
		}
		streams = append(streams, st)
	}
	ms := &mergedStream{events: make(chan engine.Event), cancel: cancel}
	n := max(reqs[0].N, 1)
	done := make(chan engine.Event, len(streams))
	for i, st := range streams {
		go func() {
			for {
				ev, ok := st.Next()
				if !ok {
					return
				}
				ev.Index += i * n
				if !ev.Done {
					ms.events <- ev
					continue
				}
				// Forward what the last event says about its choice before
				// reporting the end: events is closed once all have ended.
				last := ev
				last.Done, last.Usage, last.Err = false, engine.Usage{}, nil
				ms.events <- last
				done <- ev
			}
		}()
	}
	go func() {
		var total engine.Event
		total.Done = true
		for range streams {
			ev := <-done
			total.Usage = addUsage(total.Usage, ev.Usage)
			if total.Err == nil {
				total.Err = ev.Err
			}
		}
		ms.final = &total
		close(ms.events)
	}()
	return ms, engine.Usage{}, nil
}

// mergedStream must be read to the end, like engine.Stream.
type mergedStream struct {
	events chan engine.Event
	final  *engine.Event
	cancel context.CancelFunc
	ended  bool
}

func (m *mergedStream) Next() (engine.Event, bool) {
	if m.ended {
		return engine.Event{}, false
	}
	for {
		ev, ok := <-m.events
		if !ok {
			m.ended = true
			m.cancel()
			return *m.final, true
		}
		if ev.Text == "" && len(ev.Logprobs) == 0 && ev.FinishReason == "" {
			continue
		}
		return ev, true
	}
}

// drain reads st to its end and returns its usage, which the last event
// carries.
func drain(st EventStream) engine.Usage {
	var used engine.Usage
	for {
		ev, ok := st.Next()
		if !ok {
			return used
		}
		if ev.Done {
			used = ev.Usage
		}
	}
}

func addUsage(a, b engine.Usage) engine.Usage {
	a.PromptTokens += b.PromptTokens
	a.CachedTokens += b.CachedTokens
	a.ImageTokens += b.ImageTokens
	a.CompletionTokens += b.CompletionTokens
	a.PromptDuration += b.PromptDuration
	a.GenerationDuration += b.GenerationDuration
	a.ComputeDuration += b.ComputeDuration
	a.QueueDuration = max(a.QueueDuration, b.QueueDuration)
	return a
}
