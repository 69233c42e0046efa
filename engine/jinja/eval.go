package jinja

import (
	"fmt"
	"math"
	"math/big"
	"strings"
)

// renderer holds per-render state; a Template is shared and immutable.
type renderer struct {
	depth int // macro call nesting, to turn runaway recursion into an error
	steps int // loop iterations and macro calls so far
}

// Limits that turn a runaway template into an error instead of a hung or
// exhausted process.
const (
	maxCallDepth = 500
	maxSteps     = 1_000_000 // loop iterations plus macro calls per render
	maxOutput    = 32 << 20  // bytes of rendered text, also per captured block
)

// errTooLong is returned by operations whose result would exceed maxOutput.
var errTooLong = fmt.Errorf("string longer than %d bytes", maxOutput)

// replaceAll is strings.Replace with a bound on the result's size.
func replaceAll(s, old, nw string, n int) (string, error) {
	count := strings.Count(s, old)
	if old == "" {
		count = len(s) + 1
	}
	if n >= 0 && n < count {
		count = n
	}
	if len(s)+count*(len(nw)-len(old)) > maxOutput {
		return "", errTooLong
	}
	return strings.Replace(s, old, nw, n), nil
}

// joinStrings is strings.Join with a bound on the result's size.
func joinStrings(parts []string, sep string) (string, error) {
	total := len(sep) * len(parts)
	for _, p := range parts {
		total += len(p)
	}
	if total > maxOutput {
		return "", errTooLong
	}
	return strings.Join(parts, sep), nil
}

// step counts one unit of work against maxSteps.
func (r *renderer) step() error {
	r.steps++
	if r.steps > maxSteps {
		return fmt.Errorf("template exceeded %d loop iterations and macro calls", maxSteps)
	}
	return nil
}

func (r *renderer) eval(e expr, sc *scope) (any, error) {
	switch e := e.(type) {
	case *constExpr:
		return e.val, nil
	case *nameExpr:
		if v, ok := sc.lookup(e.name); ok {
			return v, nil
		}
		if v, ok := builtinGlobals[e.name]; ok {
			return v, nil
		}
		return Undefined{Hint: fmt.Sprintf("'%s' is undefined", e.name)}, nil
	case *listExpr:
		items := make([]any, len(e.items))
		for i, it := range e.items {
			v, err := r.eval(it, sc)
			if err != nil {
				return nil, err
			}
			items[i] = v
		}
		return &List{Items: items}, nil
	case *tupleExpr:
		items := make([]any, len(e.items))
		for i, it := range e.items {
			v, err := r.eval(it, sc)
			if err != nil {
				return nil, err
			}
			items[i] = v
		}
		return &List{Items: items, Tuple: true}, nil
	case *dictExpr:
		d := NewDict()
		for i := range e.keys {
			k, err := r.eval(e.keys[i], sc)
			if err != nil {
				return nil, err
			}
			k = plain(k)
			if !hashable(k) {
				return nil, atPos(e.pos, fmt.Errorf("unhashable type: '%s'", typeName(k)))
			}
			v, err := r.eval(e.vals[i], sc)
			if err != nil {
				return nil, err
			}
			d.Set(k, v)
		}
		return d, nil
	case *attrExpr:
		obj, err := r.eval(e.obj, sc)
		if err != nil {
			return nil, err
		}
		v, err := getAttr(obj, e.name)
		return v, atPos(e.pos, err)
	case *itemExpr:
		obj, err := r.eval(e.obj, sc)
		if err != nil {
			return nil, err
		}
		key, err := r.eval(e.key, sc)
		if err != nil {
			return nil, err
		}
		v, err := getItem(obj, key)
		return v, atPos(e.pos, err)
	case *sliceExpr:
		return r.evalSlice(e, sc)
	case *callExpr:
		return r.evalCall(e, sc)
	case *filterExpr:
		obj, err := r.eval(e.obj, sc)
		if err != nil {
			return nil, err
		}
		return r.applyFilter(e, obj, sc)
	case *testExpr:
		return r.evalTest(e, sc)
	case *unaryExpr:
		x, err := r.eval(e.x, sc)
		if err != nil {
			return nil, err
		}
		switch e.op {
		case "not":
			return !truthy(x), nil
		case "-":
			switch v := x.(type) {
			case int64:
				if v == math.MinInt64 {
					return intValue(new(big.Int).Neg(big.NewInt(v))), nil
				}
				return -v, nil
			case bigInt:
				return intValue(new(big.Int).Neg(v.big())), nil
			case float64:
				return -v, nil
			case bool:
				i, _ := asInt(v)
				return -i, nil
			case Undefined:
				return nil, atPos(e.pos, v.err())
			}
			return nil, atPos(e.pos, fmt.Errorf("bad operand type for unary -: '%s'", typeName(x)))
		default:
			switch x.(type) {
			case int64, bigInt, float64:
				return x, nil
			case bool:
				i, _ := asInt(x)
				return i, nil
			}
			return nil, atPos(e.pos, fmt.Errorf("bad operand type for unary +: '%s'", typeName(x)))
		}
	case *binaryExpr:
		return r.evalBinary(e, sc)
	case *compareExpr:
		return r.evalCompare(e, sc)
	case *condExpr:
		c, err := r.eval(e.cond, sc)
		if err != nil {
			return nil, err
		}
		if truthy(c) {
			return r.eval(e.yes, sc)
		}
		if e.no == nil {
			return Undefined{Hint: "the inline if-expression evaluated to false and no else section was defined"}, nil
		}
		return r.eval(e.no, sc)
	}
	return nil, fmt.Errorf("jinja: unknown expression %T", e)
}

