package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ggufd/ggufd/accounts"
)

// TestAuthenticationComesFirst: callers without a valid key get 401 before
// anything in their body is validated or looked up, so they never learn
// model names from "did you mean"; an authenticated caller still gets the
// body's errors.
func TestAuthenticationComesFirst(t *testing.T) {
	svc := newAccounts(t) // key mode
	key := fundedKey(t, svc, "o1", 1)
	_, url := newTestServer(t, newFakeCatalog(), WithAccounts(svc))
	tests := []struct {
		name, method, path, key, body string
		status                        int
		code                          string
	}{
		{"malformed JSON", "POST", "/v1/chat/completions", "", `{`, 401, "invalid_api_key"},
		{"empty body", "POST", "/v1/completions", "", ``, 401, "invalid_api_key"},
		{"bad parameter", "POST", "/v1/chat/completions", "", `{"model":"tiny","messages":[],"temperature":9}`, 401, "invalid_api_key"},
		{"misspelt model", "POST", "/v1/chat/completions", "", `{"model":"tinny","messages":[{"role":"user","content":"hi"}]}`, 401, "invalid_api_key"},
		{"model by URL", "GET", "/v1/models/tinny", "", ``, 401, "invalid_api_key"},
		{"model in path", "POST", "/llm_api/o1/u1/tinny/v1/chat/completions", "", `{}`, 401, "invalid_api_key"},
		{"embeddings", "POST", "/v1/embeddings", "", `{"model":"tinny","input":""}`, 401, "invalid_api_key"},
		{"tokenize", "POST", "/tokenize", "", `{"model":"tinny"}`, 401, "invalid_api_key"},
		{"wrong key", "POST", "/v1/chat/completions", "sk-wrong", `{"model":"tinny"}`, 401, "invalid_api_key"},
		{"authenticated: misspelt model", "POST", "/v1/chat/completions", key, `{"model":"tinny","messages":[{"role":"user","content":"hi"}]}`, 404, "model_not_found"},
		{"authenticated: malformed JSON", "POST", "/v1/chat/completions", key, `{`, 400, "invalid_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(t, tt.method, url+tt.path, tt.key, tt.body)
			if status != tt.status || !strings.Contains(body, `"code":"`+tt.code+`"`) {
				t.Fatalf("%d %s; want %d %s", status, body, tt.status, tt.code)
			}
			if tt.key == "" && (strings.Contains(body, "Did you mean") || strings.Contains(body, "tiny")) {
				t.Fatalf("unauthenticated caller told about models: %s", body)
			}
		})
	}
}

// TestAllowListCoversAliases: a key allow-listed for a model may use it
// under any of its names, whichever name the allow-list holds.
func TestAllowListCoversAliases(t *testing.T) {
	svc := newAccounts(t)
	fundedKey(t, svc, "o1", 1)
	keyFor := func(models ...string) string {
		secret, _, err := svc.CreateKey(context.Background(), accounts.KeyOptions{OpenID: "o1", Models: models})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	_, url := newTestServer(t, newFakeCatalog(), WithAccounts(svc))
	tests := []struct {
		name    string
		allowed []string
		model   string
		status  int
	}{
		{"alias listed, alias used", []string{"tiny-alias"}, "tiny-alias", 200},
		{"alias listed, name used", []string{"tiny-alias"}, "tiny", 200},
		{"name listed, alias used", []string{"tiny"}, "tiny-alias", 200},
		{"another model listed", []string{"embed"}, "tiny-alias", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(t, "POST", url+"/v1/chat/completions", keyFor(tt.allowed...),
				`{"model":"`+tt.model+`","messages":[{"role":"user","content":"hi"}]}`)
			if status != tt.status {
				t.Fatalf("%d %s; want %d", status, body, tt.status)
			}
		})
	}
}

