package accountsapi

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/ggufd/ggufd/accounts"
)

// Gate runs every API request through the accounts layer: authentication,
// rate limits, balance reservation and suspend tracking, and settles it when
// it ends.
type Gate struct {
	svc  *accounts.Service
	opts Options
}

// NewGate builds a Gate.
func NewGate(svc *accounts.Service, opts Options) *Gate { return &Gate{svc: svc, opts: opts} }

// BilledEndpoints are the endpoints that are rate-limited and charged; the
// others (model list, tokenizer) only authenticate.
var BilledEndpoints = map[string]bool{"chat.completions": true, "completions": true, "embeddings": true}

// Request describes one API request to admit.
type Request struct {
	RequestID string // goes into the ledger
	Endpoint  string // "chat.completions", "completions", "embeddings", "models", …
	Model     string // canonical model name; "" for endpoints without one
	OpenID    string // from /llm_api/{openid}/{userid}/…; "" otherwise
	UserID    string // from the path, or OpenAI's "user" field
	Header    http.Header
	// ModelAliases are Model's other names: a key allow-listed for any of
	// them may use the model.
	ModelAliases []string
	// Identity is the caller that Authenticate already found, before the
	// body named the model; nil: Admit authenticates.
	Identity *accounts.Identity
	// PromptTokens is the prompt's size when known; 0: bounded by BodyBytes
	// and the model's context.
	PromptTokens int
	// MaxTokens is the completion budget of one choice after capping; 0:
	// the context.
	MaxTokens int
	// CapOnly: MaxTokens is the model's own cap, the client set none, so the
	// completion is open up to it (a tokens-per-minute limit grants what its
	// minute has left).
	CapOnly bool
	// Prompts is how many prompts the request holds (/v1/completions takes
	// a batch) and Choices how many completions each gets (n); 0 means 1.
	// Every one of the Prompts × Choices completions may use MaxTokens.
	Prompts, Choices int
	// BodyBytes is the request body size (Content-Length); a prompt has
	// fewer tokens than its JSON body has bytes. 0: unknown.
	BodyBytes int64
	// Policy overrides Options.Policy for this request when set.
	Policy *ModelPolicy
}

// promptSlack covers tokens a chat template adds beyond the body's bytes.
const promptSlack = 256

// bounds returns the prompt and completion sizes to reserve (the worst case)
// and the request's demand on a tokens-per-minute limit: the prompt at
// OpenAI's estimate of about four bytes a token (corrected to the real
// count at Finish), plus the completion when max_tokens bounds it; without
// max_tokens the completion is open, up to the context (the limit grants
// what its minute has left, see accounts.LimitRequest.grant); embeddings
// have none. The
// completion covers every choice of every prompt; the prompt is evaluated
// once per prompt, whatever n is, and each fits the context.
func (r Request) bounds(ctxLen int) (prompt, completion int, tokens accounts.TokenDemand) {
	prompts, seqs := max(r.Prompts, 1), max(r.Prompts, 1)*max(r.Choices, 1)
	prompt = r.PromptTokens
	if prompt <= 0 {
		prompt = prompts * ctxLen
		if r.BodyBytes > 0 && r.BodyBytes+promptSlack < int64(prompt) {
			prompt = int(r.BodyBytes) + promptSlack
		}
	}
	perChoice := ctxLen
	if r.MaxTokens > 0 && r.MaxTokens < ctxLen {
		perChoice = r.MaxTokens
	}
	completion = perChoice * seqs
	tokens = accounts.TokenDemand{Fixed: r.promptEstimate(), Choices: seqs}
	switch {
	case r.Endpoint == "embeddings": // generates nothing
	case r.MaxTokens > 0 && !r.CapOnly:
		tokens.Fixed += completion
	default:
		tokens.Open = perChoice
	}
	return prompt, completion, tokens
}

// promptEstimate is the prompt's tokens as rate limits count them before
// it is tokenized: its size when known, else OpenAI's four bytes a token.
func (r Request) promptEstimate() int {
	if r.PromptTokens > 0 {
		return r.PromptTokens
	}
	return int(r.BodyBytes / 4)
}

// Authenticate decides who is calling from the request's key and path
// alone, before its body is read: a caller who cannot be authenticated is
// refused before it costs more than its headers. Pass the identity to
// Admit in Request.Identity.
func (g *Gate) Authenticate(ctx context.Context, r Request) (accounts.Identity, error) {
	return g.svc.Authenticate(ctx, accounts.AuthInput{
		BearerKey: bearer(r.Header), PathOpenID: r.OpenID, PathUserID: r.UserID,
	})
}

