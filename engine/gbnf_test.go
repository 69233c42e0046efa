package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ggufd/ggufd/engine/internal/llamacpp"
	"github.com/ggufd/ggufd/internal/sharedtest"
)

// dupChain is root ::= a0, ai ::= a(i+1) | a(i+1), a(depth) ::= "x": 2^depth
// paths to one terminal, each walked by llama.cpp.
func dupChain(prefix string, depth int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "root ::= %sa0\n", prefix)
	for i := range depth {
		fmt.Fprintf(&b, "a%d ::= a%d | a%d\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "a%d ::= \"x\"\n", depth)
	return b.String()
}

func TestCheckGrammarRefuses(t *testing.T) {
	for _, tc := range []struct{ name, grammar, want string }{
		{"plus of an optional item", `root ::= ("a"?)+ "b"`, "empty string"},
		{"star of a star", `root ::= (("a")*)*`, "empty string"},
		{"star of a nullable rule", "root ::= e* \"b\"\ne ::= \"a\" | f\nf ::= \"\"", "empty string"},
		{"open range of an optional item", `root ::= ("a"?){2,}`, "empty string"},
		{"bounded range of an optional item", `root ::= ("a"?){0,3}`, "empty string"},
		{"left recursion through a nullable rule", "root ::= e root \"x\" | \"y\"\ne ::= \"a\"?", "left-recursive"},
		{"direct left recursion", `root ::= root "a" | "b"`, "left-recursive"},
		{"left recursion between rules", "root ::= a\na ::= b \"x\" | \"y\"\nb ::= a \"z\"", "left-recursive"},
		{"duplicate alternatives chained 40 deep", dupChain("", 40), "too ambiguous"},
		{"duplicate alternatives after a terminal", dupChain(`"q" `, 40), "too ambiguous"},
		{"duplicate alternatives in an unused rule", "root ::= \"x\"\n" + strings.Replace(dupChain("", 40), "root", "unused", 1), "too ambiguous"},
		{"nullable sequence chain", "root ::= b0\n" + nullableChain(30), "too ambiguous"},
		{"maximum below minimum", `root ::= "a"{5,2}`, "below the minimum"},
		{"repetition count over 2000", `root ::= "a"{0,2001}`, "exceeds 2000"},
		{"long literal repeated", `root ::= "` + strings.Repeat("a", 10000) + `"{2000}`, "elements"},
		{"syntax: unclosed group", `root ::= ("a"`, "invalid grammar"},
		{"syntax: repetition without item", `root ::= *`, "invalid grammar"},
		{"syntax: repetition of empty literal", `root ::= ""*`, "invalid grammar"},
		{"syntax: unknown escape", `root ::= "\q"`, "invalid grammar"},
		{"syntax: missing ::=", `root = "a"`, "invalid grammar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkGrammar(tc.grammar)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("checkGrammar = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// nullableChain: bi ::= b(i+1) b(i+1) | "z", each rule empty in 2^k ways.
func nullableChain(depth int) string {
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, "b%d ::= b%d b%d | \"z\"\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "b%d ::= \"y\"?\n", depth)
	return b.String()
}

func TestCheckGrammarAccepts(t *testing.T) {
	files, err := filepath.Glob("testdata/grammars/*.gbnf")
	if err != nil || len(files) < 7 {
		t.Fatalf("example grammars: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			g, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkGrammar(string(g)); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, tc := range []struct{ name, grammar string }{
		{"optional of an optional item", `root ::= ("a"?)? "b"`},
		{"exact repetition of an optional item", `root ::= ("a"?){3} "b"`},
		{"right recursion", `root ::= "a" root | ""`},
		{"token references", `root ::= <[12]> !<[13]>* "x"`},
		{"undefined rule is llama.cpp's to report", `root ::= missing "a"`},
		{"CRLF line ends and comments", "root ::= a # first\r\na ::= \"x\"\r\n"},
		{"nested group across lines", "root ::= (\n  \"a\" |\n  \"b\"\n)+"},
		{"dot and negated class", `root ::= . [^a-z\]]+`},
		{"duplicate alternatives 8 deep", dupChain("", 8)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkGrammar(tc.grammar); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCheckGrammarAcceptsSchemaGrammars: what the JSON-schema converter
// makes of ordinary schemas must pass.
func TestCheckGrammarAcceptsSchemaGrammars(t *testing.T) {
	for _, schema := range []string{
		`{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},"required":["name"]}`,
		`{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"boolean"},"c":{"type":"null"},"d":{"type":"string"}}}`,
		`{"type":"array","items":{"type":"object","properties":{"id":{"type":"integer","minimum":0}},"required":["id"]},"minItems":1,"maxItems":10}`,
		`{"enum":["red","green","blue"]}`,
		`{"type":"string","pattern":"^[a-z]+$"}`,
		`{"type":"string","pattern":"^(ab|cd)?[0-9]{2,4}$"}`,
		`{"type":"string","format":"date-time"}`,
		`{"type":"string","format":"uuid"}`,
		`{"type":"string","minLength":2,"maxLength":200}`,
		`{"type":"object","additionalProperties":{"type":"integer"}}`,
		`{"oneOf":[{"type":"string"},{"type":"integer"}]}`,
		`{"type":"object","properties":{"p":{"$ref":"#/$defs/p"}},"$defs":{"p":{"type":"object","properties":{"q":{"type":"string"}}}}}`,
		`{}`,
	} {
		g, err := SchemaToGrammar([]byte(schema))
		if err != nil {
			t.Errorf("%s: %v", schema, err)
			continue
		}
		if err := checkGrammar(g); err != nil {
			t.Errorf("%s: %v\n%s", schema, err, g)
		}
	}
}

// TestCheckGrammarSchemaNullableRepetition: ^(a?)*$ becomes a star of an
// optional item, which must be refused before it reaches llama.cpp.
func TestCheckGrammarSchemaNullableRepetition(t *testing.T) {
	g, err := SchemaToGrammar([]byte(`{"type":"string","pattern":"^(a?)*$"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkGrammar(g); err == nil {
		t.Fatalf("passed:\n%s", g)
	}
}

// largestGrammar is a grammar of nearly maxGrammarBytes: a chain of rules
// with groups, alternatives and repetitions, the most the check reads.
func largestGrammar() string {
	var b strings.Builder
	b.WriteString("root ::= r0\n")
	for i := 0; b.Len() < maxGrammarBytes-200; i++ {
		fmt.Fprintf(&b, "r%d ::= \"k%d\" ws (\"a\" | [b-z]+ | r%d)? \"}\"\n", i, i, i+1)
	}
	b.WriteString("r999999 ::= \"x\"\nws ::= [ \\t]*\n")
	return b.String()
}

// TestCheckGrammarLargest: a grammar of the largest size allowed is
// accepted. How long the check takes is BenchmarkCheckGrammar's to say.
func TestCheckGrammarLargest(t *testing.T) {
	if err := checkGrammar(largestGrammar()); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCheckGrammar: the check runs on every request with a grammar
// (measured 20 ms for 262,001 bytes on the 2-core AMD EPYC VM, 180 ms under
// -race).
func BenchmarkCheckGrammar(b *testing.B) {
	g := largestGrammar()
	b.SetBytes(int64(len(g)))
	for b.Loop() {
		if err := checkGrammar(g); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseGBNFNoPanic: any prefix of a valid grammar, and any grammar
// with a byte changed, parses or fails cleanly.
func TestParseGBNFNoPanic(t *testing.T) {
	g, err := os.ReadFile("testdata/grammars/c.gbnf")
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(g) {
		_ = checkGrammar(string(g[:i]))
		for _, c := range []byte("\"[]()*+?{},|\\\x00\n#<>!") {
			mut := []byte(string(g))
			mut[i] = c
			_ = checkGrammar(string(mut))
		}
	}
}

// The cases below run llama.cpp on the grammars, each in a child process
// (the test binary re-run for that one case), so that a crash or a hang
// fails the test instead of ending the run.

const isolatedChildEnv = "GGUFD_ISOLATED_CHILD"

// runIsolated runs body in a child process and fails t if the child dies
// by a signal or abort, or runs past limit. In the child it runs body.
func runIsolated(t *testing.T, limit time.Duration, body func(t *testing.T)) {
	t.Helper()
	if c := os.Getenv(isolatedChildEnv); c == t.Name() {
		body(t)
		return
	} else if c != "" {
		t.Skip("another case's child")
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	top, _, _ := strings.Cut(t.Name(), "/")
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+top+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), isolatedChildEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	tail := string(out)
	if len(tail) > 3000 {
		tail = "..." + tail[len(tail)-3000:]
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("still running after %v (killed): it hangs the engine\n%s", limit, tail)
	case errors.As(err, &ee) && !ee.Exited():
		t.Fatalf("the process died (%v): it crashes the daemon\n%s", ee.ProcessState, tail)
	case err != nil:
		t.Fatalf("child failed: %v\n%s", err, tail)
	}
}

// generateRefusedOrDone: Generate must end in a request error or a
// finished stream within budget.
func generateRefusedOrDone(t *testing.T, m *Model, req GenerateRequest, budget time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	st, err := m.Generate(ctx, req)
	if err != nil {
		if !isRequestError(err) {
			t.Fatalf("Generate: %T %v", err, err)
		}
		t.Logf("refused: %v", err)
		return
	}
	r := collect(t, st, max(req.N, 1))
	t.Logf("generated %q err=%v", r.text, r.err)
}

// TestGrammarCrashesAreRefused: grammars that crashed or hung llama.cpp
// (stack overflow in llama_grammar_advance_stack, 2^40 expansions at
// set-up) are refused with a request error.
func TestGrammarCrashesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  GenerateRequest
	}{
		{"plus of an optional item", GenerateRequest{Grammar: `root ::= ("a"?)+ "b"`}},
		{"star of a star", GenerateRequest{Grammar: `root ::= (("a")*)*`}},
		{"schema pattern star of an optional item", GenerateRequest{JSONSchema: []byte(`{"type":"string","pattern":"^(a?)*$"}`)}},
		{"duplicate alternatives chained 40 deep", GenerateRequest{Grammar: dupChain("", 40)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runIsolated(t, 30*time.Second, func(t *testing.T) {
				m := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 2})
				tc.req.Prompt, tc.req.MaxTokens = "x", 4
				generateRefusedOrDone(t, m, tc.req, 10*time.Second)
			})
		})
	}
}

// distinctChain is like dupChain but each path ends in its own stack
// (ai ::= a(i+1) "p" | a(i+1) "q"): llama.cpp also compares each new stack
// with every earlier one, the worst case for a given number of paths.
func distinctChain(depth int) string {
	var b strings.Builder
	b.WriteString("root ::= a0\n")
	for i := range depth {
		fmt.Fprintf(&b, "a%d ::= a%d \"p\" | a%d \"q\"\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "a%d ::= \"x\"\n", depth)
	return b.String()
}

// BenchmarkGrammarInit times llama_sampler_init_grammar for grammars with
// 2^depth expansion paths (the measurements behind maxGrammarPaths).
func BenchmarkGrammarInit(b *testing.B) {
	m, err := Load(context.Background(), sharedtest.Model(b, stories), LoadOptions{ContextLength: 256})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for _, depth := range []int{10, 12, 13, 14, 16} {
		for name, g := range map[string]string{"same": dupChain("", depth), "distinct": distinctChain(depth)} {
			b.Run(fmt.Sprintf("%s/paths=%d", name, 1<<depth), func(b *testing.B) {
				for b.Loop() {
					s, err := llamacpp.NewSampler(m.lm, llamacpp.SamplerParams{Grammar: g})
					if err != nil {
						b.Fatal(err)
					}
					s.Free()
				}
			})
		}
	}
}

// TestGrammarAmbiguityIsBounded: root ::= "a" root "b" | "a" root "c" | ""
// passes the static checks (one path per position) but doubles its parse
// stacks with every "a": unbounded, the 14th token took 5.5 s on the
// scheduler goroutine, stalling every request on the model. The sampler
// now ends the request once the stacks pass llamacpp.MaxGrammarStacks,
// and an ordinary request is served meanwhile.
func TestGrammarAmbiguityIsBounded(t *testing.T) {
	runIsolated(t, 60*time.Second, func(t *testing.T) {
		m := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 2})
		a := tokenFor(t, m, "a")
		grammar := `root ::= "a" root "b" | "a" root "c" | ""`
		if err := checkGrammar(grammar); err != nil {
			t.Fatalf("checkGrammar refuses it: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		st, err := m.Generate(ctx, GenerateRequest{Prompt: "x", MaxTokens: 40, Grammar: grammar,
			Sampling: SamplingParams{LogitBias: map[int]float32{a: 100}}})
		if err != nil {
			t.Fatal(err)
		}
		done, growing := make(chan error, 1), make(chan struct{})
		go func() {
			last, n := time.Now(), 0
			defer close(done)
			for {
				ev, ok := st.Next()
				if !ok || ev.Done {
					done <- ev.Err
					return
				}
				if n++; n == 8 {
					close(growing)
				}
				t.Logf("token %d after %v", n, time.Since(last))
				last = time.Now()
			}
		}()
		select {
		case <-growing:
		case err := <-done:
			t.Fatalf("the ambiguous request ended before 8 tokens: %v", err)
		}
		start := time.Now()
		generateRefusedOrDone(t, m, GenerateRequest{Prompt: "Once upon a time", MaxTokens: 4}, 5*time.Second)
		t.Logf("an ordinary request alongside took %v", time.Since(start))
		err = <-done
		var ire *InvalidRequestError
		if !errors.As(err, &ire) || ire.Param != "grammar" || !strings.Contains(ire.Message, "too ambiguous") {
			t.Fatalf("the ambiguous request ended with %v, want a grammar error", err)
		}
	})
}

// TestGrammarStacksReadable: sample.cpp reads the grammar's stack count
// through a copy of llama.cpp's private layout; this fails when the
// pinned llama.cpp changes it.
func TestGrammarStacksReadable(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 256})
	for g, want := range map[string]int{`root ::= "a"`: 1, `root ::= "a" | "b" | "c" [x]`: 3} {
		s, err := llamacpp.NewSampler(m.lm, llamacpp.SamplerParams{Grammar: g})
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.GrammarStacks()
		s.Free()
		if err != nil || n != want {
			t.Errorf("%s: %d stacks, err=%v; want %d", g, n, err, want)
		}
	}
}

func tokenFor(t *testing.T, m *Model, piece string) int {
	t.Helper()
	for tok := range m.Info().VocabSize {
		if string(m.lm.AppendPiece(nil, int32(tok), false)) == piece {
			return tok
		}
	}
	t.Fatalf("no token %q", piece)
	return -1
}

// TestGrammarTooCostlyEndsRequest: a token whose sampling against the
// request's grammar takes longer than maxGrammarStep ends the request with
// a grammar error (the scheduler goroutine stalls every request of the
// model meanwhile); a request without a grammar is never ended so. The
// compute clock here advances past the limit at every reading.
func TestGrammarTooCostlyEndsRequest(t *testing.T) {
	m := loadModel(t, stories, LoadOptions{ContextLength: 256, Parallel: 1})
	var ticks atomic.Int64
	base := time.Unix(0, 0)
	m.computeClock = func() time.Time { return base.Add(time.Duration(ticks.Add(1)) * 2 * maxGrammarStep) }
	tests := []struct {
		name   string
		req    GenerateRequest
		costly bool
	}{
		{"grammar", GenerateRequest{Prompt: "Once", MaxTokens: 8, Grammar: `root ::= [a-z ]+`}, true},
		{"schema", GenerateRequest{Prompt: "Once", MaxTokens: 8, JSONSchema: []byte(`{"type":"string"}`)}, true},
		{"no grammar", GenerateRequest{Prompt: "Once", MaxTokens: 8}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := m.Generate(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			r := collect(t, st, 1)
			var ire *InvalidRequestError
			if tt.costly != (errors.As(r.err, &ire) && strings.Contains(ire.Message, "too costly")) {
				t.Fatalf("ended with %v (%+v); want a too-costly grammar error: %v", r.err, r.finish, tt.costly)
			}
		})
	}
}
