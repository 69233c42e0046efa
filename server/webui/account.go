package webui

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"

	"github.com/ggufd/ggufd/accounts"
)

// accountPage is escaped by html/template: names and model ids are
// tenant-chosen. Its stylesheet is inlined so the page stands alone (it is
// served by the accounts API, with or without the test page mounted).
var accountPage = template.Must(template.New("account.html").Funcs(template.FuncMap{
	"t": func(lang, key string, pairs ...any) string { return translate(lang, key, pairs...) },
}).ParseFS(files, "templates/account.html", "templates/topbar.html"))

type accountView struct {
	accounts.AccountInfo
	Lang     string
	CSS      template.CSS
	LangURLs []langLink
}

type langLink struct {
	Lang, Label, URL string
	Current          bool
}

// AccountPage renders an account's balance, limits and usage as HTML in the
// request's language (see Lang), with links to switch language.
func AccountPage(r *http.Request, info accounts.AccountInfo) ([]byte, error) {
	lang := Lang(r)
	v := accountView{AccountInfo: info, Lang: lang, CSS: template.CSS(assets["base.css"].body), LangURLs: langLinks(r, lang)}
	var buf bytes.Buffer
	if err := accountPage.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render account page: %w", err)
	}
	return buf.Bytes(), nil
}

var keyPage = template.Must(template.New("account_key.html").Funcs(template.FuncMap{
	"t": func(lang, key string, pairs ...any) string { return translate(lang, key, pairs...) },
}).ParseFS(files, "templates/account_key.html", "templates/topbar.html"))

type keyView struct {
	OpenID, Failure, Lang string
	CSS                   template.CSS
	LangURLs              []langLink
}

// KeyPagePolicy is the Content-Security-Policy of the key form: its own
// inline style, a form that posts to this origin only, and no framing (the
// page takes a secret).
const KeyPagePolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; " +
	"base-uri 'none'; frame-ancestors 'none'"

// AccountKeyPage renders the form that asks a browser for an API key before
// showing the account page, where the account needs one (auth mode key).
// The form posts the key to the same URL; the page keeps it nowhere else.
// failure, when set, says why the last key was refused.
func AccountKeyPage(r *http.Request, openid, failure string) ([]byte, error) {
	lang := Lang(r)
	v := keyView{OpenID: openid, Failure: failure, Lang: lang, CSS: template.CSS(assets["base.css"].body), LangURLs: langLinks(r, lang)}
	var buf bytes.Buffer
	if err := keyPage.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render key page: %w", err)
	}
	return buf.Bytes(), nil
}

// langLinks are the page's URL in each language.
func langLinks(r *http.Request, current string) []langLink {
	var out []langLink
	for _, l := range []struct{ lang, label string }{{"en", "EN"}, {"zh", "中文"}} {
		q := url.Values{}
		for k, vs := range r.URL.Query() {
			q[k] = vs
		}
		q.Set("lang", l.lang)
		out = append(out, langLink{Lang: l.lang, Label: l.label, URL: "?" + q.Encode(), Current: l.lang == current})
	}
	return out
}