// Admit authenticates (unless r.Identity is set), checks the key's model
// allow-list and, for billed endpoints, rate-limits, reserves the worst-case
// cost and tracks the request for suspension. Use the returned context for
// the work: Suspend cancels it with cause accounts.ErrSuspended. Errors map
// to OpenAI errors with APIError. On success Finish must be called exactly
// once.
func (g *Gate) Admit(ctx context.Context, r Request) (context.Context, *Ticket, error) {
	id, err := g.identity(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	t := &Ticket{gate: g, Identity: id}
	if !BilledEndpoints[r.Endpoint] {
		return ctx, t, nil
	}
	pol := g.opts.policy(r.Model)
	if r.Policy != nil {
		pol = *r.Policy
		if pol.Context <= 0 {
			pol.Context = g.opts.policy(r.Model).Context
		}
	}
	prompt, completion, tokens := r.bounds(pol.Context)
	// Tracked before Admit commits its run hold: from that commit on, every
	// daemon counts the request as running, so a suspend (this daemon's, or
	// another's notice) must find it here. One that comes while the request
	// is still being admitted cancels gctx, and the request ends as
	// suspended before any work. Tracked after Reserve, it was missed:
	// stopped 0 (or counted stopped by another daemon) and it ran to its end.
	gctx, cancel := context.WithCancelCause(ctx)
	untrack := g.svc.Track(id.OpenID, id.UserID, cancel)
	refuse := func(err error) (context.Context, *Ticket, error) {
		untrack()
		cancel(nil)
		return nil, nil, err
	}
	permit, err := g.svc.Admit(ctx, id, r.Model, pol.RateLimit, tokens)
	if err != nil {
		return refuse(err)
	}
	if permit.Completion > 0 { // no max_tokens, and a tokens-per-minute limit capped it
		t.MaxTokens = permit.Completion
		completion = permit.Completion * tokens.Choices
	}
	res, err := g.svc.Reserve(ctx, id, r.Model, pol.Pricing, accounts.Work{PromptTokens: prompt, MaxTokens: completion, Speed: pol.Speed})
	if err != nil {
		// Refused for money: the attempt still counts against rate limits,
		// its prompt estimate too, but not a completion it never started.
		permit.Done(r.promptEstimate())
		return refuse(err)
	}
	if r.RequestID != "" {
		res.RequestID = r.RequestID
	}
	t.ctx, t.cancel, t.permit, t.res = gctx, cancel, permit, res
	t.RateHeaders = permit.Headers
	t.untrack = untrack
	return gctx, t, nil
}

// identity is r's caller, allowed to use r.Model.
func (g *Gate) identity(ctx context.Context, r Request) (accounts.Identity, error) {
	if r.Identity == nil {
		return g.svc.Authenticate(ctx, accounts.AuthInput{
			BearerKey: bearer(r.Header), PathOpenID: r.OpenID, PathUserID: r.UserID,
			Model: r.Model, ModelAliases: r.ModelAliases,
		})
	}
	id := *r.Identity
	if r.UserID != "" {
		id.UserID = r.UserID // e.g. OpenAI's "user" field, read from the body after authentication
	}
	if r.Model != "" {
		if err := id.CheckModel(append([]string{r.Model}, r.ModelAliases...)...); err != nil {
			return accounts.Identity{}, err
		}
	}
	return id, nil
}

// Ticket follows one admitted request until Finish. The zero Ticket is a
// request admitted without accounts: it bills nothing and is never
// suspended.
type Ticket struct {
	gate        *Gate
	Identity    accounts.Identity
	RateHeaders accounts.RateHeaders
	// MaxTokens caps each choice's completion when the client set no
	// max_tokens: what the account's tokens-per-minute limit had left for
	// it. 0: no cap. The generation must stop there (finish_reason
	// "length"): that is what was reserved and counted.
	MaxTokens int

	ctx     context.Context
	cancel  context.CancelCauseFunc
	untrack func()
	permit  *accounts.Permit
	res     *accounts.Reservation
	once    sync.Once
	entry   accounts.LedgerEntry
}

// Suspended reports whether the account suspended this request (its context
// was cancelled with accounts.ErrSuspended). The handler then ends the
// response normally with finish_reason "stop".
func (t *Ticket) Suspended() bool {
	return t.ctx != nil && errors.Is(context.Cause(t.ctx), accounts.ErrSuspended)
}

// Finish settles the request: it charges what usage says was done (a
// suspended or disconnected request pays for its tokens so far), or, if
// nothing was processed, releases the reservation without a ledger row. It
// runs once; later calls do nothing.
func (t *Ticket) Finish(u accounts.Usage) {
	t.once.Do(func() {
		if t.res == nil {
			return // not a billed endpoint
		}
		suspended := t.Suspended()
		t.untrack()
		t.cancel(nil) // frees the context; a suspend cause set earlier stays
		if suspended && u.FinishReason == "" {
			u.FinishReason = "stop"
		}
		if u.PromptTokens == 0 && u.CompletionTokens == 0 && u.Processing == 0 {
			t.gate.svc.Release(t.res)
			t.permit.Done(0)
			return
		}
		t.permit.Done(u.PromptTokens + u.CompletionTokens)
		entry, err := t.gate.svc.Settle(context.Background(), t.res, u)
		if err != nil {
			// The reservation is released either way; an unrecorded charge
			// costs us, never the account.
			t.gate.opts.logger().Error("settle request", "request_id", t.res.RequestID, "openid", t.Identity.OpenID, "err", err)
			return
		}
		t.entry = entry
	})
}

// Entry is the ledger row Finish wrote (zero if none).
func (t *Ticket) Entry() accounts.LedgerEntry { return t.entry }
