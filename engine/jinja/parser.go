package jinja

import (
	"errors"
	"fmt"
	"strconv"
)

// parser is a recursive-descent parser following jinja2's grammar and
// operator precedence (which differs from Python's in places, e.g. "**" is
// left-associative and binds looser than unary minus).
type parser struct {
	toks []token
	i    int
	// loops counts the for loops around the current position; macro and
	// call bodies start from zero because jinja2 compiles them to separate
	// functions, where break and continue are Python syntax errors.
	loops int
	// depth bounds the recursion of the descent so that absurdly nested
	// input fails cleanly instead of exhausting the stack.
	depth int
}

const maxNesting = 200

// enter guards one level of recursive descent; call the result to leave.
func (p *parser) enter() (func(), error) {
	p.depth++
	if p.depth > maxNesting {
		p.depth--
		return nil, p.errAt(p.cur().pos, "template nested too deeply")
	}
	return func() { p.depth-- }, nil
}

func parse(toks []token) ([]node, error) {
	p := &parser{toks: toks}
	body, end, err := p.subparse()
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, p.errAt(p.prev().pos, "unexpected '%s'", end)
	}
	return body, nil
}

func (p *parser) cur() token  { return p.toks[p.i] }
func (p *parser) prev() token { return p.toks[p.i-1] }
func (p *parser) peek() token {
	if p.i+1 < len(p.toks) {
		return p.toks[p.i+1]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func (p *parser) errAt(pos Pos, format string, args ...any) error {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) isOp(v string) bool   { t := p.cur(); return t.kind == tokOp && t.val == v }
func (p *parser) isName(v string) bool { t := p.cur(); return t.kind == tokName && t.val == v }

func (p *parser) skipOp(v string) bool {
	if p.isOp(v) {
		p.next()
		return true
	}
	return false
}

func (p *parser) skipName(v string) bool {
	if p.isName(v) {
		p.next()
		return true
	}
	return false
}

func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of template"
	case tokBlockEnd, tokVarEnd:
		return "end of statement"
	case tokString:
		return strconv.Quote(t.val)
	}
	return "'" + t.val + "'"
}

func (p *parser) expectOp(v string) error {
	if !p.skipOp(v) {
		return p.errAt(p.cur().pos, "expected '%s', got %s", v, describe(p.cur()))
	}
	return nil
}

func (p *parser) expectKind(k tokenKind, what string) (token, error) {
	if p.cur().kind != k {
		return token{}, p.errAt(p.cur().pos, "expected %s, got %s", what, describe(p.cur()))
	}
	return p.next(), nil
}

func (p *parser) expectBlockEnd() error {
	_, err := p.expectKind(tokBlockEnd, "end of statement block")
	return err
}

// subparse parses nodes until EOF or a block tag whose keyword is one of
// the end keywords of the enclosing statement (endif, else, ...). It returns
// that keyword, leaving the parser just after it.
func (p *parser) subparse(ends ...string) ([]node, string, error) {
	var body []node
	for {
		t := p.cur()
		switch t.kind {
		case tokEOF:
			if len(ends) > 0 {
				return nil, "", p.errAt(t.pos, "unexpected end of template, expected '%s'", ends[0])
			}
			return body, "", nil
		case tokText:
			p.next()
			body = append(body, &textNode{pos: t.pos, text: t.val})
		case tokVarBegin:
			p.next()
			e, err := p.parseTuple(true, false)
			if err != nil {
				return nil, "", err
			}
			if _, err := p.expectKind(tokVarEnd, "end of print statement"); err != nil {
				return nil, "", err
			}
			body = append(body, &outputNode{pos: t.pos, expr: e})
		case tokBlockBegin:
			p.next()
			kw := p.cur()
			if kw.kind != tokName {
				return nil, "", p.errAt(kw.pos, "expected statement name, got %s", describe(kw))
			}
			for _, e := range ends {
				if kw.val == e {
					p.next()
					return body, e, nil
				}
			}
			n, err := p.parseStatement()
			if err != nil {
				return nil, "", err
			}
			body = append(body, n)
		default:
			return nil, "", p.errAt(t.pos, "unexpected %s", describe(t))
		}
	}
}

