package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server/accountsapi"
	"github.com/ggufd/ggufd/server/apierror"
	"github.com/labstack/echo/v4"
)

// Every API request takes the same way down:
//
//	observe   creates the request value from the URL and headers; logs and counts it at the end
//	api       authenticates the caller from the headers, before the body is read
//	handler   parses and validates the body into the request value and a job
//	serve     admits the request, acquires its model, runs the job, settles
//	          the request with the status the client gets, writes the answer

// request is one API request on its way through the pipeline: what its URL
// and body ask, and how it ended. observe creates it and hands it down with
// the request's context; each step fills in what it learns.
type request struct {
	id    string
	start time.Time
	// openID, userID and aiSystem come from an
	// /llm_api/{openid}/{userid}/{ai_system}/ URL (viaLLM); aiSystem names
	// the model, "" meaning the body's.
	viaLLM                   bool
	openID, userID, aiSystem string

	endpoint string             // "chat.completions", "completions", "embeddings", "models", "tokenize"...
	identity *accounts.Identity // the authenticated caller; nil until api has run
	model    models.Entry       // the model the request names; zero for endpoints without one
	user     string             // OpenAI's "user" field: the user id when the URL has none
	// What admission reserves for: one choice's completion budget after
	// capping (0: the context), prompts and choices per prompt (0: 1), and
	// the prompt's size in bytes (0: the body's length).
	maxTokens, prompts, choices int
	// capOnly: maxTokens is the model's cap; the client set no max_tokens.
	capOnly bool
	// completionCap is the most each choice may generate, set at admission
	// when the client gave no max_tokens and a tokens-per-minute limit
	// leaves less than the context; 0: none.
	completionCap int
	promptBytes   int64
	sse           *sseWriter // the stream, for streaming requests

	// How it ended.
	status  int
	errCode string
	usage   engine.Usage
	finish  string        // the first choice's finish reason
	ttft    time.Duration // time to the first generated text
}

type requestKey struct{}

// maxRequestIDLen bounds client-supplied X-Request-Id values we echo back.
const maxRequestIDLen = 128

// llmAPIPrefix is our users' existing URL form:
// /llm_api/{openid}/{userid}/{ai_system}/v1/... where ai_system names the
// model (empty: use the body's model).
const llmAPIPrefix = "/llm_api/"

// newRequest starts the request value of an arriving request: its id (the
// client's X-Request-Id when it is a sane one) and what an /llm_api/ URL
// says. Such a URL is rewritten in place to the plain route, so that both
// forms share one route table; it is parsed by hand rather than with route
// parameters because the ai_system segment may be empty ("//v1/...") and
// must not be cleaned away. A malformed one is a 404.
func newRequest(req *http.Request) (*request, error) {
	r := &request{id: req.Header.Get(echo.HeaderXRequestID), start: time.Now()}
	if r.id == "" || len(r.id) > maxRequestIDLen || !printable(r.id) {
		r.id = newID()
	}
	// Split the escaped path so an encoded "/" inside an id stays in its
	// segment.
	path := req.URL.EscapedPath()
	if !strings.HasPrefix(path, llmAPIPrefix) {
		return r, nil
	}
	parts := strings.SplitN(path[len(llmAPIPrefix):], "/", 4)
	if len(parts) < 4 || parts[0] == "" {
		// Not the per-user form (e.g. /llm_api/suspend_current_generate):
		// left to the routes. An empty userid
		// (/llm_api/{openid}//{ai_system}/v1/...) is the account's default
		// user: the account itself.
		return r, nil
	}
	var segs [4]string
	for i, p := range parts {
		v, err := url.PathUnescape(p)
		if err != nil {
			return r, echo.ErrNotFound
		}
		segs[i] = v
	}
	r.viaLLM = true
	r.openID, r.userID, r.aiSystem = segs[0], segs[1], segs[2]
	// Echo routes on the *http.Request it was handed, so the URL is
	// rewritten in place (as Echo's own rewrite middleware does).
	req.URL.Path, req.URL.RawPath = "/"+segs[3], ""
	return r, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// newID returns 24 random hex characters, used for request and response ids.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestFrom returns the request value observe put in ctx, nil if none.
func requestFrom(ctx context.Context) *request {
	r, _ := ctx.Value(requestKey{}).(*request)
	return r
}

// requestOf returns c's request value. Every request passes observe first,
// so a missing one means a handler runs outside the server (it then gets a
// fresh value rather than a panic).
func requestOf(c echo.Context) *request {
	if r := requestFrom(c.Request().Context()); r != nil {
		return r
	}
	return &request{id: newID(), start: time.Now()}
}

// Gatekeeper admits API requests: *accountsapi.Gate with WithAccounts
// (authentication, rate limits, balances, suspension), a test's fake with
// WithGatekeeper, or, with neither, one that admits everyone unbilled.
//
// Admission has two steps. Authenticate runs on the request line and
// headers alone, before the body is read: a caller who cannot authenticate
// is refused (401) before it costs more than its headers, and before its
// body is validated or its model looked up, so no error about the body and
// no model name reaches it. Admit runs once the body is parsed and the
// model resolved, before the model is acquired; its context replaces the
// request's for the work: cancelling it (a suspended account) stops the
// generation, and Ticket.Suspended tells the pipeline to end the answer
// normally with finish_reason "stop". An error refuses the request; an
// *apierror.Error is sent as is.
type Gatekeeper interface {
	Authenticate(ctx context.Context, r accountsapi.Request) (accounts.Identity, error)
	Admit(ctx context.Context, r accountsapi.Request) (context.Context, *accountsapi.Ticket, error)
}

type openGate struct{}

func (openGate) Authenticate(context.Context, accountsapi.Request) (accounts.Identity, error) {
	return accounts.Identity{}, nil
}

func (openGate) Admit(ctx context.Context, _ accountsapi.Request) (context.Context, *accountsapi.Ticket, error) {
	return ctx, new(accountsapi.Ticket), nil
}

// admission is r as the gatekeeper sees it.
func (r *request) admission(req *http.Request) accountsapi.Request {
	a := accountsapi.Request{
		RequestID: r.id, Endpoint: r.endpoint, Model: r.model.Name, ModelAliases: r.model.Model.Aliases,
		Identity: r.identity, OpenID: r.openID, UserID: r.userID, Header: req.Header,
		MaxTokens: r.maxTokens, CapOnly: r.capOnly, Prompts: r.prompts, Choices: r.choices, BodyBytes: r.promptBytes,
	}
	if a.UserID == "" {
		a.UserID = r.user
	}
	if a.BodyBytes <= 0 {
		a.BodyBytes = req.ContentLength // the body bounds the prompt's tokens
	}
	return a
}

// api mounts an endpoint: it authenticates the caller (the first step of
// admission) before the handler reads the body, and gives the handler the
// request value.
func (s *Server) api(endpoint string, handler func(echo.Context, *request) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := requestOf(c)
		r.endpoint = endpoint
		id, err := s.gate.Authenticate(c.Request().Context(), r.admission(c.Request()))
		if err != nil {
			return accountsapi.APIError(err, s.currency())
		}
		r.identity = &id
		return handler(c, r)
	}
}

