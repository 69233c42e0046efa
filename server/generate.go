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
	endpoint    string
	promptParam string // the field a too-long prompt is blamed on
	params      *genParams
	info        ModelInfo
	maxTokens   int   // one choice's, after capping, for the gatekeeper's reservation
	prompts     int   // engine requests build returns (each with params.choices() choices)
	bodyBytes   int64 // the prompt's bound in bytes for the gatekeeper; 0: the body's length
	// build renders the prompt(s) once the model is loaded: one engine
	// request per prompt, each with params.choices() choices.
	build    func(m Model) ([]engine.GenerateRequest, error)
	renderer func(m Model) renderer
}

// serveGeneration runs a generation from admission to the last byte.
func (s *Server) serveGeneration(c echo.Context, g *generation) (err error) {
	rs := stateOf(c)
	ctx, ticket, err := s.admit(c, Call{Endpoint: g.endpoint, Model: g.info.ID, ModelAliases: g.info.Aliases,
		MaxTokens: g.maxTokens, Prompts: g.prompts, Choices: g.params.choices(), BodyBytes: g.bodyBytes})
	if err != nil {
		return err
	}
	var (
		usage   engine.Usage
		finish  string // the first choice's finish reason, for the ledger
		settled bool
	)
	// settle bills the request. A successful answer is settled before its
	// last bytes are written, so that every response a client saw complete
	// is in the ledger even if the daemon dies right after; other outcomes
	// are settled on the way out.
	settle := func(status int) {
		if settled {
			return
		}
		settled = true
		rs.usage = usage
		finishTicket(ticket, usage, finish, status)
	}
	defer func() {
		status := rs.status
		if err != nil {
			ae, _ := toAPIError(err)
			status = ae.Status
		} else if status == 0 {
			status = http.StatusOK
		}
		settle(status)
	}()

	var (
		sse *sseWriter
		hb  *heartbeat
	)
	if g.params.stream() {
		sse = newSSEWriter(c.Response())
		rs.sse = sse
		hb = s.startHeartbeat(sse, g.info.ID)
		defer hb.stop()
	}
	lease, err := s.catalog.Acquire(ctx, g.info.ID)
	hb.loaded()
	if err != nil {
		if ticket.Suspended() {
			// Suspended while the model loaded: an answer that stopped
			// before it began.
			return s.answerEmpty(c, g, sse)
		}
		return err
	}
	defer lease.Release()
	model := lease.Model()

	reqs, err := g.build(model)
	if err != nil {
		return blamePrompt(err, g.promptParam)
	}
	if par := model.Info().Parallel; par > 0 && g.params.choices() > par {
		return apierror.InvalidParam("n", "Invalid 'n': this model serves at most %d choices per request.", par)
	}

	genCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if limit := pricingOf(g.info).MaxDuration(); g.info.Pricing.PerSecond > 0 && limit > 0 {
		// Per-second billing stops at the price's cap (max_seconds), so
		// the generation does too. Wall time from here includes queueing,
		// so it errs on the client's side.
		var cancelCap context.CancelFunc
		genCtx, cancelCap = context.WithTimeout(genCtx, limit)
		defer cancelCap()
	}
	stream, err := startAll(genCtx, model, reqs)
	if err != nil {
		return blamePrompt(err, g.promptParam)
	}
	r := g.renderer(model)

	out := &output{sse: sse, r: r, cancel: cancel, rs: rs, capped: genCtx}
	usage, finish, err = out.pump(stream)
	rs.usage = usage
	if err != nil {
		return blamePrompt(fmt.Errorf("generate: %w", err), g.promptParam)
	}
	if ctx.Err() != nil && !ticket.Suspended() && c.Request().Context().Err() != nil {
		// The client disconnected: nobody to answer.
		rs.status, rs.errCode = apierror.StatusClientClosed, "client_closed"
		return nil
	}
	settle(http.StatusOK)
	if sse == nil {
		return c.JSON(http.StatusOK, r.response(usage))
	}
	if g.params.includeUsage() {
		out.send(r.usageChunk(usage))
	}
	if out.writeOK {
		_ = sse.finish()
	}
	return nil
}

// output delivers one generation's events to the client.
type output struct {
	sse     *sseWriter // nil: one JSON response at the end
	r       renderer
	cancel  context.CancelFunc // stops the generation
	rs      *requestState
	capped  context.Context // the generation's context, to spot the time cap
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
		if o.rs.ttft == 0 && ev.Text != "" {
			o.rs.ttft = time.Since(o.rs.start)
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

// answerEmpty answers with every choice empty and stopped, for requests the
// accounts layer suspended before generation started.
func (s *Server) answerEmpty(c echo.Context, g *generation, sse *sseWriter) error {
	r := g.renderer(nil)
	var u engine.Usage
	if sse == nil {
		for i := range r.choices() {
			r.add(engine.Event{Index: i, FinishReason: engine.FinishStop})
		}
		return c.JSON(http.StatusOK, r.response(u))
	}
	for _, ch := range r.opening() {
		_ = sse.send(ch)
	}
	for i := range r.choices() {
		_ = sse.send(r.chunk(engine.Event{Index: i, FinishReason: engine.FinishStop}))
	}
	if g.params.includeUsage() {
		_ = sse.send(r.usageChunk(u))
	}
	return sse.finish()
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
func startAll(ctx context.Context, m Model, reqs []engine.GenerateRequest) (EventStream, error) {
	if len(reqs) == 1 {
		return m.Generate(ctx, reqs[0])
	}
	ctx, cancel := context.WithCancel(ctx)
	streams := make([]EventStream, 0, len(reqs))
	for _, r := range reqs {
		st, err := m.Generate(ctx, r)
		if err != nil {
			cancel()
			for _, st := range streams {
				drain(st)
			}
			return nil, err
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
	return ms, nil
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

func drain(st EventStream) {
	for {
		if _, ok := st.Next(); !ok {
			return
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
