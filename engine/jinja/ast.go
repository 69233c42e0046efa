package jinja

// Statement nodes. Each renders into the output or changes the scope.
type node interface{ position() Pos }

type (
	textNode struct {
		pos  Pos
		text string
	}
	outputNode struct {
		pos  Pos
		expr expr
	}
	ifNode struct {
		pos    Pos
		conds  []expr
		bodies [][]node
		els    []node
	}
	forNode struct {
		pos       Pos
		target    expr // nameExpr or tupleExpr of names
		iter      expr
		filter    expr // nil: none
		body, els []node
		recursive bool
	}
	setNode struct {
		pos    Pos
		target expr // nameExpr, tupleExpr or attrExpr on a namespace
		value  expr
	}
	setBlockNode struct {
		pos     Pos
		target  expr
		filters []*filterExpr // applied to the captured text, innermost first
		body    []node
	}
	macroNode struct {
		pos Pos
		def *macroDef
	}
	callBlockNode struct {
		pos    Pos
		call   *callExpr
		caller *macroDef
	}
	filterBlockNode struct {
		pos     Pos
		filters []*filterExpr
		body    []node
	}
	loopControlNode struct {
		pos     Pos
		isBreak bool
	}
	// withNode binds values in a scope of its own for its body.
	withNode struct {
		pos     Pos
		targets []expr
		values  []expr
		body    []node
	}
	// containerNode renders its body (e.g. transformers' {% generation %}).
	containerNode struct {
		pos  Pos
		body []node
	}
)

type macroDef struct {
	name     string
	params   []string
	defaults []expr // aligned with params; nil entries have no default
	body     []node
}

func (n *textNode) position() Pos        { return n.pos }
func (n *outputNode) position() Pos      { return n.pos }
func (n *ifNode) position() Pos          { return n.pos }
func (n *forNode) position() Pos         { return n.pos }
func (n *setNode) position() Pos         { return n.pos }
func (n *setBlockNode) position() Pos    { return n.pos }
func (n *macroNode) position() Pos       { return n.pos }
func (n *callBlockNode) position() Pos   { return n.pos }
func (n *filterBlockNode) position() Pos { return n.pos }
func (n *loopControlNode) position() Pos { return n.pos }
func (n *containerNode) position() Pos   { return n.pos }
func (n *withNode) position() Pos        { return n.pos }

// Expression nodes.
type expr interface{ position() Pos }

type (
	constExpr struct {
		pos Pos
		val any
	}
	nameExpr struct {
		pos  Pos
		name string
	}
	listExpr struct {
		pos   Pos
		items []expr
	}
	tupleExpr struct {
		pos   Pos
		items []expr
	}
	dictExpr struct {
		pos        Pos
		keys, vals []expr
	}
	attrExpr struct {
		pos  Pos
		obj  expr
		name string
	}
	itemExpr struct {
		pos      Pos
		obj, key expr
	}
	sliceExpr struct {
		pos               Pos
		obj               expr
		start, stop, step expr // nil when omitted
	}
	callExpr struct {
		pos    Pos
		fn     expr
		args   []expr
		kwargs []kwArg
	}
	filterExpr struct {
		pos    Pos
		obj    expr // nil inside filter blocks and block sets
		name   string
		args   []expr
		kwargs []kwArg
	}
	testExpr struct {
		pos    Pos
		obj    expr
		name   string
		args   []expr
		negate bool
	}
	unaryExpr struct {
		pos Pos
		op  string // "-", "+", "not"
		x   expr
	}
	binaryExpr struct {
		pos  Pos
		op   string
		l, r expr
		// foldedBase marks "**" whose left side jinja2 folds to a constant
		// while the right side is not constant: jinja2 then emits Python
		// source like "-2 ** x", which Python reads as -(2 ** x).
		foldedBase bool
	}
	// compareExpr chains comparisons: a < b < c.
	compareExpr struct {
		pos   Pos
		first expr
		ops   []string
		rest  []expr
	}
	// starExpr is "*x" in a call's arguments.
	starExpr struct {
		pos Pos
		x   expr
	}
	condExpr struct {
		pos           Pos
		cond, yes, no expr // no may be nil: undefined
	}
)

type kwArg struct {
	name string
	val  expr
}

func (e *constExpr) position() Pos   { return e.pos }
func (e *nameExpr) position() Pos    { return e.pos }
func (e *listExpr) position() Pos    { return e.pos }
func (e *tupleExpr) position() Pos   { return e.pos }
func (e *dictExpr) position() Pos    { return e.pos }
func (e *attrExpr) position() Pos    { return e.pos }
func (e *itemExpr) position() Pos    { return e.pos }
func (e *sliceExpr) position() Pos   { return e.pos }
func (e *callExpr) position() Pos    { return e.pos }
func (e *filterExpr) position() Pos  { return e.pos }
func (e *testExpr) position() Pos    { return e.pos }
func (e *unaryExpr) position() Pos   { return e.pos }
func (e *binaryExpr) position() Pos  { return e.pos }
func (e *compareExpr) position() Pos { return e.pos }
func (e *condExpr) position() Pos    { return e.pos }
func (e *starExpr) position() Pos    { return e.pos }
