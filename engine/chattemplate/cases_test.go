package chattemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ggufd/ggufd/engine/jinja"
	"github.com/ggufd/ggufd/internal/sharedtest"
)

// passFloor is the number of shared reference cases (70 templates, six
// conversations each): every one passes, so a single regression fails the
// test. Raise it when cases are added to ../shared/chat-templates.
const passFloor = 420

// casesDir holds real chat templates and transformers' reference output.
func casesDir(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(sharedtest.Dir(tb), "chat-templates")
}

type caseFile struct {
	Template    string            `json:"template"`
	BOSToken    string            `json:"bos_token"`
	EOSToken    string            `json:"eos_token"`
	StrftimeNow string            `json:"strftime_now"`
	Cases       []json.RawMessage `json:"cases"`
}

type refCase struct {
	Name     string  `json:"case"`
	Expected *string `json:"expected"`
	Error    *string `json:"error"`
}

// contextFor builds the render context of one case, keeping JSON key order.
func contextFor(t *testing.T, cf *caseFile, raw json.RawMessage) Context {
	t.Helper()
	v, err := DecodeJSON(raw)
	if err != nil {
		t.Fatalf("decode case: %v", err)
	}
	now, err := time.Parse("2006-01-02T15:04:05", cf.StrftimeNow)
	if err != nil {
		t.Fatalf("strftime_now: %v", err)
	}
	ctx := contextFromDict(v.(*jinja.Dict), map[string]bool{"case": true, "expected": true, "error": true})
	ctx.BOSToken, ctx.EOSToken, ctx.Now = cf.BOSToken, cf.EOSToken, now
	return ctx
}

// contextFromDict maps a conversation record (messages, tools, documents,
// add_generation_prompt, anything else as an extra variable) to a Context.
func contextFromDict(c *jinja.Dict, skip map[string]bool) Context {
	var ctx Context
	for i, k := range c.Keys() {
		key, val := k.(string), c.Values()[i]
		switch {
		case skip[key]:
		case key == "add_generation_prompt":
			ctx.AddGenerationPrompt = val == true
		case key == "messages":
			for _, m := range val.(*jinja.List).Items {
				md := m.(*jinja.Dict)
				mm := map[string]any{}
				for j, mk := range md.Keys() {
					mm[mk.(string)] = md.Values()[j]
				}
				ctx.Messages = append(ctx.Messages, mm)
			}
		case key == "tools" && val != nil:
			ctx.Tools = append([]any{}, val.(*jinja.List).Items...)
		case key == "documents" && val != nil:
			ctx.Documents = append([]any{}, val.(*jinja.List).Items...)
		case key == "tools" || key == "documents":
		default:
			if ctx.Extra == nil {
				ctx.Extra = map[string]any{}
			}
			ctx.Extra[key] = val
		}
	}
	return ctx
}

// sharedTemplate is one shared chat template with its reference cases.
type sharedTemplate struct {
	caseFile
	source string
}

// loadSharedTemplates reads every case file under casesDir/cases and the
// template each one names, in file name order.
func loadSharedTemplates(t *testing.T) []sharedTemplate {
	t.Helper()
	dir := casesDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "cases", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no reference cases under %s (the shared chat-templates checkout is missing): %v", dir, err)
	}
	sort.Strings(files)
	templates := make([]sharedTemplate, len(files))
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &templates[i].caseFile); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		src, err := os.ReadFile(filepath.Join(dir, templates[i].Template))
		if err != nil {
			t.Fatal(err)
		}
		templates[i].source = string(src)
	}
	return templates
}

func TestReferenceCases(t *testing.T) {
	total, passed := 0, 0
	var failures []string
	for _, st := range loadSharedTemplates(t) {
		cf := st.caseFile
		tmpl, parseErr := Parse(st.source)
		for _, raw := range cf.Cases {
			var rc refCase
			if err := json.Unmarshal(raw, &rc); err != nil {
				t.Fatal(err)
			}
			total++
			name := cf.Template + "/" + rc.Name
			var got string
			var renderErr error
			if parseErr != nil {
				renderErr = parseErr
			} else {
				got, renderErr = tmpl.Render(contextFor(t, &cf, raw))
			}
			switch {
			case rc.Error != nil && renderErr != nil:
				passed++
			case rc.Error != nil:
				failures = append(failures, fmt.Sprintf("%s: expected error %q, rendered fine", name, *rc.Error))
			case renderErr != nil:
				failures = append(failures, fmt.Sprintf("%s: %v", name, renderErr))
			case got != *rc.Expected:
				failures = append(failures, fmt.Sprintf("%s: output differs at byte %d\n got: %q\nwant: %q", name, diffAt(got, *rc.Expected), excerpt(got, *rc.Expected), excerpt(*rc.Expected, got)))
			default:
				passed++
			}
		}
	}
	if testing.Verbose() {
		for _, f := range failures {
			t.Log(f)
		}
		fmt.Printf("chat template reference cases: %d/%d passed\n", passed, total)
	}
	t.Logf("chat template reference cases: %d/%d passed", passed, total)
	if passed < passFloor {
		t.Fatalf("%d/%d cases pass, below the floor of %d", passed, total, passFloor)
	}
}

func diffAt(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// excerpt shows a around the first difference from b.
func excerpt(a, b string) string {
	i := diffAt(a, b)
	start := max(0, i-60)
	end := min(len(a), i+60)
	return strings.ToValidUTF8(a[start:end], "?")
}
