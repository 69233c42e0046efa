package jinja

// Markup is a string marked safe by the safe or escape filters, like
// markupsafe.Markup. Autoescaping is off in chat templates, so it matters
// only where Python's Markup differs from str: "+" and "%" escape the plain
// strings mixed into it. Everywhere else it behaves as a plain string.
type Markup string

// plain turns Markup into an ordinary string so the rest of the
// interpreter only deals with string.
func plain(v any) any {
	if m, ok := v.(Markup); ok {
		return string(m)
	}
	return v
}

// escapeFor is markupsafe.escape: Markup passes through, anything else is
// converted to a string and HTML-escaped.
func escapeFor(v any) Markup {
	if m, ok := v.(Markup); ok {
		return m
	}
	return Markup(htmlEscape(toStr(v)))
}

// markupOp handles "+" and "%" when an operand is Markup; ok is false when
// Markup plays no part.
func markupOp(op string, a, b any) (v any, ok bool, err error) {
	ma, aIsM := a.(Markup)
	_, bIsM := b.(Markup)
	if !aIsM && !bIsM {
		return nil, false, nil
	}
	switch op {
	case "+":
		_, aStr := a.(string)
		_, bStr := b.(string)
		if (aIsM || aStr) && (bIsM || bStr) {
			return escapeFor(a) + escapeFor(b), true, nil
		}
	case "%":
		if aIsM {
			var args any
			switch x := b.(type) {
			case *List:
				if x.Tuple {
					items := make([]any, len(x.Items))
					for i, it := range x.Items {
						items[i] = escapeFor(it)
					}
					args = &List{Items: items, Tuple: true}
				} else {
					args = escapeFor(x)
				}
			default:
				args = escapeFor(plain(b))
			}
			s, err := percentFormat(string(ma), args)
			if err != nil {
				return nil, true, err
			}
			return Markup(s.(string)), true, nil
		}
	}
	return nil, false, nil
}
