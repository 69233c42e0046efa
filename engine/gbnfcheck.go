package engine

import (
	"fmt"
	"strings"

	"github.com/ggufd/ggufd/engine/internal/llamacpp"
)

// maxGrammarPaths bounds how many ways llama.cpp's
// llama_grammar_advance_stack may expand one grammar position into. It
// expands every alternative of every rule it meets at the front (and
// through rules that can match nothing), and compares each resulting stack
// with every earlier one, so its time grows with paths times stacks.
// Measured with llama_sampler_init_grammar on this llama.cpp
// (BenchmarkGrammarInit, AMD EPYC, one core), 2^k paths to 2^k distinct
// stacks: 1,024 3 ms, 4,096 63 ms, 8,192 287 ms, 16,384 644 ms, 65,536
// 15 s (to one shared stack: 0.1 ms to 7 ms). The bound is the sampler's
// runtime bound on stacks, which these paths become (1,024: worst set-up
// 3 ms): a grammar accepted here is not refused at its first token. The
// example grammars and schema grammars in the tests need at most 16;
// an enum of more than 1,024 strings is refused.
const maxGrammarPaths = llamacpp.MaxGrammarStacks

// maxGrammarElements bounds the elements llama.cpp stores for a grammar
// after expanding x{m,n} into copies (8 bytes each, held twice while it
// builds): a 100 KiB literal repeated 2,000 times would be 200 M elements.
const maxGrammarElements = 4 << 20

// paths counts llama.cpp's expansions of a grammar position: t ways end at
// a terminal, e ways get through it matching nothing (and so continue
// with what follows). Both saturate.
type paths struct{ t, e uint64 }

var pathsEmpty = paths{0, 1}

// then is a followed by b.
func (a paths) then(b paths) paths {
	return paths{satAdd(a.t, satMul(a.e, b.t)), satMul(a.e, b.e)}
}

func (a paths) or(b paths) paths { return paths{satAdd(a.t, b.t), satAdd(a.e, b.e)} }

func (a paths) total() uint64 { return satAdd(a.t, a.e) }

// pow is a repeated n times.
func (a paths) pow(n int) paths {
	r := pathsEmpty
	for ; n > 0; n >>= 1 {
		if n&1 == 1 {
			r = r.then(a)
		}
		a = a.then(a)
	}
	return r
}

// analyzeGrammar refuses what llama.cpp's grammar engine cannot survive:
// repetitions of items that match the empty string and left recursion
// (endless recursion, a crash), and positions that expand into too many
// paths (exponential time inside one uncancellable call).
func analyzeGrammar(g *gGrammar) error {
	if g.elems > maxGrammarElements {
		return fmt.Errorf("the grammar expands to more than %d elements (repetitions copy their item)", maxGrammarElements)
	}
	a := &grammarAnalysis{g: g}
	a.computeNullable()
	if err := a.checkRepetitions(); err != nil {
		return err
	}
	if err := a.checkLeftRecursion(); err != nil {
		return err
	}
	return a.checkPaths()
}

type grammarAnalysis struct {
	g        *gGrammar
	nullable []bool
	val      []paths
	state    []uint8 // per rule, for val: 0 new, 1 in progress, 2 done
}

// computeNullable finds the rules that can match the empty string: a
// worklist over sequences, each waiting for the rules it still depends on,
// so that it is linear in the grammar's size.
func (a *grammarAnalysis) computeNullable() {
	rules := a.g.rules
	a.nullable = make([]bool, len(rules))
	var pending []int // per sequence: rule references not yet known nullable
	var seqRule []int // per sequence: its rule
	users := make([][]int, len(rules))
	var queue []int
	mark := func(r int) {
		if !a.nullable[r] {
			a.nullable[r] = true
			queue = append(queue, r)
		}
	}
	for r, rule := range rules {
		for _, seq := range rule.alts {
			id, n, dead := len(pending), 0, false
			for _, s := range seq {
				switch dep := nullDep(s); {
				case dep == -2:
					dead = true
				case dep >= 0:
					n++
					users[dep] = append(users[dep], id)
				}
			}
			if dead {
				n = -1 // never reaches 0
			}
			pending = append(pending, n)
			seqRule = append(seqRule, r)
			if n == 0 {
				mark(r)
			}
		}
	}
	for len(queue) > 0 {
		r := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, id := range users[r] {
			if pending[id]--; pending[id] == 0 {
				mark(seqRule[id])
			}
		}
	}
}

// nullDep says what s's nullability depends on: -1 nothing (it is
// nullable), -2 nothing (it is not), else the rule it is nullable with.
func nullDep(s gSym) int {
	switch {
	case s.kind == symRep && s.min == 0:
		return -1
	case s.kind == symRep:
		return nullDep(*s.sub)
	case s.kind == symRef:
		return s.rule
	}
	return -2
}

func (a *grammarAnalysis) symNullable(s gSym) bool {
	switch dep := nullDep(s); dep {
	case -1:
		return true
	case -2:
		return false
	default:
		return a.nullable[dep]
	}
}

// checkRepetitions: llama.cpp rewrites x* as S ::= x S | "", so when x can
// match nothing, S calls itself without consuming input and
// llama_grammar_advance_stack recurses until the C stack overflows; its
// own left-recursion check misses it (it sees only rules with a literally
// empty alternative). x{m,n} chains n-m optional rules: with more than one
// not endless but ambiguous in as many ways, and refused the same way;
// x{m} and x? are plain copies and alternatives.
func (a *grammarAnalysis) checkRepetitions() error {
	for _, rule := range a.g.rules {
		for _, seq := range rule.alts {
			for _, s := range seq {
				if s.kind == symRep && (s.max < 0 || s.max-s.min > 1) && a.symNullable(*s.sub) {
					return fmt.Errorf("rule %q repeats (with *, + or {m,n}) an item that can match the empty string; llama.cpp cannot run such a grammar: make the repeated item match at least one character", rule.name)
				}
			}
		}
	}
	return nil
}

