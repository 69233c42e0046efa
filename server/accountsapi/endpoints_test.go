package accountsapi

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/labstack/echo/v4"
)

func TestSuspendStopsRunningGeneration(t *testing.T) {
	en := newEnv(t, accounts.ModeOpenID)
	en.setup("acme", "100")
	srv := httptest.NewServer(en.e) // listens on 127.0.0.1
	defer srv.Close()

	type result struct {
		status int
		body   string
	}
	results := make(chan result, 2)
	start := func(user string) {
		go func() {
			resp, err := http.Post(srv.URL+"/llm_api/acme/"+user+"/chat/v1/chat/completions", "application/json",
				strings.NewReader(`{"model":"paid","max_tokens":100,"block":true}`))
			if err != nil {
				results <- result{0, err.Error()}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			results <- result{resp.StatusCode, string(b)}
		}()
		select {
		case <-en.started:
		case <-time.After(5 * time.Second):
			t.Fatal("generation did not start")
		}
	}
	start("alice")
	start("bob")

	// Path form, one user: stops alice only.
	rec := en.do("POST", "/llm_api/acme/alice/chat/v1/suspend_current_generate", "", "")
	if got := decodeJSON[SuspendResult](t, rec); rec.Code != 200 || got.Stopped != 1 || got.UserID != "alice" {
		t.Fatalf("suspend alice: %d %s", rec.Code, rec.Body)
	}
	r := <-results
	if r.status != 200 || !strings.Contains(r.body, `"finish_reason":"stop"`) || !strings.Contains(r.body, `"cost":0.107`) {
		t.Fatalf("suspended generation answered %d %s", r.status, r.body)
	}
	// Query form without userid: the whole account.
	rec = en.do("GET", "/llm_api/suspend_current_generate?openid=acme", "", "")
	if got := decodeJSON[SuspendResult](t, rec); got.Stopped != 1 {
		t.Fatalf("suspend account: %s", rec.Body)
	}
	if r := <-results; !strings.Contains(r.body, `"finish_reason":"stop"`) {
		t.Fatalf("bob: %s", r.body)
	}
	// Nothing left.
	if got := decodeJSON[SuspendResult](t, en.do("POST", "/llm_api/suspend_current_generate?openid=acme&userid=bob", "", "")); got.Stopped != 0 {
		t.Fatalf("second suspend stopped %d", got.Stopped)
	}
	rows, _ := en.svc.Ledger(t.Context(), accounts.LedgerFilter{OpenID: "acme"})
	if len(rows) != 2 || rows[0].FinishReason != "stop" || rows[0].CompletionTokens != 7 {
		t.Fatalf("ledger: %+v", rows)
	}
}

func TestSuspendAuth(t *testing.T) {
	en := newEnv(t, accounts.ModeKey)
	key := en.setup("acme", "1")
	other := en.setup("other", "1")
	tests := []struct {
		name, path, key string
		status          int
	}{
		{"no key", "/llm_api/suspend_current_generate?openid=acme", "", 401},
		{"other account's key", "/llm_api/suspend_current_generate?openid=acme", other, 403},
		{"own key", "/llm_api/suspend_current_generate?openid=acme&userid=u", key, 200},
		{"key alone names the account", "/v1/suspend_current_generate", key, 200},
	}
	for _, tt := range tests {
		if rec := en.do("POST", tt.path, tt.key, ""); rec.Code != tt.status {
			t.Errorf("%s: %d %s", tt.name, rec.Code, rec.Body)
		}
	}
}

func TestUserInfo(t *testing.T) {
	en := newEnv(t, accounts.ModeOpenID)
	key := en.setup("acme", "12.5")
	other := en.setup("other", "1")
	if rec := en.admin("POST", "/admin/accounts", `{"openid":"xss","name":"<script>alert(1)</script>"}`); rec.Code != 201 {
		t.Fatal(rec.Body)
	}
	xssKey := decodeJSON[createdKey](t, en.admin("POST", "/admin/accounts/xss/keys", `{}`)).Key
	if rec := en.do("POST", "/llm_api/acme/alice/chat/v1/chat/completions", key, `{"model":"paid","max_tokens":100}`); rec.Code != 200 {
		t.Fatal(rec.Body)
	}

	rec := en.do("GET", "/api_user/info?openid=acme&type=json", key, "")
	info := decodeJSON[accounts.AccountInfo](t, rec)
	if rec.Code != 200 || info.Balance != 12_350_000 || info.Currency != "元" || len(info.Usage) != 1 || info.Usage[0].Model != "paid" {
		t.Fatalf("info: %d %s", rec.Code, rec.Body)
	}
	// In openid mode the openid is the credential, as on the provider's
	// own /api_user/info.
	tests := []struct {
		name, path, key string
		status          int
	}{
		{"openid alone", "/api_user/info?openid=acme&type=json", "", 200},
		{"openid with a made-up key", "/api_user/info?openid=acme&type=json", "sk-fake", 200},
		{"unknown openid", "/api_user/info?openid=ghost&type=json", "", 401},
		{"neither openid nor key", "/api_user/info?type=json", "", 401},
		{"key alone", "/api_user/info?type=json", key, 200},
		{"other account's key", "/api_user/info?openid=acme&type=json", other, 403},
		{"admin key", "/api_user/info?openid=acme&type=json", adminKey, 200},
		{"unknown account via admin", "/api_user/info?openid=ghost&type=json", adminKey, 404},
	}
	for _, tt := range tests {
		if rec := en.do("GET", tt.path, tt.key, ""); rec.Code != tt.status {
			t.Errorf("%s: %d %s", tt.name, rec.Code, rec.Body)
		}
	}

	rec = en.do("GET", "/api_user/info?openid=xss", xssKey, "")
	body := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("html: %d %v", rec.Code, rec.Header())
	}
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
		t.Fatalf("name not escaped: %s", body)
	}
}