func (r *renderer) evalBinary(e *binaryExpr, sc *scope) (any, error) {
	l, err := r.eval(e.l, sc)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "and":
		if !truthy(l) {
			return l, nil
		}
		return r.eval(e.r, sc)
	case "or":
		if truthy(l) {
			return l, nil
		}
		return r.eval(e.r, sc)
	}
	rv, err := r.eval(e.r, sc)
	if err != nil {
		return nil, err
	}
	if e.op == "~" {
		ls, rs := toStr(l), toStr(rv)
		if len(ls)+len(rs) > maxOutput {
			return nil, atPos(e.pos, fmt.Errorf("string longer than %d bytes", maxOutput))
		}
		return ls + rs, nil
	}
	if e.foldedBase {
		if f, ok := asFloat(l); ok && f < 0 {
			if _, isBool := l.(bool); !isBool {
				neg, _ := binaryOp("-", int64(0), l)
				v, err := binaryOp("**", neg, rv)
				if err != nil {
					return nil, atPos(e.pos, err)
				}
				v, err = binaryOp("-", int64(0), v)
				return v, atPos(e.pos, err)
			}
		}
	}
	v, err := binaryOp(e.op, l, rv)
	return v, atPos(e.pos, err)
}

func (r *renderer) evalCompare(e *compareExpr, sc *scope) (any, error) {
	l, err := r.eval(e.first, sc)
	if err != nil {
		return nil, err
	}
	for i, op := range e.ops {
		rv, err := r.eval(e.rest[i], sc)
		if err != nil {
			return nil, err
		}
		var ok bool
		switch op {
		case "==":
			ok = equal(l, rv)
		case "!=":
			ok = !equal(l, rv)
		case "in", "not in":
			ok, err = contains(rv, l)
			if op == "not in" {
				ok = !ok
			}
		default:
			var c int
			c, err = compare(l, rv)
			switch op {
			case "<":
				ok = c < 0
			case "<=":
				ok = c <= 0
			case ">":
				ok = c > 0
			case ">=":
				ok = c >= 0
			}
		}
		if err != nil {
			return nil, atPos(e.pos, err)
		}
		if !ok {
			return false, nil
		}
		l = rv
	}
	return true, nil
}