func (p *parser) parseStatement() (node, error) {
	leave, err := p.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	kw := p.next()
	switch kw.val {
	case "if":
		return p.parseIf(kw.pos)
	case "for":
		return p.parseFor(kw.pos)
	case "set":
		return p.parseSet(kw.pos)
	case "macro":
		return p.parseMacro(kw.pos)
	case "call":
		return p.parseCallBlock(kw.pos)
	case "filter":
		return p.parseFilterBlock(kw.pos)
	case "break", "continue":
		if p.loops == 0 {
			return nil, p.errAt(kw.pos, "'%s' outside a loop", kw.val)
		}
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		return &loopControlNode{pos: kw.pos, isBreak: kw.val == "break"}, nil
	case "with":
		return p.parseWith(kw.pos)
	case "generation":
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		saved := p.loops
		p.loops = 0
		body, _, err := p.subparse("endgeneration")
		p.loops = saved
		if err != nil {
			return nil, err
		}
		return &containerNode{pos: kw.pos, body: body}, p.expectBlockEnd()
	}
	switch kw.val {
	case "elif", "else", "endif", "endfor", "endmacro", "endset", "endcall", "endfilter", "endraw", "endgeneration", "endwith":
		return nil, p.errAt(kw.pos, "unexpected '%s' outside its block", kw.val)
	}
	return nil, p.errAt(kw.pos, "unknown tag '%s'", kw.val)
}

func (p *parser) parseWith(pos Pos) (node, error) {
	n := &withNode{pos: pos}
	for p.cur().kind != tokBlockEnd {
		if len(n.targets) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		target, err := p.parseAssignTarget(false)
		if err != nil {
			return nil, err
		}
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		value, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		n.targets = append(n.targets, target)
		n.values = append(n.values, value)
	}
	p.next()
	body, _, err := p.subparse("endwith")
	if err != nil {
		return nil, err
	}
	n.body = body
	return n, p.expectBlockEnd()
}

func (p *parser) parseIf(pos Pos) (node, error) {
	n := &ifNode{pos: pos}
	for {
		cond, err := p.parseTuple(false, false)
		if err != nil {
			return nil, err
		}
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		body, end, err := p.subparse("elif", "else", "endif")
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, cond)
		n.bodies = append(n.bodies, body)
		switch end {
		case "elif":
			continue
		case "else":
			if err := p.expectBlockEnd(); err != nil {
				return nil, err
			}
			n.els, _, err = p.subparse("endif")
			if err != nil {
				return nil, err
			}
		}
		return n, p.expectBlockEnd()
	}
}

func (p *parser) parseFor(pos Pos) (node, error) {
	target, err := p.parseAssignTarget(false, "in")
	if err != nil {
		return nil, err
	}
	if !p.skipName("in") {
		return nil, p.errAt(p.cur().pos, "expected 'in', got %s", describe(p.cur()))
	}
	iter, err := p.parseTupleEnd(false, false, "recursive")
	if err != nil {
		return nil, err
	}
	n := &forNode{pos: pos, target: target, iter: iter}
	if p.skipName("if") {
		if n.filter, err = p.parseExpression(true); err != nil {
			return nil, err
		}
	}
	n.recursive = p.skipName("recursive")
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	p.loops++
	body, end, err := p.subparse("endfor", "else")
	p.loops--
	if err != nil {
		return nil, err
	}
	n.body = body
	if end == "else" {
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		if n.els, _, err = p.subparse("endfor"); err != nil {
			return nil, err
		}
	}
	return n, p.expectBlockEnd()
}

// parseAssignTarget parses a name, a tuple of names, or (for set) ns.attr.
func (p *parser) parseAssignTarget(withNamespace bool, extraEnd ...string) (expr, error) {
	if withNamespace && p.cur().kind == tokName && p.peek().kind == tokOp && p.peek().val == "." {
		obj := p.next()
		p.next()
		attr, err := p.expectKind(tokName, "attribute name")
		if err != nil {
			return nil, err
		}
		return &attrExpr{pos: obj.pos, obj: &nameExpr{pos: obj.pos, name: obj.val}, name: attr.val}, nil
	}
	pos := p.cur().pos
	var names []expr
	for {
		if len(names) > 0 && !p.skipOp(",") {
			break
		}
		if p.cur().kind != tokName || (len(names) > 0 && p.isTupleEnd(extraEnd)) {
			if len(names) > 0 {
				break
			}
			return nil, p.errAt(p.cur().pos, "expected a name to assign to, got %s", describe(p.cur()))
		}
		t := p.next()
		names = append(names, &nameExpr{pos: t.pos, name: t.val})
		if !p.isOp(",") {
			break
		}
	}
	if len(names) == 1 && !(p.prev().kind == tokOp && p.prev().val == ",") {
		return names[0], nil
	}
	return &tupleExpr{pos: pos, items: names}, nil
}

