package accountsapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/labstack/echo/v4"
)

const adminKey = "admin-test-key"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	svc   *accounts.Service
	gate  *Gate
	e     *echo.Echo
	clock *clock
	// started is signalled by the fake generation handler once admitted.
	started chan struct{}
}

// testPolicy: "paid" costs 1 per 1K tokens in and out, 2 requests/minute;
// "free" costs nothing.
func testPolicy(model string) (ModelPolicy, bool) {
	switch model {
	case "paid":
		return ModelPolicy{Pricing: accounts.Pricing{InputPer1K: accounts.MicrosPerUnit, OutputPer1K: accounts.MicrosPerUnit}, RateLimit: 2, Context: 4096}, true
	case "free":
		return ModelPolicy{}, true
	}
	return ModelPolicy{}, false
}

func newEnv(t *testing.T, mode accounts.AuthMode) *env {
	t.Helper()
	store, err := accounts.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ak, _ := accounts.NewAdminKey(adminKey)
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	svc := accounts.NewService(store, accounts.Config{Mode: mode, Currency: "元", AdminKey: ak, Now: clk.Now})
	opts := Options{Policy: testPolicy}
	en := &env{t: t, svc: svc, gate: NewGate(svc, opts), e: echo.New(), clock: clk, started: make(chan struct{}, 16)}
	Register(en.e, svc, opts)
	// A stand-in for the chat handler, integrated as the server would:
	// admit, "generate" until done or suspended, finish with usage.
	gen := func(c echo.Context) error {
		var body struct {
			Model     string `json:"model"`
			MaxTokens int    `json:"max_tokens"`
			Block     bool   `json:"block"`
		}
		if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
			return c.NoContent(http.StatusBadRequest)
		}
		ctx, ticket, err := en.gate.Admit(c.Request().Context(), Request{
			Endpoint: "chat.completions", Model: body.Model, MaxTokens: body.MaxTokens, Header: c.Request().Header,
			OpenID: c.Param("openid"), UserID: c.Param("userid"), RequestID: c.Request().Header.Get("X-Request-Id"),
		})
		if err != nil {
			return writeError(c, APIError(err, svc.Currency()))
		}
		for k, v := range ticket.RateHeaders.Fields() {
			c.Response().Header().Set(k, v)
		}
		en.started <- struct{}{}
		u := accounts.Usage{PromptTokens: 100, CompletionTokens: 50, Processing: 2 * time.Second, HTTPStatus: 200}
		if body.Block {
			<-ctx.Done()
			u.CompletionTokens = 7 // what was generated before the stop
		}
		finish := "length"
		if ticket.Suspended() {
			finish = "stop"
		}
		u.FinishReason = finish
		ticket.Finish(u)
		return c.JSON(http.StatusOK, map[string]any{"finish_reason": finish, "cost": ticket.Entry().Cost})
	}
	en.e.POST("/v1/chat/completions", gen)
	en.e.POST("/llm_api/:openid/:userid/:ai_system/v1/chat/completions", gen)
	return en
}

// do sends a request through Echo in memory.
func (en *env) do(method, path, key, body string, hdr ...string) *httptest.ResponseRecorder {
	en.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	en.e.ServeHTTP(rec, req)
	return rec
}

func (en *env) admin(method, path, body string) *httptest.ResponseRecorder {
	en.t.Helper()
	return en.do(method, path, "", body, "X-Admin-Key", adminKey)
}

func decodeJSON[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}

type errBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func errCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	b := decodeJSON[errBody](t, rec)
	if b.Error.Code == nil {
		return b.Error.Type
	}
	return *b.Error.Code
}

// setup creates account openid with balance and one key; it returns the key.
func (en *env) setup(openid, balance string, models ...string) string {
	en.t.Helper()
	if rec := en.admin("POST", "/admin/accounts", `{"openid":"`+openid+`","balance":"`+balance+`"}`); rec.Code != http.StatusCreated {
		en.t.Fatalf("create account: %d %s", rec.Code, rec.Body)
	}
	b, _ := json.Marshal(map[string]any{"label": "test", "models": models})
	rec := en.admin("POST", "/admin/accounts/"+openid+"/keys", string(b))
	if rec.Code != http.StatusCreated {
		en.t.Fatalf("create key: %d %s", rec.Code, rec.Body)
	}
	return decodeJSON[createdKey](en.t, rec).Key
}