// TestPromptLimit: the text a request asks the server to tokenize is
// bounded by prompt_limit, whatever endpoint carries it.
func TestPromptLimit(t *testing.T) {
	const limit = 1024
	_, url := newTestServerWith(t, Settings{Limits: Limits{BodyLimit: 1 << 16, PromptLimit: limit}}, newFakeCatalog())
	big, small := strings.Repeat("a", limit+1), strings.Repeat("a", limit/2)
	chat := func(content string) string {
		return `{"model":"tiny","messages":[{"role":"user","content":"` + content + `"}]}`
	}
	tests := []struct {
		name, path, body string
		param            string // "" when within the limit
	}{
		{"tokenize", "/tokenize", `{"model":"tiny","content":"` + big + `"}`, "content"},
		{"tokenize within", "/tokenize", `{"model":"tiny","content":"` + small + `"}`, ""},
		{"prompts together", "/v1/completions", `{"model":"tiny","prompt":["` + small + `","` + small + `a"]}`, "prompt"},
		{"prompt within", "/v1/completions", `{"model":"tiny","prompt":"` + small + `"}`, ""},
		{"chat", "/v1/chat/completions", chat(big), "messages"},
		{"chat tools", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","description":"` + big + `"}}]}`, "messages"},
		{"chat within", "/v1/chat/completions", chat(small), ""},
		{"apply-template", "/apply-template", chat(big), "messages"},
		// Templates render more than content: each of these reaches the
		// tokenizer too.
		{"chat name", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","name":"` + big + `","content":"hi"}]}`, "messages"},
		{"chat tool_call_id", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"tool","tool_call_id":"` + big + `","content":"hi"}]}`, "messages"},
		{"chat tool call name and id", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"assistant","tool_calls":[{"id":"` + small + `","type":"function","function":{"name":"` + small + `a","arguments":"{}"}}]}]}`, "messages"},
		{"chat_template_kwargs", "/v1/chat/completions", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"chat_template_kwargs":{"x":"` + big + `"}}`, "messages"},
		{"apply-template kwargs", "/apply-template", `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"chat_template_kwargs":{"x":"` + big + `"}}`, "messages"},
		{"embeddings", "/v1/embeddings", `{"model":"embed","input":["` + small + `","` + small + `a"]}`, "input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(t, "POST", url+tt.path, "", tt.body)
			if tt.param == "" {
				if status != 200 {
					t.Fatalf("within the limit: %d %s", status, body)
				}
				return
			}
			if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"code":"prompt_too_large"`) ||
				!strings.Contains(body, `"param":"`+tt.param+`"`) || !strings.Contains(body, "prompt_limit") {
				t.Fatalf("%d %s; want 413 prompt_too_large on %s", status, body, tt.param)
			}
		})
	}
}

// TestAccountsFailuresAreClassified: a client gone during admission is a
// 499, not the accounts service's fault; a real failure of the service is a
// 500 whose cause is logged with the request id.
func TestAccountsFailuresAreClassified(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		setup     func(t *testing.T, store *accounts.SQLiteStore, req *http.Request) *http.Request
		status    int
		logs      []string
		notLogged string
	}{
		{"client gone", func(_ *testing.T, _ *accounts.SQLiteStore, req *http.Request) *http.Request {
			cctx, cancel := context.WithCancel(req.Context())
			cancel()
			return req.WithContext(cctx)
		}, 499, []string{`"status":499`}, "accounts service failed"},
		{"database closed", func(t *testing.T, store *accounts.SQLiteStore, req *http.Request) *http.Request {
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
			return req
		}, 500, []string{`"request_id":"req-42"`, "database is closed", `"status":500`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, err := accounts.OpenSQLite(ctx, t.TempDir()+"/ggufd.db")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			svc := accounts.NewService(store, accounts.Config{Mode: accounts.ModeKey})
			key := fundedKey(t, svc, "o1", 1)
			var logs syncBuffer
			s, err := NewWithCatalog(Settings{}, newFakeCatalog(), slog.New(slog.NewJSONHandler(&logs, nil)), WithAccounts(svc))
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("X-Request-Id", "req-42")
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, tt.setup(t, store, req))
			if rec.Code != tt.status {
				t.Fatalf("status %d %s, want %d", rec.Code, rec.Body, tt.status)
			}
			for _, want := range tt.logs {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %s: %s", want, logs.String())
				}
			}
			if tt.notLogged != "" && strings.Contains(logs.String()+rec.Body.String(), tt.notLogged) {
				t.Errorf("%q in %s %s", tt.notLogged, logs.String(), rec.Body)
			}
		})
	}
}
