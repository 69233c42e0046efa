package jinja

// scope is one level of variable bindings. Like jinja2, a for loop body and
// a macro call get fresh scopes, while if blocks share their parent's, so
// "set" inside a loop does not leak out of it (namespace() exists for that).
type scope struct {
	vars   map[string]any
	parent *scope
}

func newScope(parent *scope) *scope {
	return &scope{vars: make(map[string]any, 4), parent: parent}
}

func (s *scope) lookup(name string) (any, bool) {
	for c := s; c != nil; c = c.parent {
		if v, ok := c.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

func (s *scope) set(name string, v any) { s.vars[name] = v }