// lookup resolves the model a request names: the /llm_api/ URL's
// ai_system segment, else the body's "model".
func (s *Server) lookup(r *request, bodyModel string) (models.Entry, error) {
	name := bodyModel
	if r.aiSystem != "" {
		name = r.aiSystem
	}
	if name == "" {
		return models.Entry{}, apierror.InvalidParam("model", "Missing required parameter: 'model'.")
	}
	return s.catalog.Lookup(name)
}

// job is what an endpoint does once its request is admitted.
type job struct {
	// run works on the request's model (nil with noModel) under ctx, which
	// ends when the client leaves or the account suspends the request. It
	// returns what to bill and the answer, or with an error what was used
	// before it.
	run func(ctx context.Context, m Model) (result, error)
	// stopped answers a request the account suspended while its model
	// loaded; nil: it ends as a disconnected request does.
	stopped func() result
	// noModel: the job reads the catalog only; r.model is not acquired.
	noModel bool
}

// result is what a job produced.
type result struct {
	usage  engine.Usage
	finish string       // the first choice's finish reason, for the ledger
	answer func() error // writes the answer, or the last bytes of a stream
}

// answerJSON is a result whose answer is body.
func answerJSON(c echo.Context, u engine.Usage, body any) result {
	return result{usage: u, answer: func() error { return c.JSON(http.StatusOK, body) }}
}

// errClientGone ends a request whose client disconnected: nobody is left
// to answer.
var errClientGone = errors.New("client disconnected")

// serve runs r's job, the one way an API request reaches a model and the
// ledger: it admits r, acquires its model, runs the job and settles r with
// the HTTP status the client gets, then writes the answer. An answer is
// settled before its last bytes are written, so every answer a client saw
// complete is in the ledger even if the daemon dies right after; an error
// is settled once written, as only then is its status known (a stream
// that started answers 200 and an error event).
func (s *Server) serve(c echo.Context, r *request, j job) error {
	ctx, ticket, err := s.gate.Admit(c.Request().Context(), r.admission(c.Request()))
	if err != nil {
		return accountsapi.APIError(err, s.currency())
	}
	for k, v := range ticket.RateHeaders.Fields() {
		c.Response().Header().Set(k, v)
	}
	r.completionCap = ticket.MaxTokens
	res, err := s.run(ctx, r, ticket, j)
	if c.Request().Context().Err() != nil && !ticket.Suspended() {
		err = errClientGone
	}
	r.usage, r.finish = res.usage, res.finish
	if err != nil {
		s.writeError(c, r, err)
	} else {
		r.status = http.StatusOK
	}
	ticket.Finish(accounts.Usage{
		PromptTokens: r.usage.PromptTokens, CachedTokens: r.usage.CachedTokens, CompletionTokens: r.usage.CompletionTokens,
		Processing: r.usage.ProcessingDuration(), FinishReason: r.finish, HTTPStatus: r.status,
	})
	if err != nil || res.answer == nil {
		return nil
	}
	if r.sse == nil {
		// As for each write of a stream (Settings.StreamWriteTimeout): a
		// client that reads nothing does not hold the handler forever.
		rc := http.NewResponseController(c.Response())
		_ = rc.SetWriteDeadline(time.Now().Add(s.settings.StreamWriteTimeout))
		defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	}
	return res.answer()
}

// run acquires r's model and runs the job on it under ctx, the admitted
// context. A stream gets heartbeats while the model loads.
func (s *Server) run(ctx context.Context, r *request, t *accountsapi.Ticket, j job) (result, error) {
	if j.noModel {
		return j.run(ctx, nil)
	}
	hb := s.startHeartbeat(r.sse, r.model.Name)
	defer hb.stop()
	lease, err := s.catalog.Acquire(ctx, r.model.Name)
	hb.loaded()
	if err != nil {
		if t.Suspended() && j.stopped != nil {
			return j.stopped(), nil
		}
		return result{}, err
	}
	defer lease.Release()
	return j.run(ctx, lease.Model())
}
