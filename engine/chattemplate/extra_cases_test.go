package chattemplate

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ggufd/ggufd/engine/jinja"
)

// extraPassFloor is the least number of extra cases that must pass.
const extraPassFloor = 1540

// randomPassFloor is the least number of random-conversation cases that must pass.
const randomPassFloor = 1400

// TestExtraCases renders the shared templates for conversations the shared
// cases lack (tools, parallel calls, reasoning, documents, extra variables);
// testdata/gen_extra_cases.py made the expectations with Python jinja2.
func TestExtraCases(t *testing.T) {
	passed, total := checkExpectationFile(t, "testdata/extra_cases.json.gz")
	if testing.Verbose() {
		fmt.Printf("chat template extra cases: %d/%d passed\n", passed, total)
	}
	t.Logf("chat template extra cases: %d/%d passed", passed, total)
	if passed < extraPassFloor {
		t.Fatalf("%d/%d extra cases pass, below the floor of %d", passed, total, extraPassFloor)
	}
}

// TestRandomConversations renders the shared templates for random
// conversations (gen_extra_cases.py --random 20 --seed 4).
func TestRandomConversations(t *testing.T) {
	passed, total := checkExpectationFile(t, "testdata/random_conversations.json.gz")
	t.Logf("chat template random conversations: %d/%d passed", passed, total)
	if passed < randomPassFloor {
		t.Fatalf("%d/%d random conversations pass, below the floor of %d", passed, total, randomPassFloor)
	}
}

// checkExpectationFile renders every result of a gzipped expectation file
// (see testdata/gen_extra_cases.py) and logs the mismatches.
func checkExpectationFile(t *testing.T, path string) (passed, total int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	v, err := DecodeJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	doc := v.(*jinja.Dict)
	get := func(d *jinja.Dict, k string) any { x, _ := d.Get(k); return x }
	now, err := time.Parse("2006-01-02T15:04:05", get(doc, "now").(string))
	if err != nil {
		t.Fatal(err)
	}
	contexts := get(doc, "contexts").(*jinja.Dict)
	dir := casesDir(t)
	templates := map[string]*Template{}
	tokens := map[string]caseFile{}
	for _, r := range get(doc, "results").(*jinja.List).Items {
		rec := r.(*jinja.Dict)
		name := get(rec, "template").(string)
		tmpl, ok := templates[name]
		if !ok {
			src, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if tmpl, err = Parse(string(src)); err != nil {
				t.Fatal(err)
			}
			templates[name] = tmpl
			var cf caseFile
			data, err := os.ReadFile(filepath.Join(dir, "cases", name[:len(name)-len(".jinja")]+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &cf); err != nil {
				t.Fatal(err)
			}
			tokens[name] = cf
		}
		caseName := get(rec, "case").(string)
		ctx := contextFromDict(get(contexts, caseName).(*jinja.Dict), nil)
		ctx.BOSToken, ctx.EOSToken, ctx.Now = tokens[name].BOSToken, tokens[name].EOSToken, now
		got, err := tmpl.Render(ctx)
		total++
		want, hasWant := rec.Get("expected")
		id := name + "/" + caseName
		switch {
		case !hasWant && err != nil:
			passed++
		case !hasWant:
			t.Logf("%s: want error %v, rendered fine", id, get(rec, "error"))
		case err != nil:
			t.Logf("%s: %v", id, err)
		case got != want.(string):
			t.Logf("%s: output differs at byte %d\n got: %q\nwant: %q", id, diffAt(got, want.(string)), excerpt(got, want.(string)), excerpt(want.(string), got))
		default:
			passed++
		}
	}
	return passed, total
}
