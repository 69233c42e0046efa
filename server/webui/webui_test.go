package webui

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ggufd/ggufd/accounts"
	"github.com/labstack/echo/v4"
)

func newEcho() *echo.Echo {
	e := echo.New()
	Register(e)
	return e
}

func get(e *echo.Echo, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestServesEmbeddedAssets(t *testing.T) {
	e := newEcho()
	tests := []struct {
		path, wantType, wantBody string
		wantStatus               int
		wantCSP                  bool
	}{
		{"/", "text/html", `src="/webui/app.js"`, 200, true},
		{"/index.html", "text/html", `src="/webui/app.js"`, 200, true},
		{"/webui/app.js", "javascript", "suspend_current_generate", 200, false},
		{"/webui/app.css", "text/css", ".transcript", 200, false},
		{"/webui/base.css", "text/css", "--accent", 200, false},
		{"/webui/i18n.json", "application/json", `"zh"`, 200, false},
		{"/webui/icon.svg", "image/svg+xml", "<svg", 200, false},
		{"/webui/nothing.js", "", "", 404, false},
		{"/webui/index.html", "", "", 404, false},
		{"/webui/../webui.go", "", "", 404, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := get(e, tt.path)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				return
			}
			if ct := rec.Header().Get("Content-Type"); !strings.Contains(ct, tt.wantType) {
				t.Errorf("Content-Type %q, want %q", ct, tt.wantType)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body lacks %q", tt.wantBody)
			}
			if got := rec.Header().Get("Content-Security-Policy") != ""; got != tt.wantCSP {
				t.Errorf("CSP present = %v, want %v", got, tt.wantCSP)
			}
			// Revalidation: the same ETag gets a 304 without a body.
			again := get(e, tt.path, "If-None-Match", rec.Header().Get("ETag"))
			if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
				t.Errorf("revalidation: %d with %d bytes", again.Code, again.Body.Len())
			}
		})
	}
}

// The page must not reach outside the binary: every URL it references is an
// embedded asset, and none points to another host.
func TestPageReferencesOnlyEmbeddedAssets(t *testing.T) {
	html := string(assets["index.html"].body)
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(refs) < 3 {
		t.Fatalf("found only %d references in index.html", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if ref == "/" {
			continue
		}
		name, ok := strings.CutPrefix(ref, AssetPrefix)
		if _, found := assets[name]; !ok || !found {
			t.Errorf("index.html references %q, which is not an embedded asset", ref)
		}
	}
	for name, a := range assets {
		if regexp.MustCompile(`(?i)https?://`).Match(a.body) && name != "icon.svg" {
			t.Errorf("%s mentions an absolute http(s) URL", name)
		}
	}
}

// Every string the page or the account page asks for exists in both
// languages, so switching never shows a raw key.
func TestDictionaryCoversEveryKey(t *testing.T) {
	en, zh := dictionary["en"], dictionary["zh"]
	for k := range en {
		if zh[k] == "" {
			t.Errorf("zh lacks %q", k)
		}
	}
	for k := range zh {
		if en[k] == "" {
			t.Errorf("en lacks %q", k)
		}
	}
	used := map[string]string{}
	for _, src := range []struct{ file, re string }{
		{"index.html", `data-i18n(?:-placeholder|-title)?="([a-z_]+)"`},
		{"app.js", `\bt\("([a-z_]+)"[,)]`},
	} {
		for _, m := range regexp.MustCompile(src.re).FindAllStringSubmatch(string(assets[src.file].body), -1) {
			used[m[1]] = src.file
		}
	}
	tmpl, err := files.ReadFile("templates/account.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\{\{t \$?\.Lang "([a-z_]+)"`).FindAllStringSubmatch(string(tmpl), -1) {
		used[m[1]] = "account.html"
	}
	if len(used) < 30 {
		t.Fatalf("found only %d keys in use; the patterns no longer match the sources", len(used))
	}
	for k, file := range used {
		if en[k] == "" {
			t.Errorf("%s uses %q, which i18n.json lacks", file, k)
		}
	}
}

func TestLang(t *testing.T) {
	tests := []struct {
		query, accept, want string
	}{
		{"", "", "en"},
		{"", "zh-CN,zh;q=0.9,en;q=0.8", "zh"},
		{"", "zh-TW", "zh"},
		{"", "en-US,en;q=0.9", "en"},
		{"", "fr-FR,fr;q=0.9", "en"},
		{"", "fr-FR,zh;q=0.5", "zh"},
		{"lang=en", "zh-CN", "en"},
		{"lang=zh", "en-US", "zh"},
		{"lang=xx", "zh-CN", "zh"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/api_user/info?"+tt.query, nil)
		req.Header.Set("Accept-Language", tt.accept)
		if got := Lang(req); got != tt.want {
			t.Errorf("Lang(?%s, %q) = %q, want %q", tt.query, tt.accept, got, tt.want)
		}
	}
}

func TestAccountPage(t *testing.T) {
	info := accounts.AccountInfo{
		OpenID: "acme", Name: `<script>alert(1)</script>`, Currency: "元",
		Balance: accounts.MoneyFromFloat(12.5), Available: accounts.MoneyFromFloat(12),
		Limits: accounts.Limits{RequestsPerMinute: 60},
		Usage:  []accounts.ModelUsage{{Model: "tiny", Requests: 3, PromptTokens: 30, CompletionTokens: 90, Seconds: 1.5, Cost: accounts.MoneyFromFloat(0.21)}},
	}
	tests := []struct {
		name, target, accept string
		want                 []string
	}{
		{"english", "/api_user/info?openid=acme", "en-US", []string{
			`<html lang="en">`, "Account acme", "12.5 元", "Requests per minute</dt><dd>60", "Tokens per minute</dt><dd>unlimited",
			"<td>tiny</td><td>3</td><td>30</td><td>0</td><td>90</td><td>1.5</td><td>0.21</td>", `href="?lang=zh&amp;openid=acme"`,
		}},
		{"chinese from the browser", "/api_user/info?openid=acme", "zh-CN,zh;q=0.9", []string{
			`<html lang="zh-CN">`, "账户 acme", "余额", "每分钟 token 数</dt><dd>不限", "费用（元）", `aria-current="true">中文`,
		}},
		{"switch wins over the browser", "/api_user/info?openid=acme&lang=en", "zh-CN", []string{"Total spent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.target, nil)
			req.Header.Set("Accept-Language", tt.accept)
			page, err := AccountPage(req, info)
			if err != nil {
				t.Fatal(err)
			}
			s := string(page)
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if strings.Contains(s, "<script>alert") {
				t.Error("account name not escaped")
			}
			if !strings.Contains(s, "--accent") {
				t.Error("stylesheet not inlined")
			}
		})
	}
	empty, err := AccountPage(httptest.NewRequest(http.MethodGet, "/api_user/info", nil), accounts.AccountInfo{OpenID: "x"})
	if err != nil || !strings.Contains(string(empty), "No usage yet.") {
		t.Fatalf("empty usage: %v %s", err, empty)
	}
}