func (p *parser) parseSet(pos Pos) (node, error) {
	target, err := p.parseAssignTarget(true)
	if err != nil {
		return nil, err
	}
	if p.skipOp("=") {
		value, err := p.parseTuple(true, false)
		if err != nil {
			return nil, err
		}
		return &setNode{pos: pos, target: target, value: value}, p.expectBlockEnd()
	}
	filters, err := p.parseFilterChain()
	if err != nil {
		return nil, err
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	body, _, err := p.subparse("endset")
	if err != nil {
		return nil, err
	}
	return &setBlockNode{pos: pos, target: target, filters: filters, body: body}, p.expectBlockEnd()
}

// parseFilterChain parses "| f(args) | g" (the leading pipe optional for
// the first filter when required is false) as used by filter blocks and
// block sets.
func (p *parser) parseFilterChain() ([]*filterExpr, error) {
	var out []*filterExpr
	for p.skipOp("|") || (len(out) == 0 && p.cur().kind == tokName) {
		f, err := p.parseFilter(nil)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func (p *parser) parseMacroSignature(def *macroDef) error {
	if err := p.expectOp("("); err != nil {
		return err
	}
	for !p.isOp(")") {
		if len(def.params) > 0 {
			if err := p.expectOp(","); err != nil {
				return err
			}
			if p.isOp(")") {
				break
			}
		}
		name, err := p.expectKind(tokName, "parameter name")
		if err != nil {
			return err
		}
		var dflt expr
		if p.skipOp("=") {
			if dflt, err = p.parseExpression(true); err != nil {
				return err
			}
		} else if len(def.defaults) > 0 && def.defaults[len(def.defaults)-1] != nil {
			return p.errAt(name.pos, "non-default argument follows default argument")
		}
		def.params = append(def.params, name.val)
		def.defaults = append(def.defaults, dflt)
	}
	p.next()
	return nil
}

func (p *parser) parseMacro(pos Pos) (node, error) {
	name, err := p.expectKind(tokName, "macro name")
	if err != nil {
		return nil, err
	}
	def := &macroDef{name: name.val}
	if err := p.parseMacroSignature(def); err != nil {
		return nil, err
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	saved := p.loops
	p.loops = 0
	def.body, _, err = p.subparse("endmacro")
	p.loops = saved
	if err != nil {
		return nil, err
	}
	return &macroNode{pos: pos, def: def}, p.expectBlockEnd()
}

func (p *parser) parseCallBlock(pos Pos) (node, error) {
	def := &macroDef{name: "caller"}
	if p.isOp("(") {
		if err := p.parseMacroSignature(def); err != nil {
			return nil, err
		}
	}
	e, err := p.parseExpression(true)
	if err != nil {
		return nil, err
	}
	call, ok := e.(*callExpr)
	if !ok {
		return nil, p.errAt(pos, "expected a call expression in call block")
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	saved := p.loops
	p.loops = 0
	def.body, _, err = p.subparse("endcall")
	p.loops = saved
	if err != nil {
		return nil, err
	}
	return &callBlockNode{pos: pos, call: call, caller: def}, p.expectBlockEnd()
}

func (p *parser) parseFilterBlock(pos Pos) (node, error) {
	filters, err := p.parseFilterChain()
	if err != nil {
		return nil, err
	}
	if len(filters) == 0 {
		return nil, p.errAt(pos, "filter block needs a filter")
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	body, _, err := p.subparse("endfilter")
	if err != nil {
		return nil, err
	}
	return &filterBlockNode{pos: pos, filters: filters, body: body}, p.expectBlockEnd()
}

// --- expressions ---

func (p *parser) isTupleEnd(extra []string) bool {
	t := p.cur()
	switch t.kind {
	case tokVarEnd, tokBlockEnd, tokEOF:
		return true
	case tokOp:
		return t.val == ")"
	case tokName:
		for _, e := range extra {
			if t.val == e {
				return true
			}
		}
	}
	return false
}

func (p *parser) parseTuple(withCond, explicitParens bool) (expr, error) {
	return p.parseTupleEnd(withCond, explicitParens)
}

func (p *parser) parseTupleEnd(withCond, explicitParens bool, extraEnd ...string) (expr, error) {
	pos := p.cur().pos
	var items []expr
	isTuple := false
	for {
		if len(items) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		if p.isTupleEnd(extraEnd) {
			break
		}
		e, err := p.parseExpression(withCond)
		if err != nil {
			return nil, err
		}
		items = append(items, e)
		if p.isOp(",") {
			isTuple = true
		} else {
			break
		}
	}
	if !isTuple {
		if len(items) == 1 {
			return items[0], nil
		}
		if !explicitParens {
			return nil, p.errAt(p.cur().pos, "expected an expression, got %s", describe(p.cur()))
		}
	}
	return &tupleExpr{pos: pos, items: items}, nil
}

func (p *parser) parseExpression(withCond bool) (expr, error) {
	if withCond {
		return p.parseCondExpr()
	}
	return p.parseOr()
}

func (p *parser) parseCondExpr() (expr, error) {
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for p.isName("if") {
		pos := p.next().pos
		cond, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		var no expr
		if p.skipName("else") {
			if no, err = p.parseCondExpr(); err != nil {
				return nil, err
			}
		}
		e = &condExpr{pos: pos, cond: cond, yes: e, no: no}
	}
	return e, nil
}

func (p *parser) parseOr() (expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isName("or") {
		pos := p.next().pos
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{pos: pos, op: "or", l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseAnd() (expr, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.isName("and") {
		pos := p.next().pos
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{pos: pos, op: "and", l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseNot() (expr, error) {
	if p.isName("not") {
		leave, err := p.enter()
		if err != nil {
			return nil, err
		}
		defer leave()
		pos := p.next().pos
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{pos: pos, op: "not", x: x}, nil
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() (expr, error) {
	pos := p.cur().pos
	first, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	c := &compareExpr{pos: pos, first: first}
	for {
		t := p.cur()
		var op string
		switch {
		case t.kind == tokOp && (t.val == "==" || t.val == "!=" || t.val == "<" || t.val == ">" || t.val == "<=" || t.val == ">="):
			op = t.val
			p.next()
		case p.isName("in"):
			op = "in"
			p.next()
		case p.isName("not") && p.peek().kind == tokName && p.peek().val == "in":
			op = "not in"
			p.next()
			p.next()
		}
		if op == "" {
			break
		}
		r, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		c.ops = append(c.ops, op)
		c.rest = append(c.rest, r)
	}
	if len(c.ops) == 0 {
		return first, nil
	}
	return c, nil
}

func (p *parser) parseBinaryLevel(ops []string, next func() (expr, error)) (expr, error) {
	l, err := next()
	if err != nil {
		return nil, err
	}
	for {
		t := p.cur()
		if t.kind != tokOp {
			return l, nil
		}
		found := false
		for _, op := range ops {
			if t.val == op {
				found = true
				break
			}
		}
		if !found {
			return l, nil
		}
		p.next()
		r, err := next()
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{pos: t.pos, op: t.val, l: l, r: r, foldedBase: t.val == "**" && isConst(l) && !isConst(r)}
	}
}

// isConst reports whether jinja2's optimizer would fold e to a constant.
func isConst(e expr) bool {
	switch x := e.(type) {
	case *constExpr:
		return true
	case *unaryExpr:
		return x.op != "not" && isConst(x.x)
	case *binaryExpr:
		return x.op != "and" && x.op != "or" && isConst(x.l) && isConst(x.r)
	case *filterExpr:
		if x.obj == nil || !isConst(x.obj) || len(x.kwargs) > 0 {
			return false
		}
		for _, a := range x.args {
			if !isConst(a) {
				return false
			}
		}
		return true
	}
	return false
}

func (p *parser) parseMath1() (expr, error) {
	return p.parseBinaryLevel([]string{"+", "-"}, p.parseConcat)
}

func (p *parser) parseConcat() (expr, error) {
	return p.parseBinaryLevel([]string{"~"}, p.parseMath2)
}

func (p *parser) parseMath2() (expr, error) {
	return p.parseBinaryLevel([]string{"*", "/", "//", "%"}, p.parsePow)
}

func (p *parser) parsePow() (expr, error) {
	return p.parseBinaryLevel([]string{"**"}, func() (expr, error) { return p.parseUnary(true) })
}

func (p *parser) parseUnary(withFilter bool) (expr, error) {
	leave, err := p.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	t := p.cur()
	var e expr
	if t.kind == tokOp && (t.val == "-" || t.val == "+") {
		p.next()
		x, err := p.parseUnary(false)
		if err != nil {
			return nil, err
		}
		e = &unaryExpr{pos: t.pos, op: t.val, x: x}
	} else {
		if e, err = p.parsePrimary(); err != nil {
			return nil, err
		}
	}
	if e, err = p.parsePostfix(e); err != nil {
		return nil, err
	}
	if withFilter {
		return p.parseFilterExpr(e)
	}
	return e, nil
}

func (p *parser) parsePrimary() (expr, error) {
	t := p.cur()
	switch t.kind {
	case tokName:
		p.next()
		switch t.val {
		case "true", "True":
			return &constExpr{pos: t.pos, val: true}, nil
		case "false", "False":
			return &constExpr{pos: t.pos, val: false}, nil
		case "none", "None":
			return &constExpr{pos: t.pos, val: nil}, nil
		}
		return &nameExpr{pos: t.pos, name: t.val}, nil
	case tokString:
		s := p.next().val
		for p.cur().kind == tokString {
			s += p.next().val
		}
		return &constExpr{pos: t.pos, val: s}, nil
	case tokInt:
		p.next()
		if n, err := strconv.ParseInt(t.val, 10, 64); err == nil {
			return &constExpr{pos: t.pos, val: n}, nil
		}
		n, ok := parseBigInt(t.val)
		if !ok {
			return nil, p.errAt(t.pos, "bad integer literal %s", t.val)
		}
		return &constExpr{pos: t.pos, val: n}, nil
	case tokFloat:
		p.next()
		f, err := parseFloatLiteral(t.val)
		if err != nil {
			return nil, p.errAt(t.pos, "bad float literal %s", t.val)
		}
		return &constExpr{pos: t.pos, val: f}, nil
	case tokOp:
		switch t.val {
		case "(":
			p.next()
			e, err := p.parseTuple(true, true)
			if err != nil {
				return nil, err
			}
			return e, p.expectOp(")")
		case "[":
			p.next()
			l := &listExpr{pos: t.pos}
			for !p.isOp("]") {
				if len(l.items) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("]") {
						break
					}
				}
				e, err := p.parseExpression(true)
				if err != nil {
					return nil, err
				}
				l.items = append(l.items, e)
			}
			p.next()
			return l, nil
		case "{":
			p.next()
			d := &dictExpr{pos: t.pos}
			for !p.isOp("}") {
				if len(d.keys) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("}") {
						break
					}
				}
				k, err := p.parseExpression(true)
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.parseExpression(true)
				if err != nil {
					return nil, err
				}
				d.keys = append(d.keys, k)
				d.vals = append(d.vals, v)
			}
			p.next()
			return d, nil
		}
	}
	return nil, p.errAt(t.pos, "unexpected %s", describe(t))
}

func (p *parser) parsePostfix(e expr) (expr, error) {
	for {
		t := p.cur()
		if t.kind != tokOp {
			return e, nil
		}
		var err error
		switch t.val {
		case ".":
			p.next()
			a := p.next()
			switch a.kind {
			case tokName:
				e = &attrExpr{pos: t.pos, obj: e, name: a.val}
			case tokInt:
				n, _ := strconv.ParseInt(a.val, 10, 64)
				e = &itemExpr{pos: t.pos, obj: e, key: &constExpr{pos: a.pos, val: n}}
			default:
				return nil, p.errAt(a.pos, "expected attribute name, got %s", describe(a))
			}
		case "[":
			p.next()
			if e, err = p.parseSubscript(e, t.pos); err != nil {
				return nil, err
			}
		case "(":
			if e, err = p.parseCall(e); err != nil {
				return nil, err
			}
		default:
			return e, nil
		}
	}
}

func (p *parser) parseSubscript(obj expr, pos Pos) (expr, error) {
	var parts [3]expr
	idx := 0
	isSlice := false
	for !p.isOp("]") {
		if p.skipOp(":") {
			isSlice = true
			idx++
			if idx > 2 {
				return nil, p.errAt(p.cur().pos, "too many ':' in slice")
			}
			continue
		}
		if parts[idx] != nil {
			return nil, p.errAt(p.cur().pos, "expected ']' or ':', got %s", describe(p.cur()))
		}
		e, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		parts[idx] = e
	}
	p.next()
	if !isSlice {
		if parts[0] == nil {
			return nil, p.errAt(pos, "empty subscript")
		}
		return &itemExpr{pos: pos, obj: obj, key: parts[0]}, nil
	}
	return &sliceExpr{pos: pos, obj: obj, start: parts[0], stop: parts[1], step: parts[2]}, nil
}

func (p *parser) parseArgs() ([]expr, []kwArg, error) {
	if err := p.expectOp("("); err != nil {
		return nil, nil, err
	}
	var args []expr
	var kwargs []kwArg
	for !p.isOp(")") {
		if len(args)+len(kwargs) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, nil, err
			}
			if p.isOp(")") {
				break
			}
		}
		if p.isOp("*") || p.isOp("**") {
			// f(*seq) and f(**mapping) spread their argument.
			star := p.next()
			v, err := p.parseExpression(true)
			if err != nil {
				return nil, nil, err
			}
			if star.val == "*" {
				args = append(args, &starExpr{pos: star.pos, x: v})
			} else {
				kwargs = append(kwargs, kwArg{name: "**", val: v})
			}
			continue
		}
		if p.cur().kind == tokName && p.peek().kind == tokOp && p.peek().val == "=" {
			name := p.next().val
			p.next()
			v, err := p.parseExpression(true)
			if err != nil {
				return nil, nil, err
			}
			kwargs = append(kwargs, kwArg{name: name, val: v})
			continue
		}
		if len(kwargs) > 0 {
			return nil, nil, p.errAt(p.cur().pos, "positional argument follows keyword argument")
		}
		v, err := p.parseExpression(true)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, v)
	}
	p.next()
	return args, kwargs, nil
}

func (p *parser) parseCall(fn expr) (expr, error) {
	pos := fn.position()
	args, kwargs, err := p.parseArgs()
	if err != nil {
		return nil, err
	}
	return &callExpr{pos: pos, fn: fn, args: args, kwargs: kwargs}, nil
}

func (p *parser) parseFilterExpr(e expr) (expr, error) {
	for {
		var err error
		switch {
		case p.isOp("|"):
			p.next()
			if e, err = p.parseFilter(e); err != nil {
				return nil, err
			}
		case p.isName("is"):
			p.next()
			if e, err = p.parseTest(e); err != nil {
				return nil, err
			}
		case p.isOp("("):
			if e, err = p.parseCall(e); err != nil {
				return nil, err
			}
		default:
			return e, nil
		}
	}
}

func (p *parser) parseDottedName() (token, error) {
	t, err := p.expectKind(tokName, "a name")
	if err != nil {
		return t, err
	}
	for p.isOp(".") && p.peek().kind == tokName {
		p.next()
		t.val += "." + p.next().val
	}
	return t, nil
}

func (p *parser) parseFilter(obj expr) (*filterExpr, error) {
	name, err := p.parseDottedName()
	if err != nil {
		return nil, err
	}
	f := &filterExpr{pos: name.pos, obj: obj, name: name.val}
	if p.isOp("(") {
		if f.args, f.kwargs, err = p.parseArgs(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (p *parser) parseTest(obj expr) (expr, error) {
	negate := p.skipName("not")
	name, err := p.parseDottedName()
	if err != nil {
		return nil, err
	}
	t := &testExpr{pos: name.pos, obj: obj, name: name.val, negate: negate}
	c := p.cur()
	switch {
	case p.isOp("("):
		args, kwargs, err := p.parseArgs()
		if err != nil {
			return nil, err
		}
		if len(kwargs) > 0 {
			return nil, p.errAt(c.pos, "tests take no keyword arguments")
		}
		t.args = args
	case c.kind == tokString || c.kind == tokInt || c.kind == tokFloat || (c.kind == tokOp && (c.val == "[" || c.val == "{")) ||
		(c.kind == tokName && c.val != "else" && c.val != "or" && c.val != "and"):
		// "x is divisibleby 3": one argument without parentheses.
		arg, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		if arg, err = p.parsePostfix(arg); err != nil {
			return nil, err
		}
		t.args = []expr{arg}
	}
	return t, nil
}

// parseFloatLiteral reads a float literal as Python's float() does: one too
// large for a float64 is infinity (1e400 is inf), where strconv reports
// ErrRange.
func parseFloatLiteral(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if errors.Is(err, strconv.ErrRange) {
		return f, nil // ±Inf, or 0 for an underflow
	}
	return f, err
}
