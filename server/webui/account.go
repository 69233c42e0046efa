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
}).ParseFS(files, "templates/account.html"))

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
	v := accountView{AccountInfo: info, Lang: lang, CSS: template.CSS(assets["base.css"].body)}
	for _, l := range []struct{ lang, label string }{{"en", "EN"}, {"zh", "中文"}} {
		q := url.Values{}
		for k, vs := range r.URL.Query() {
			q[k] = vs
		}
		q.Set("lang", l.lang)
		v.LangURLs = append(v.LangURLs, langLink{Lang: l.lang, Label: l.label, URL: "?" + q.Encode(), Current: l.lang == lang})
	}
	var buf bytes.Buffer
	if err := accountPage.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render account page: %w", err)
	}
	return buf.Bytes(), nil
}
