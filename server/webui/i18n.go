package webui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

// Languages the pages speak; the first is the fallback.
var languages = []language.Tag{language.English, language.Chinese}

var langMatcher = language.NewMatcher(languages)

// dictionary holds static/i18n.json: the one dictionary both the page's script
// and the server-rendered account page read, so the two never disagree.
var dictionary = mustLoadDictionary()

func mustLoadDictionary() map[string]map[string]string {
	var d map[string]map[string]string
	if err := json.Unmarshal(assets["i18n.json"].body, &d); err != nil {
		panic(fmt.Sprintf("webui: i18n.json: %v", err))
	}
	return d
}

// Lang picks the language of a server-rendered page: ?lang=en|zh (the
// page's switch) wins, else the browser's Accept-Language, else English.
func Lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); dictionary[l] != nil {
		return l
	}
	tag, _ := language.MatchStrings(langMatcher, r.Header.Get("Accept-Language"))
	base, _ := tag.Base()
	if dictionary[base.String()] != nil {
		return base.String()
	}
	return "en"
}

// translate returns the text of key in lang with {name} placeholders filled
// from pairs (name, value, name, value…).
func translate(lang, key string, pairs ...any) string {
	s, ok := dictionary[lang][key]
	if !ok {
		s, ok = dictionary["en"][key]
	}
	if !ok {
		return key
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		s = strings.ReplaceAll(s, "{"+fmt.Sprint(pairs[i])+"}", fmt.Sprint(pairs[i+1]))
	}
	return s
}
