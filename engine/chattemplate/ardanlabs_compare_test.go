//go:build jinjacompare

package chattemplate

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	ardan "github.com/ardanlabs/jinja"

	"github.com/ggufd/ggufd/internal/jinjacompare"
)

// ardanlabsSharedMatched is how many shared cases each measured version of
// github.com/ardanlabs/jinja matched (docs/jinja.md): the test fails when a
// version gives another count, or one not measured yet, so that the
// document is measured again.
var ardanlabsSharedMatched = map[string]int{"v1.8.0": 361, "v1.12.0": 365}

// TestArdanlabsSharedCases renders the shared chat-template cases (the ones
// TestReferenceCases passes) with github.com/ardanlabs/jinja, giving it the
// variables transformers gives a template (see the shared README).
func TestArdanlabsSharedCases(t *testing.T) {
	tally := jinjacompare.Tally{Version: jinjacompare.Version()}
	for _, st := range loadSharedTemplates(t) {
		cf := st.caseFile
		for _, raw := range cf.Cases {
			var rc refCase
			if err := json.Unmarshal(raw, &rc); err != nil {
				t.Fatal(err)
			}
			c := jinjacompare.Case{Group: cf.Template, Name: rc.Name, Source: st.source, Vars: ardanVars(t, &cf, raw), WantErr: rc.Error != nil}
			if rc.Expected != nil {
				c.Want = *rc.Expected
			}
			tally.Run(c)
		}
	}
	for _, f := range tally.Failures {
		t.Log(f)
	}
	t.Log("shared chat-template cases:\n" + tally.Report())
	if tally.Total != passFloor {
		t.Errorf("%d shared cases, TestReferenceCases counts %d", tally.Total, passFloor)
	}
	if want, ok := ardanlabsSharedMatched[tally.Version]; !ok || tally.Matched != want {
		t.Errorf("ardanlabs/jinja %s matched %d shared cases, docs/jinja.md records %d: measure again and update both", tally.Version, tally.Matched, want)
	}
}

// ardanVars builds what transformers passes to a template, in the case's
// JSON key order.
func ardanVars(t *testing.T, cf *caseFile, raw json.RawMessage) map[string]ardan.Value {
	t.Helper()
	v, err := jinjacompare.DecodeJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	now, err := time.Parse("2006-01-02T15:04:05", cf.StrftimeNow)
	if err != nil {
		t.Fatalf("strftime_now: %v", err)
	}
	vars := map[string]ardan.Value{
		"tools":                 ardan.None(),
		"documents":             ardan.None(),
		"add_generation_prompt": ardan.NewBool(false),
		"bos_token":             ardan.NewString(cf.BOSToken),
		"eos_token":             ardan.NewString(cf.EOSToken),
		// The library's own strftime_now reads the clock; the reference
		// used a fixed time.
		"strftime_now": ardan.NewCallable("strftime_now", func(args []ardan.Value, _ map[string]ardan.Value) (ardan.Value, error) {
			if len(args) != 1 || !args[0].IsString() {
				return ardan.Undefined(), fmt.Errorf("strftime_now takes one format string")
			}
			return ardan.NewString(Strftime(now, args[0].AsString())), nil
		}),
	}
	c := v.AsDict()
	for _, k := range c.OrderedKeys() {
		switch k {
		case "case", "expected", "error":
		default:
			vars[k], _ = c.Get(k)
		}
	}
	return vars
}
