//go:build jinjacompare

// Package jinjacompare runs github.com/ardanlabs/jinja, a Go Jinja made for
// chat templates, on the reference cases that engine/jinja passes, and
// counts where it differs from Python jinja2. It exists to decide whether to
// replace engine/jinja with the library (docs/jinja.md has the result); the
// build tag keeps the library out of every other build. Its tests live
// beside the cases they measure:
//
//	go test -tags jinjacompare -run Ardanlabs -v ./engine/jinja/ ./engine/chattemplate/
package jinjacompare

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"time"

	ardan "github.com/ardanlabs/jinja"
)

// Failure kinds, from the reference's point of view.
const (
	KindCompile   = "compile error (reference rendered)"
	KindRender    = "render error (reference rendered)"
	KindOutput    = "output differs"
	KindMissedErr = "rendered where the reference raised"
	KindUnstable  = "output varies between renders of the same input"
	KindPanic     = "panic (counts even where the reference raised)"
	KindCrash     = "crash: kills the process (not run)"
)

var kinds = []string{KindCompile, KindRender, KindOutput, KindMissedErr, KindUnstable, KindPanic, KindCrash}

// renders is how many times Run renders each case. The library builds some
// dicts from Go maps (keyword arguments of dict() and namespace()), so an
// output can change from one render to the next; a case that renders right
// one time in six is caught by 64 renders but for 1e-5 of runs.
const renders = 64

// repeatBudget stops repeating a slow case (the first render always runs);
// slowRender is the render time worth reporting: our engine renders every
// case in well under a millisecond.
const (
	repeatBudget = time.Second
	slowRender   = 100 * time.Millisecond
)

// Case is one reference rendering: Want is the exact output, or WantErr
// says the reference raised (any error matches, as in our own tests).
type Case struct {
	Group, Name string // Group: the template file, or the test family
	Source      string
	Vars        map[string]ardan.Value
	Want        string
	WantErr     bool
}

// Tally counts the library's results over a set of cases.
type Tally struct {
	Version        string // of the library, for the report
	Total, Matched int
	byKind         map[string]int
	byGroup        map[string]int
	groups         map[string]bool
	// Failures has one line per failing case, for -v logs.
	Failures []string
	// Slow has one line per case whose first render took over slowRender.
	Slow []string
}

// Run compiles and renders c with the library and records the result.
// Compiling once per case keeps a panic from one case out of the others.
func (t *Tally) Run(c Case) {
	t.count(c)
	var got string
	var tmpl *ardan.Template
	compileErr := recovered(func() (err error) {
		tmpl, err = ardan.Compile(c.Source)
		return err
	})
	renderErr := compileErr
	unstable := false
	start := time.Now()
	for i := 0; compileErr == nil && i < renders && time.Since(start) < repeatBudget; i++ {
		var out string
		err := recovered(func() (err error) {
			out, err = tmpl.RenderValues(c.Vars)
			return err
		})
		if i == 0 && time.Since(start) > slowRender {
			t.Slow = append(t.Slow, fmt.Sprintf("%s/%s: %v", c.Group, c.Name, time.Since(start).Round(time.Millisecond)))
		}
		if i > 0 && (out != got || (err == nil) != (renderErr == nil)) {
			unstable = true
		}
		got, renderErr = out, err
		if unstable || renderErr != nil {
			break
		}
	}
	var p *panicError
	var kind, detail string
	switch {
	case errors.As(renderErr, &p):
		kind, detail = KindPanic, renderErr.Error()
	case unstable:
		kind, detail = KindUnstable, fmt.Sprintf("one render gave %q", clip(got, 0))
	case c.WantErr && renderErr != nil, !c.WantErr && renderErr == nil && got == c.Want:
		t.Matched++
		return
	case c.WantErr:
		kind, detail = KindMissedErr, fmt.Sprintf("rendered %q", clip(got, 0))
	case compileErr != nil:
		kind, detail = KindCompile, compileErr.Error()
	case renderErr != nil:
		kind, detail = KindRender, renderErr.Error()
	default:
		i := diffAt(got, c.Want)
		kind, detail = KindOutput, fmt.Sprintf("at byte %d\n got: %q\nwant: %q", i, clip(got, i), clip(c.Want, i))
	}
	t.fail(c, kind, detail)
}

// Crash records a case that is known to kill the process (a fatal error
// such as a stack overflow, which recover cannot catch), without running it.
func (t *Tally) Crash(c Case, why string) {
	t.count(c)
	t.fail(c, KindCrash, why)
}

func (t *Tally) count(c Case) {
	if t.byKind == nil {
		t.byKind, t.byGroup, t.groups = map[string]int{}, map[string]int{}, map[string]bool{}
	}
	t.Total++
	t.groups[c.Group] = true
}

func (t *Tally) fail(c Case, kind, detail string) {
	t.byKind[kind]++
	t.byGroup[c.Group]++
	t.Failures = append(t.Failures, fmt.Sprintf("%s/%s: %s: %s", c.Group, c.Name, kind, detail))
}

// Report is the summary docs/jinja.md quotes: matches, failures by kind and
// by group.
func (t *Tally) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ardanlabs/jinja %s matched %d of %d\n", t.Version, t.Matched, t.Total)
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-48s %d\n", k+":", t.byKind[k])
	}
	groups := make([]string, 0, len(t.byGroup))
	for g := range t.byGroup {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	fmt.Fprintf(&b, "  renders over %v: %d\n", slowRender, len(t.Slow))
	for _, s := range t.Slow {
		fmt.Fprintf(&b, "    %s\n", s)
	}
	fmt.Fprintf(&b, "  groups with a failing case: %d of %d\n", len(groups), len(t.groups))
	for _, g := range groups {
		fmt.Fprintf(&b, "    %-58s %d\n", g, t.byGroup[g])
	}
	return b.String()
}

// Version is the version of github.com/ardanlabs/jinja that go.mod
// selects (a test binary carries no module versions, so ask go list).
func Version() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/ardanlabs/jinja").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

// panicError is a panic inside the library. A server must not let one
// through, so it counts as a failure even where the reference raised.
type panicError struct{ v any }

func (p *panicError) Error() string { return fmt.Sprint("panic: ", p.v) }

func recovered(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{v}
		}
	}()
	return f()
}

// DecodeJSON parses JSON into library values, keeping object key order as
// Python's json module does (the library's FromGoValue sorts map keys, which
// a template printing a whole object would show) and integers apart from
// floats.
func DecodeJSON(data []byte) (ardan.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return ardan.Undefined(), fmt.Errorf("decode json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return ardan.Undefined(), errors.New("decode json: trailing data after value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (ardan.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return ardan.Undefined(), err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			d := ardan.NewDict()
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return ardan.Undefined(), err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return ardan.Undefined(), err
				}
				d.AsDict().Set(k.(string), v)
			}
			_, err := dec.Token()
			return d, err
		}
		items := []ardan.Value{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return ardan.Undefined(), err
			}
			items = append(items, v)
		}
		_, err := dec.Token()
		return ardan.NewList(items), err
	case json.Number:
		// The library converts json.Number the way Python's json does.
		return ardan.FromGoValue(t), nil
	}
	return ardan.FromGoValue(tok), nil // string, bool or nil
}

func diffAt(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// clip shows s around byte i.
func clip(s string, i int) string {
	return strings.ToValidUTF8(s[max(0, i-60):min(len(s), i+60)], "?")
}
