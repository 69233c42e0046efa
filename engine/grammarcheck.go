package engine

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits on grammars a request may bring. llama.cpp's GBNF parser recurses
// once per nested group, so deep nesting overflows the C stack (measured:
// 200,000 nested parentheses crash the process), and it expands x{m,n}
// into copies, so nested repetitions multiply: ("a"{0,1999}){0,1999} runs
// for minutes and gigabytes. Its own cap (2,000 per repetition) does not
// bound the product.
const (
	maxGrammarBytes    = 256 << 10
	maxGrammarDepth    = 64
	maxGrammarExpanded = 200_000 // elements after expanding repetitions
	maxSchemaDepth     = 64      // JSON nesting of a schema: llama.cpp's converter recurses per level (4,000 levels took 3 s)
)

// checkGrammar refuses GBNF grammars that would crash llama.cpp or exhaust
// its stack, memory or time. A scan first bounds nesting and size, so that
// the parser (which recurses per group) and the analysis (gbnfcheck.go)
// run on a grammar of bounded size. Undefined rules and a missing root are
// left to llama.cpp, which reports them as errors.
func checkGrammar(g string) error {
	if err := scanGrammar(g); err != nil {
		return err
	}
	parsed, err := parseGBNF(g)
	if err != nil {
		return err
	}
	return analyzeGrammar(parsed)
}

// scanGrammar estimates what llama.cpp would build from a grammar without
// parsing it: the bytes, the nesting depth and the elements after
// expanding nested repetitions.
func scanGrammar(g string) error {
	if len(g) > maxGrammarBytes {
		return fmt.Errorf("the grammar is %d bytes; at most %d are allowed", len(g), maxGrammarBytes)
	}
	type group struct{ total, last uint64 }
	stack := []group{{}}
	add := func(n uint64) {
		top := &stack[len(stack)-1]
		top.last = n
		top.total = satAdd(top.total, n)
	}
	for i := 0; i < len(g); i++ {
		switch c := g[i]; c {
		case '"', '[', '<':
			end := map[byte]byte{'"': '"', '[': ']', '<': '>'}[c]
			i++
			for i < len(g) && g[i] != end {
				if g[i] == '\\' {
					i++
				}
				i++
			}
			add(1)
		case '#':
			for i < len(g) && g[i] != '\n' {
				i++
			}
		case '(':
			if len(stack) > maxGrammarDepth {
				return fmt.Errorf("the grammar nests groups more than %d deep", maxGrammarDepth)
			}
			stack = append(stack, group{})
		case ')':
			if len(stack) == 1 {
				continue // unbalanced: llama.cpp's parser will say so
			}
			inner := stack[len(stack)-1].total
			stack = stack[:len(stack)-1]
			add(max(inner, 1))
		case '*', '+', '?':
			top := &stack[len(stack)-1]
			top.total = satAdd(top.total, top.last)
		case '{':
			j := i + 1
			for j < len(g) && g[j] != '}' {
				j++
			}
			times := repetitionCopies(g[i+1 : min(j, len(g))])
			top := &stack[len(stack)-1]
			extra := satMul(top.last, times)
			top.total = satAdd(top.total, extra)
			top.last = satAdd(top.last, extra)
			i = j
		default:
			if isRuleChar(c) {
				for i+1 < len(g) && isRuleChar(g[i+1]) {
					i++
				}
				add(1)
			}
		}
		if stack[0].total > maxGrammarExpanded || (len(stack) > 1 && stack[len(stack)-1].total > maxGrammarExpanded) {
			return fmt.Errorf("the grammar expands to more than %d elements (nested repetitions multiply)", maxGrammarExpanded)
		}
	}
	total := uint64(0)
	for _, fr := range stack {
		total = satAdd(total, fr.total)
	}
	if total > maxGrammarExpanded {
		return fmt.Errorf("the grammar expands to more than %d elements (nested repetitions multiply)", maxGrammarExpanded)
	}
	return nil
}

// repetitionCopies is how many copies of its item x{m,n} adds: n, or m+1
// for {m,} (m copies and a star), or m for {m}.
func repetitionCopies(body string) uint64 {
	lo, hi, comma := body, "", false
	for k := 0; k < len(body); k++ {
		if body[k] == ',' {
			lo, hi, comma = body[:k], body[k+1:], true
			break
		}
	}
	m, _ := strconv.ParseUint(strings.TrimSpace(lo), 10, 32)
	if !comma {
		return m
	}
	if n, err := strconv.ParseUint(strings.TrimSpace(hi), 10, 32); err == nil {
		return max(m, n)
	}
	return m + 1
}

func isRuleChar(c byte) bool {
	return c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

func satMul(a, b uint64) uint64 {
	if a != 0 && b > ^uint64(0)/a {
		return ^uint64(0)
	}
	return a * b
}