// TestUserInfoPageInABrowser: the HTML page works from a browser in every
// mode: in key mode a form takes the key (posted back, kept nowhere else),
// in openid mode the openid suffices, in Chinese and English.
func TestUserInfoPageInABrowser(t *testing.T) {
	keyMode := newEnv(t, accounts.ModeKey)
	key := keyMode.setup("acme", "12.5")
	other := keyMode.setup("other", "1")
	openidMode := newEnv(t, accounts.ModeOpenID)
	openidMode.setup("acme", "3")
	form := func(k string) string { return url.Values{"key": {k}}.Encode() }
	tests := []struct {
		name    string
		en      *env
		method  string
		path    string
		body    string
		lang    string
		status  int
		want    []string
		without []string
	}{
		{"key mode asks for a key", keyMode, "GET", "/api_user/info?openid=acme", "", "en", 200,
			[]string{`<form class="key-form" method="post">`, `name="key" type="password"`, "Account acme"}, []string{"12.5"}},
		{"in Chinese", keyMode, "GET", "/api_user/info", "", "zh-CN,zh;q=0.9", 200,
			[]string{"查看账户", `lang="zh-CN"`}, nil},
		{"the key posted shows the account", keyMode, "POST", "/api_user/info?openid=acme", form(key), "en", 200,
			[]string{`id="balance">12.5 元`}, []string{key}},
		{"a key alone names the account", keyMode, "POST", "/api_user/info", form(key), "zh", 200,
			[]string{`id="balance">12.5 元`, "余额"}, nil},
		{"a wrong key is said so", keyMode, "POST", "/api_user/info?openid=acme", form("sk-wrong"), "en", 401,
			[]string{"That key was not accepted", `name="key"`}, []string{"sk-wrong"}},
		{"another account's key", keyMode, "POST", "/api_user/info?openid=acme", form(other), "en", 403,
			[]string{"does not belong to this account"}, nil},
		{"openid mode needs no key", openidMode, "GET", "/api_user/info?openid=acme", "", "en", 200,
			[]string{`id="balance">3 元`}, []string{`name="key"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			req.Header.Set("Accept-Language", tt.lang)
			rec := httptest.NewRecorder()
			tt.en.e.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tt.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("%d %s: %s", rec.Code, rec.Header().Get("Content-Type"), body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			for _, w := range tt.without {
				if strings.Contains(body, w) {
					t.Errorf("page shows %q", w)
				}
			}
			if strings.Contains(body, `name="key"`) && !strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("key form without a CSP: %v", rec.Header())
			}
		})
	}
}

func TestUserInfoModeNone(t *testing.T) {
	en := newEnv(t, accounts.ModeNone)
	rec := en.do("GET", "/api_user/info?type=json", "", "")
	info := decodeJSON[accounts.AccountInfo](t, rec)
	if rec.Code != 200 || info.OpenID != accounts.DefaultLocalOpenID || !info.Unmetered {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestAdminAPI(t *testing.T) {
	en := newEnv(t, accounts.ModeKey)
	if rec := en.do("GET", "/admin/accounts", "", ""); rec.Code != 401 || errCode(t, rec) != "invalid_admin_key" {
		t.Fatalf("no admin key: %d %s", rec.Code, rec.Body)
	}
	if rec := en.do("GET", "/admin/accounts", "wrong", ""); rec.Code != 401 {
		t.Fatalf("wrong admin key: %d", rec.Code)
	}
	if rec := en.do("GET", "/admin/accounts", adminKey, ""); rec.Code != 200 {
		t.Fatalf("bearer admin key: %d", rec.Code)
	}
	steps := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/admin/accounts", `{"openid":"acme","name":"Acme","balance":5,"limits":{"requests_per_minute":60}}`, 201, `"balance":5`},
		{"POST", "/admin/accounts", `{"openid":"acme"}`, 409, "account_exists"},
		{"POST", "/admin/accounts", `{"openid":"a/b"}`, 400, "invalid_value"},
		{"POST", "/admin/accounts", `{"openid":"x","bogus":1}`, 400, "unknown field"},
		{"POST", "/admin/accounts/acme/topup", `{"amount":"2.25","note":"invoice"}`, 200, `"balance":7.25`},
		{"POST", "/admin/accounts/acme/topup", `{"amount":-1}`, 400, "needs a note"},
		{"POST", "/admin/accounts/ghost/topup", `{"amount":1}`, 404, "account_not_found"},
		// Beyond the balance limit: a 400 that names it (it was an overflow
		// and a 500).
		{"POST", "/admin/accounts/acme/topup", `{"amount":9223372036853}`, 400, "within ±1000000000000"},
		{"POST", "/admin/accounts/acme/topup", `{"amount":600000000000}`, 200, `"balance":600000000007.25`},
		{"POST", "/admin/accounts/acme/topup", `{"amount":600000000000}`, 400, "within ±1000000000000"},
		{"POST", "/admin/accounts/acme/topup", `{"amount":-600000000000,"note":"test done"}`, 200, `"balance":7.25`},
		{"PUT", "/admin/accounts/acme/limits", `{"requests_per_minute":10,"tokens_per_minute":1000,"max_concurrent":2}`, 200, `"max_concurrent":2`},
		{"PUT", "/admin/accounts/acme/metering", `{"metered":false}`, 200, `"metered":false`},
		{"PUT", "/admin/accounts/acme/metering", `{"metered":true}`, 200, `"metered":true`},
		{"GET", "/admin/accounts", "", 200, `"openid":"acme"`},
		{"GET", "/admin/accounts/acme", "", 200, `"tokens_per_minute":1000`},
		{"POST", "/admin/accounts/acme/keys", `{"label":"ci","models":["paid"],"expires_in_days":30}`, 201, `"key":"sk-`},
		{"POST", "/admin/accounts/acme/keys", `{"expires_at":"2000-01-01T00:00:00Z"}`, 400, "past"},
		// 213504 days overflowed to a key that expired within the hour; a
		// negative count was ignored, making a key that never expires.
		{"POST", "/admin/accounts/acme/keys", `{"expires_in_days":213504}`, 400, "from 1 to 36500 days"},
		{"POST", "/admin/accounts/acme/keys", `{"expires_in_days":-5}`, 400, "from 1 to 36500 days"},
		{"POST", "/admin/accounts/ghost/keys", `{}`, 404, "account_not_found"},
		{"DELETE", "/admin/keys/key_nope", "", 404, "key_not_found"},
		{"GET", "/admin/ledger?since=yesterday", "", 400, "since"},
		{"GET", "/admin/ledger?limit=-1", "", 400, "limit"},
		{"POST", "/admin/suspend?openid=acme", "", 200, `"stopped":0`},
	}
	for _, s := range steps {
		rec := en.admin(s.method, s.path, s.body)
		if rec.Code != s.status || !strings.Contains(rec.Body.String(), s.want) {
			t.Fatalf("%s %s: %d %s (want %d, %q)", s.method, s.path, rec.Code, rec.Body, s.status, s.want)
		}
	}
	// Keys list shows no secret; revoke works.
	rec := en.admin("GET", "/admin/keys?openid=acme", "")
	var keys struct{ Data []map[string]any }
	if err := json.Unmarshal(rec.Body.Bytes(), &keys); err != nil || len(keys.Data) != 1 {
		t.Fatalf("keys: %s", rec.Body)
	}
	if _, has := keys.Data[0]["key"]; has || strings.Contains(rec.Body.String(), "hash") {
		t.Fatalf("key list leaks secrets: %s", rec.Body)
	}
	id := keys.Data[0]["id"].(string)
	if rec := en.admin("POST", "/admin/keys/"+id+"/revoke", ""); rec.Code != 200 {
		t.Fatalf("revoke: %s", rec.Body)
	}
	if rec := en.admin("GET", "/admin/accounts/acme/keys", ""); !strings.Contains(rec.Body.String(), "revoked_at") {
		t.Fatalf("not revoked: %s", rec.Body)
	}
}

func TestAdminLedgerCSV(t *testing.T) {
	en := newEnv(t, accounts.ModeOpenID)
	en.setup("acme", "100")
	en.setup("other", "100")
	for _, p := range []string{"/llm_api/acme/alice/c/v1/chat/completions", "/llm_api/acme/bob/c/v1/chat/completions", "/llm_api/other/carol/c/v1/chat/completions"} {
		if rec := en.do("POST", p, "", `{"model":"paid","max_tokens":100}`); rec.Code != 200 {
			t.Fatal(rec.Body)
		}
		en.clock.Advance(time.Hour)
	}
	rec := en.admin("GET", "/admin/ledger?openid=acme&format=csv", "")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %v", rec.Code, rec.Header())
	}
	recs, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || len(recs) != 3 || recs[1][4] != "alice" || recs[2][4] != "bob" {
		t.Fatalf("csv rows: %v %v", recs, err)
	}
	// Time filter: the second hour only.
	since := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC).Format(time.RFC3339)
	until := time.Date(2026, 3, 1, 13, 30, 0, 0, time.UTC).Format(time.RFC3339)
	rec = en.admin("GET", "/admin/ledger?since="+since+"&until="+until, "")
	var page struct{ Data []accounts.LedgerEntry }
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Data) != 1 || page.Data[0].UserID != "bob" {
		t.Fatalf("time filter: %s", rec.Body)
	}
	rec = en.admin("GET", "/admin/ledger?limit=1&offset=2", "")
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Data) != 1 || page.Data[0].UserID != "carol" {
		t.Fatalf("paging: %s", rec.Body)
	}
}

// TestServiceFailureLogged: a 500 of the accounts layer tells the client
// nothing internal and logs its cause with the request id.
func TestServiceFailureLogged(t *testing.T) {
	store, err := accounts.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	ak, _ := accounts.NewAdminKey(adminKey)
	svc := accounts.NewService(store, accounts.Config{Mode: accounts.ModeKey, AdminKey: ak})
	var logs bytes.Buffer
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc { // the server's request-id middleware
		return func(c echo.Context) error {
			c.Response().Header().Set(echo.HeaderXRequestID, "req-7")
			return next(c)
		}
	})
	Register(e, svc, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	store.Close() // every query fails from now on

	req := httptest.NewRequest("GET", "/admin/accounts", nil)
	req.Header.Set("X-Admin-Key", adminKey)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "closed") {
		t.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
	if l := logs.String(); !strings.Contains(l, "request_id=req-7") || !strings.Contains(l, "database is closed") {
		t.Fatalf("log: %q", l)
	}
}
