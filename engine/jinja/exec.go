package jinja

import (
	"fmt"
	"strings"
)

// ctrl reports a pending break or continue up to the enclosing loop.
type ctrl int

const (
	ctrlNone ctrl = iota
	ctrlBreak
	ctrlContinue
)

func (r *renderer) execBody(body []node, sc *scope, out *strings.Builder) (ctrl, error) {
	for _, n := range body {
		c, err := r.exec(n, sc, out)
		if err != nil || c != ctrlNone {
			return c, err
		}
	}
	if out.Len() > maxOutput {
		return ctrlNone, fmt.Errorf("jinja: rendered text exceeds %d bytes", maxOutput)
	}
	return ctrlNone, nil
}

func (r *renderer) exec(n node, sc *scope, out *strings.Builder) (ctrl, error) {
	switch n := n.(type) {
	case *textNode:
		out.WriteString(n.text)
	case *outputNode:
		v, err := r.eval(n.expr, sc)
		if err != nil {
			return ctrlNone, atPos(n.pos, err)
		}
		out.WriteString(toStr(v))
	case *ifNode:
		for i, c := range n.conds {
			v, err := r.eval(c, sc)
			if err != nil {
				return ctrlNone, atPos(n.pos, err)
			}
			if truthy(v) {
				return r.execBody(n.bodies[i], sc, out)
			}
		}
		return r.execBody(n.els, sc, out)
	case *forNode:
		return ctrlNone, r.execFor(n, sc, out)
	case *setNode:
		v, err := r.eval(n.value, sc)
		if err != nil {
			return ctrlNone, atPos(n.pos, err)
		}
		return ctrlNone, atPos(n.pos, assign(n.target, v, sc))
	case *setBlockNode:
		var b strings.Builder
		// The body has a scope of its own; a break or continue leaves
		// before the assignment, as in jinja2.
		if c, err := r.execBody(n.body, newScope(sc), &b); err != nil || c != ctrlNone {
			return c, err
		}
		v, err := r.filterChain(n.filters, b.String(), sc)
		if err != nil {
			return ctrlNone, err
		}
		return ctrlNone, atPos(n.pos, assign(n.target, v, sc))
	case *filterBlockNode:
		var b strings.Builder
		if c, err := r.execBody(n.body, newScope(sc), &b); err != nil || c != ctrlNone {
			return c, err
		}
		v, err := r.filterChain(n.filters, b.String(), sc)
		if err != nil {
			return ctrlNone, err
		}
		out.WriteString(toStr(v))
	case *macroNode:
		sc.set(n.def.name, &macro{def: n.def, scope: sc})
	case *callBlockNode:
		fn, err := r.eval(n.call.fn, sc)
		if err != nil {
			return ctrlNone, atPos(n.pos, err)
		}
		args, kw, err := r.evalArgs(n.call.args, n.call.kwargs, sc)
		if err != nil {
			return ctrlNone, atPos(n.pos, err)
		}
		caller := &macro{def: n.caller, scope: sc}
		m, ok := fn.(*macro)
		if !ok {
			return ctrlNone, atPos(n.pos, fmt.Errorf("call block needs a macro, got %s", typeName(fn)))
		}
		v, err := r.callMacro(m, args, kw, caller)
		if err != nil {
			return ctrlNone, atPos(n.pos, err)
		}
		out.WriteString(toStr(v))
	case *loopControlNode:
		if n.isBreak {
			return ctrlBreak, nil
		}
		return ctrlContinue, nil
	case *containerNode:
		// transformers compiles {% generation %} to a call block: its body
		// is a function with its own scope.
		return r.execBody(n.body, newScope(sc), out)
	case *withNode:
		inner := newScope(sc)
		for i, t := range n.targets {
			v, err := r.eval(n.values[i], sc)
			if err != nil {
				return ctrlNone, atPos(n.pos, err)
			}
			if err := assign(t, v, inner); err != nil {
				return ctrlNone, atPos(n.pos, err)
			}
		}
		return r.execBody(n.body, inner, out)
	default:
		return ctrlNone, fmt.Errorf("jinja: unknown node %T", n)
	}
	return ctrlNone, nil
}

func (r *renderer) filterChain(filters []*filterExpr, v any, sc *scope) (any, error) {
	for _, f := range filters {
		var err error
		if v, err = r.applyFilter(f, v, sc); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// assign binds a set/for target: a name, a tuple of names or ns.attr.
func assign(target expr, v any, sc *scope) error {
	switch t := target.(type) {
	case *nameExpr:
		sc.set(t.name, v)
		return nil
	case *tupleExpr:
		items, err := iterate(v)
		if err != nil {
			return fmt.Errorf("cannot unpack non-iterable %s object", typeName(v))
		}
		if len(items) != len(t.items) {
			if len(items) > len(t.items) {
				return fmt.Errorf("too many values to unpack (expected %d)", len(t.items))
			}
			return fmt.Errorf("not enough values to unpack (expected %d, got %d)", len(t.items), len(items))
		}
		for i, it := range t.items {
			if err := assign(it, items[i], sc); err != nil {
				return err
			}
		}
		return nil
	case *attrExpr:
		name := t.obj.(*nameExpr).name
		obj, _ := sc.lookup(name)
		ns, ok := obj.(*Namespace)
		if !ok {
			return fmt.Errorf("cannot assign attribute on non-namespace object")
		}
		ns.attrs.Set(t.name, v)
		return nil
	}
	return fmt.Errorf("cannot assign to %T", target)
}

func (r *renderer) execFor(n *forNode, sc *scope, out *strings.Builder) error {
	iterable, err := r.eval(n.iter, sc)
	if err != nil {
		return atPos(n.pos, err)
	}
	return r.loop(n, iterable, sc, out, 1)
}

func (r *renderer) loop(n *forNode, iterable any, sc *scope, out *strings.Builder, depth int) error {
	items, err := iterate(iterable)
	if err != nil {
		return atPos(n.pos, err)
	}
	if n.filter != nil {
		kept := make([]any, 0, len(items))
		for _, it := range items {
			fs := newScope(sc)
			if err := assign(n.target, it, fs); err != nil {
				return atPos(n.pos, err)
			}
			ok, err := r.eval(n.filter, fs)
			if err != nil {
				return atPos(n.pos, err)
			}
			if truthy(ok) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	// jinja2 clears its "no iteration" flag at the end of the loop body, so
	// the else branch also runs when every iteration ended in continue or
	// the first one in break.
	completed := false
	info := &loopInfo{items: items, depth: depth}
	if n.recursive {
		info.recurse = func(sub any) (string, error) {
			if r.depth >= maxCallDepth {
				return "", fmt.Errorf("maximum recursion depth exceeded in recursive loop")
			}
			r.depth++
			defer func() { r.depth-- }()
			var b strings.Builder
			err := r.loop(n, sub, sc, &b, depth+1)
			return b.String(), err
		}
	}
	for i, it := range items {
		if err := r.step(); err != nil {
			return atPos(n.pos, err)
		}
		info.i = i
		is := newScope(sc)
		is.set("loop", info)
		if err := assign(n.target, it, is); err != nil {
			return atPos(n.pos, err)
		}
		c, err := r.execBody(n.body, is, out)
		if err != nil {
			return err
		}
		if c == ctrlBreak {
			break
		}
		if c == ctrlNone {
			completed = true
		}
	}
	if !completed {
		_, err := r.execBody(n.els, sc, out)
		return err
	}
	return nil
}
