//go:build jinjacompare

package jinja

import (
	"strings"
	"testing"

	ardan "github.com/ardanlabs/jinja"

	"github.com/ggufd/ggufd/internal/jinjacompare"
)

// ardanlabsLanguageMatched is how many language cases each measured version
// of github.com/ardanlabs/jinja matched (docs/jinja.md): the test fails when
// a version gives another count, or one not measured yet, so that the
// document is measured again.
var ardanlabsLanguageMatched = map[string]int{"v1.8.0": 100, "v1.12.0": 151}

// ardanlabsCrashes are the cases that kill the test process with a fatal
// stack overflow (recover cannot catch one) in a version of the library, so
// they are counted without being run.
var ardanlabsCrashes = map[string]map[string]string{
	"v1.8.0":  {"repr_cycle_namespace": "printing a namespace that contains itself recurses until the stack overflows"},
	"v1.12.0": {"recursive_loop_runaway_err": "a recursive loop that never ends recurses until the stack overflows"},
}

// TestArdanlabsLanguageCases renders the Python jinja2 language cases (the
// ones TestAgainstPythonJinja passes) with github.com/ardanlabs/jinja.
func TestArdanlabsLanguageCases(t *testing.T) {
	v, err := jinjacompare.DecodeJSON([]byte(referenceVars))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]ardan.Value{}
	for _, k := range v.AsDict().OrderedKeys() {
		vars[k], _ = v.AsDict().Get(k)
	}
	tally := jinjacompare.Tally{Version: jinjacompare.Version()}
	for _, c := range referenceCases {
		// Group by the name's prefix (ws, lit, f, m, ...): a family of features.
		group, _, _ := strings.Cut(c.name, "_")
		jc := jinjacompare.Case{Group: group, Name: c.name, Source: c.src, Vars: vars, Want: c.want, WantErr: c.err != ""}
		if why, ok := ardanlabsCrashes[tally.Version][c.name]; ok {
			tally.Crash(jc, why)
			continue
		}
		tally.Run(jc)
	}
	for _, f := range tally.Failures {
		t.Log(f)
	}
	t.Log("Python jinja2 language cases:\n" + tally.Report())
	if tally.Total != len(referenceCases) {
		t.Errorf("tallied %d of %d cases", tally.Total, len(referenceCases))
	}
	if want, ok := ardanlabsLanguageMatched[tally.Version]; !ok || tally.Matched != want {
		t.Errorf("ardanlabs/jinja %s matched %d language cases, docs/jinja.md records %d: measure again and update both", tally.Version, tally.Matched, want)
	}
}