func (r *renderer) evalSlice(e *sliceExpr, sc *scope) (any, error) {
	obj, err := r.eval(e.obj, sc)
	if err != nil {
		return nil, err
	}
	var bounds [3]*int64
	for i, be := range []expr{e.start, e.stop, e.step} {
		if be == nil {
			continue
		}
		v, err := r.eval(be, sc)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		n, ok := asInt(v)
		if !ok {
			return nil, atPos(e.pos, fmt.Errorf("slice indices must be integers or None, not %s", typeName(v)))
		}
		bounds[i] = &n
	}
	v, err := sliceValue(obj, bounds[0], bounds[1], bounds[2])
	return v, atPos(e.pos, err)
}

// sliceIndices resolves Python slice bounds against a length.
func sliceIndices(n int, start, stop, step *int64) ([]int, error) {
	st := int64(1)
	if step != nil {
		st = *step
	}
	if st == 0 {
		return nil, fmt.Errorf("slice step cannot be zero")
	}
	ln := int64(n)
	clamp := func(p *int64, dflt int64, lo, hi int64) int64 {
		if p == nil {
			return dflt
		}
		v := *p
		if v < 0 {
			v += ln
		}
		return min(max(v, lo), hi)
	}
	var idx []int
	if st > 0 {
		a, b := clamp(start, 0, 0, ln), clamp(stop, ln, 0, ln)
		for i := a; i < b; i += st {
			idx = append(idx, int(i))
		}
	} else {
		a, b := clamp(start, ln-1, -1, ln-1), clamp(stop, -1, -1, ln-1)
		for i := a; i > b; i += st {
			idx = append(idx, int(i))
		}
	}
	return idx, nil
}

func sliceValue(obj any, start, stop, step *int64) (any, error) {
	switch x := obj.(type) {
	case *List:
		idx, err := sliceIndices(len(x.Items), start, stop, step)
		if err != nil {
			return nil, err
		}
		items := make([]any, len(idx))
		for i, j := range idx {
			items[i] = x.Items[j]
		}
		return &List{Items: items, Tuple: x.Tuple}, nil
	case string:
		runes := []rune(x)
		idx, err := sliceIndices(len(runes), start, stop, step)
		if err != nil {
			return nil, err
		}
		out := make([]rune, len(idx))
		for i, j := range idx {
			out[i] = runes[j]
		}
		return string(out), nil
	case Undefined:
		return nil, x.err()
	}
	return nil, fmt.Errorf("'%s' object is not subscriptable", typeName(obj))
}

func (r *renderer) evalArgs(args []expr, kwargs []kwArg, sc *scope) ([]any, map[string]any, error) {
	av, kw, _, err := r.evalCallArgs(args, kwargs, sc)
	return av, kw, err
}

// evalCallArgs evaluates call arguments, spreading *seq and **mapping; names
// lists the keyword arguments in order.
func (r *renderer) evalCallArgs(args []expr, kwargs []kwArg, sc *scope) ([]any, map[string]any, []string, error) {
	var av []any
	if len(args) > 0 {
		av = make([]any, 0, len(args))
		for _, a := range args {
			star, isStar := a.(*starExpr)
			if isStar {
				a = star.x
			}
			v, err := r.eval(a, sc)
			if err != nil {
				return nil, nil, nil, err
			}
			if !isStar {
				av = append(av, v)
				continue
			}
			items, err := iterate(v)
			if err != nil {
				return nil, nil, nil, atPos(star.pos, err)
			}
			av = append(av, items...)
		}
	}
	var kw map[string]any
	var names []string
	if len(kwargs) > 0 {
		kw = make(map[string]any, len(kwargs))
		for _, k := range kwargs {
			v, err := r.eval(k.val, sc)
			if err != nil {
				return nil, nil, nil, err
			}
			if k.name != "**" {
				kw[k.name] = v
				names = append(names, k.name)
				continue
			}
			d, ok := v.(*Dict)
			if !ok {
				return nil, nil, nil, atPos(k.val.position(), fmt.Errorf("argument after ** must be a mapping, not %s", typeName(v)))
			}
			for i, key := range d.keys {
				s, ok := key.(string)
				if !ok {
					return nil, nil, nil, atPos(k.val.position(), fmt.Errorf("keywords must be strings"))
				}
				kw[s] = d.vals[i]
				names = append(names, s)
			}
		}
	}
	return av, kw, names, nil
}

