package jinja

// scope is one level of variable bindings. Like jinja2, a for loop body and
// a macro call get fresh scopes, while if blocks share their parent's, so
// "set" inside a loop does not leak out of it (namespace() exists for that).
//
// Scopes hold a handful of names, so a slice scanned linearly beats a map,
// and the first bindings live inside the scope itself: a loop iteration's
// scope ("loop" and the target) costs one allocation.
type scope struct {
	vars   []binding
	inline [2]binding
	parent *scope
}

type binding struct {
	name string
	val  any
}

func newScope(parent *scope) *scope {
	s := &scope{parent: parent}
	s.vars = s.inline[:0]
	return s
}

func (s *scope) lookup(name string) (any, bool) {
	for c := s; c != nil; c = c.parent {
		if v, ok := c.local(name); ok {
			return v, true
		}
	}
	return nil, false
}

// local looks name up in this scope only.
func (s *scope) local(name string) (any, bool) {
	for i := range s.vars {
		if s.vars[i].name == name {
			return s.vars[i].val, true
		}
	}
	return nil, false
}

func (s *scope) set(name string, v any) {
	for i := range s.vars {
		if s.vars[i].name == name {
			s.vars[i].val = v
			return
		}
	}
	s.vars = append(s.vars, binding{name, v})
}