// leftRefs calls f with each rule that a sequence can begin with: those
// referenced before its first item that must consume input.
func (a *grammarAnalysis) leftRefs(seq []gSym, f func(int)) {
	for _, s := range seq {
		x := s
		if x.kind == symRep {
			x = *x.sub
		}
		if x.kind == symRef {
			f(x.rule)
		}
		if !a.symNullable(s) {
			return
		}
	}
}

// checkLeftRecursion refuses a rule that can reach itself before
// consuming input (llama_grammar_advance_stack would recurse forever).
// llama.cpp checks this too, but its notion of "can be empty" misses rules
// that are empty only through other rules, e.g. r ::= e r "x", e ::= "a"?.
// An iterative depth-first search keeps deep grammars off the Go stack.
func (a *grammarAnalysis) checkLeftRecursion() error {
	rules := a.g.rules
	edges := make([][]int, len(rules))
	for r, rule := range rules {
		for _, seq := range rule.alts {
			a.leftRefs(seq, func(q int) { edges[r] = append(edges[r], q) })
		}
	}
	color := make([]uint8, len(rules)) // 0 new, 1 on the path, 2 done
	for start := range rules {
		if color[start] != 0 {
			continue
		}
		path := []lrFrame{{start, 0}}
		color[start] = 1
		for len(path) > 0 {
			top := &path[len(path)-1]
			if top.next == len(edges[top.r]) {
				color[top.r] = 2
				path = path[:len(path)-1]
				continue
			}
			q := edges[top.r][top.next]
			top.next++
			switch color[q] {
			case 1:
				return a.leftRecursionError(path, q)
			case 0:
				color[q] = 1
				path = append(path, lrFrame{q, 0})
			}
		}
	}
	return nil
}

// lrFrame is one rule on checkLeftRecursion's path: next is the index of
// its next edge to follow.
type lrFrame struct{ r, next int }

func (a *grammarAnalysis) leftRecursionError(path []lrFrame, q int) error {
	var names []string
	on := false
	for _, f := range path {
		on = on || f.r == q
		if n := a.g.rules[f.r].name; on && (len(names) == 0 || names[len(names)-1] != n) {
			names = append(names, n)
		}
	}
	names = append(names, a.g.rules[q].name)
	return fmt.Errorf("the grammar is left-recursive: rule %q can reach itself without consuming input (%s); llama.cpp cannot run such a grammar", a.g.rules[q].name, strings.Join(names, " -> "))
}

// checkPaths bounds the expansion of every rule (what a reference to it,
// or the start rule, costs) and of every rest of a sequence (what the
// stack costs once the input has advanced into it). Rules that nothing
// uses count too: llama.cpp's own left-recursion check walks every rule,
// just as often as the expansion would.
func (a *grammarAnalysis) checkPaths() error {
	a.val = make([]paths, len(a.g.rules))
	a.state = make([]uint8, len(a.g.rules))
	for r, rule := range a.g.rules {
		if a.ruleVal(r).total() > maxGrammarPaths {
			return a.pathsError(rule.name)
		}
		for _, seq := range rule.alts {
			rest := pathsEmpty
			for i := len(seq) - 1; i > 0; i-- {
				if rest = a.symVal(seq[i]).then(rest); rest.total() > maxGrammarPaths {
					return a.pathsError(rule.name)
				}
			}
		}
	}
	return nil
}

func (a *grammarAnalysis) pathsError(rule string) error {
	return fmt.Errorf("the grammar is too ambiguous: rule %q can continue in more than %d ways at one point (duplicate or overlapping alternatives multiply), which llama.cpp would explore one by one", rule, maxGrammarPaths)
}

// ruleVal is the expansion count of a rule: the sum over its alternatives.
// Only the front of each alternative is visited, up to its first item that
// must consume input, and with left recursion refused that is acyclic; a
// cycle seen anyway counts as too many.
func (a *grammarAnalysis) ruleVal(r int) paths {
	switch a.state[r] {
	case 1:
		return paths{^uint64(0), ^uint64(0)}
	case 2:
		return a.val[r]
	}
	a.state[r] = 1
	var v paths
	for _, seq := range a.g.rules[r].alts {
		acc := pathsEmpty
		for _, s := range seq {
			if acc = acc.then(a.symVal(s)); acc.e == 0 {
				break
			}
		}
		v = v.or(acc)
	}
	a.val[r], a.state[r] = v, 2
	return v
}

func (a *grammarAnalysis) symVal(s gSym) paths {
	switch s.kind {
	case symRef:
		return a.ruleVal(s.rule)
	case symRep:
		return repVal(a.symVal(*s.sub), s.min, s.max)
	}
	return paths{1, 0}
}

// repVal is x{lo,hi}: lo copies of x, then llama.cpp's chain of optional
// rules S(k) ::= x S(k-1) | "" (for x* a single S ::= x S | "").
func repVal(x paths, lo, hi int) paths {
	tail := pathsEmpty
	switch {
	case hi < 0 && x.e > 0:
		tail = paths{^uint64(0), ^uint64(0)} // refused before: endless
	case hi < 0:
		tail = paths{x.t, 1}
	default:
		for k := 0; k < hi-lo; k++ {
			next := x.then(tail).or(pathsEmpty)
			if next == tail {
				break
			}
			tail = next
		}
	}
	return x.pow(lo).then(tail)
}