func (r *renderer) evalCall(e *callExpr, sc *scope) (any, error) {
	fn, err := r.eval(e.fn, sc)
	if err != nil {
		return nil, err
	}
	args, kw, names, err := r.evalCallArgs(e.args, e.kwargs, sc)
	if err != nil {
		return nil, err
	}
	v, err := r.call(fn, args, kw, names, nil)
	return v, atPos(e.pos, err)
}

// call invokes any callable template value.
func (r *renderer) call(fn any, args []any, kw map[string]any, names []string, caller any) (any, error) {
	switch f := fn.(type) {
	case Func:
		return f(args, kw)
	case builtinFunc:
		return f(r, args, kw, names)
	case *loopInfo:
		if f.recurse == nil || len(args) != 1 {
			return nil, fmt.Errorf("loop() can only be called in a recursive loop with one argument")
		}
		return f.recurse(args[0])
	case *macro:
		return r.callMacro(f, args, kw, caller)
	case boundMethod:
		for i := range args {
			args[i] = plain(args[i])
		}
		return r.callMethod(f.recv, f.name, args, kw)
	case Undefined:
		return nil, f.err()
	}
	return nil, fmt.Errorf("'%s' object is not callable", typeName(fn))
}

func (r *renderer) callMacro(m *macro, args []any, kw map[string]any, caller any) (any, error) {
	if r.depth >= maxCallDepth {
		return nil, fmt.Errorf("maximum macro recursion depth exceeded in '%s'", m.def.name)
	}
	if err := r.step(); err != nil {
		return nil, err
	}
	r.depth++
	defer func() { r.depth-- }()
	sc := newScope(m.scope)
	def := m.def
	var extra []any
	for i, a := range args {
		if i < len(def.params) {
			sc.set(def.params[i], a)
		} else {
			extra = append(extra, a)
		}
	}
	kwargs := NewDict()
	for k, v := range kw {
		found := false
		for i, p := range def.params {
			if p == k {
				if i < len(args) {
					return nil, fmt.Errorf("macro '%s' got multiple values for argument '%s'", def.name, k)
				}
				sc.set(k, v)
				found = true
			}
		}
		if !found {
			kwargs.Set(k, v)
		}
	}
	for i, p := range def.params {
		if _, ok := sc.local(p); ok {
			continue
		}
		if def.defaults[i] != nil {
			v, err := r.eval(def.defaults[i], sc)
			if err != nil {
				return nil, err
			}
			sc.set(p, v)
		} else {
			sc.set(p, Undefined{Hint: fmt.Sprintf("parameter '%s' was not provided", p)})
		}
	}
	sc.set("varargs", &List{Items: extra, Tuple: true})
	sc.set("kwargs", kwargs)
	if caller != nil {
		sc.set("caller", caller)
	} else if m.caller != nil {
		sc.set("caller", m.caller)
	}
	var b strings.Builder
	if _, err := r.execBody(def.body, sc, &b); err != nil {
		return nil, err
	}
	return b.String(), nil
}

func (r *renderer) evalTest(e *testExpr, sc *scope) (any, error) {
	obj, err := r.eval(e.obj, sc)
	if err != nil {
		return nil, err
	}
	args, _, err := r.evalArgs(e.args, nil, sc)
	if err != nil {
		return nil, err
	}
	obj = plain(obj)
	t, ok := builtinTests[e.name]
	if !ok {
		return nil, atPos(e.pos, fmt.Errorf("no test named '%s'", e.name))
	}
	res, err := t(obj, args)
	if err != nil {
		return nil, atPos(e.pos, err)
	}
	return res != e.negate, nil
}

func (r *renderer) applyFilter(f *filterExpr, obj any, sc *scope) (any, error) {
	args, kw, err := r.evalArgs(f.args, f.kwargs, sc)
	if err != nil {
		return nil, err
	}
	fn, ok := builtinFilters[f.name]
	if !ok {
		return nil, atPos(f.pos, fmt.Errorf("no filter named '%s'", f.name))
	}
	if !markupFilters[f.name] {
		obj = plain(obj)
	}
	v, err := fn(r, obj, args, kw)
	return v, atPos(f.pos, err)
}
