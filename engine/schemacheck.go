package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on JSON schemas a request may bring (response_format, the
// parameters of forced tools). llama.cpp's converter
// (common/json-schema-to-grammar.cpp) trusts its input; the figures below
// were measured with its build in the pinned ollama module, one core:
//
//   - It sanitises rule names with std::regex "[^a-zA-Z0-9-]+", which
//     recurses once per character of a run: a 30,000-character property
//     name or $ref crashes the process (10,000 do not). Its _not_strings
//     (for additionalProperties) recurses once per character of a property
//     name too.
//   - It recurses once per schema level, following $ref: a chain of 3,000
//     objects linked by $ref crashes it, 1,000 took 1.1 s.
//   - For an object with k optional properties it builds k suffix lists of
//     the property list (O(k^3) string copies, O(k^2) rules): k=128 took
//     18 ms (61 ms with 200-byte names), 256: 190 ms, 1,000: 4.1 s, 2,000:
//     17 s, in one cgo call nothing can cancel.
//   - It copies the whole schema for every distinct $ref (1,000 refs in a
//     150 kB schema: 5 s), copies a schema once per entry of a "type" array
//     and inlines allOf's $ref targets at every use: both double per level
//     (18 levels: 8-11 s).
//   - nlohmann's ordered_json looks keys up linearly, so parsing an object
//     with n keys is O(n^2): 10,000 properties took 0.43 s, 100,000 more
//     than 20 s.
//
// maxSchemaWork bounds the converter's work as estimated by schemaWalk, in
// units of about a microsecond: visitWork per schema visited (10-25 us
// measured, with its rules and their names), one per JSON value copied
// (0.5 us), per optional property pair (1 us with short names) and per
// byte of names run through std::regex. At the limit the slowest shapes
// measured take about 0.25 s.
const (
	maxSchemaName        = 1 << 10 // property names, $defs keys, $ref, format
	maxSchemaText        = 4 << 10 // pattern, enum and const strings
	maxSchemaKeys        = 1000    // keys of one JSON object
	maxSchemaOptional    = 128     // optional properties of one object
	maxSchemaVisitDepth  = 128     // nested schemas, following $ref
	maxPatternGroupDepth = 64
	maxSchemaWork        = 250_000
	visitWork            = 20
	// maxSchemaGrammarBytes is the largest grammar accepted from the
	// converter, the size checkGrammar allows for any grammar.
	maxSchemaGrammarBytes = 256 << 10
)

// schemaNode is a decoded JSON value that keeps the order of object keys
// (the converter visits properties in order) and numbers as written.
type schemaNode struct {
	kind  byte // 'o'bject, 'a'rray, 's'tring, 'n'umber, 'b'ool, 'z' null
	str   string
	num   json.Number
	keys  []string
	vals  []*schemaNode
	items []*schemaNode
}

func (n *schemaNode) get(key string) *schemaNode {
	if n == nil || n.kind != 'o' {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *schemaNode) has(key string) bool { return n.get(key) != nil }

// size is the number of JSON values in n, what copying n costs.
func (n *schemaNode) size() uint64 {
	s := uint64(1)
	for _, v := range n.vals {
		s += v.size()
	}
	for _, v := range n.items {
		s += v.size()
	}
	return s
}

// decodeSchema parses schema into a tree, refusing duplicate keys (the
// converter and Go could disagree on which one counts), objects with more
// than maxSchemaKeys keys and over-long keys.
func decodeSchema(schema []byte) (*schemaNode, error) {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	return decodeValue(dec, 0)
}

func decodeValue(dec *json.Decoder, depth int) (*schemaNode, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("the JSON schema nests more than %d levels deep", maxSchemaDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("the JSON schema is not valid JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			n := &schemaNode{kind: 'a'}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
			_, err := dec.Token()
			return n, err
		}
		return decodeObject(dec, depth)
	case string:
		return &schemaNode{kind: 's', str: t}, nil
	case json.Number:
		return &schemaNode{kind: 'n', num: t}, nil
	case bool:
		return &schemaNode{kind: 'b', str: fmt.Sprint(t)}, nil
	default:
		return &schemaNode{kind: 'z'}, nil
	}
}

func decodeObject(dec *json.Decoder, depth int) (*schemaNode, error) {
	n := &schemaNode{kind: 'o'}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("the JSON schema is not valid JSON: %w", err)
		}
		key, _ := tok.(string)
		if len(key) > maxSchemaName {
			return nil, fmt.Errorf("the JSON schema has a %d-byte key %q...; at most %d bytes are allowed", len(key), key[:32], maxSchemaName)
		}
		if seen[key] {
			return nil, fmt.Errorf("the JSON schema repeats the key %q in one object", key)
		}
		if len(n.keys) == maxSchemaKeys {
			return nil, fmt.Errorf("the JSON schema has an object with more than %d keys", maxSchemaKeys)
		}
		seen[key] = true
		v, err := decodeValue(dec, depth+1)
		if err != nil {
			return nil, err
		}
		n.keys, n.vals = append(n.keys, key), append(n.vals, v)
	}
	_, err := dec.Token()
	return n, err
}

// checkSchema refuses schemas that would crash llama.cpp's converter or
// cost it more than maxSchemaWork. It follows the converter's own walk
// (json-schema-to-grammar.cpp: resolve_refs, then visit), so that it
// checks what the converter will read and counts what it will repeat.
func checkSchema(schema []byte) error {
	root, err := decodeSchema(schema)
	if err != nil {
		return err
	}
	w := &schemaWalk{root: root, refs: map[string]*schemaNode{}, done: map[string]bool{}, busy: map[string]bool{}}
	if err := w.spend(uint64(len(schema)) / 16); err != nil { // parsing
		return err
	}
	if err := w.resolveRefs(root); err != nil {
		return err
	}
	return w.visit(root, nil, 0, 0)
}

type schemaWalk struct {
	root *schemaNode
	refs map[string]*schemaNode // $ref -> target, as resolve_refs finds them
	done map[string]bool        // refs whose rule the converter has built
	busy map[string]bool        // refs being visited (the converter's cycle guard)
	work uint64
}

func (w *schemaWalk) spend(units uint64) error {
	w.work = satAdd(w.work, units)
	if w.work > maxSchemaWork {
		return errors.New("the JSON schema is too large or too repetitive to turn into a grammar (nested type lists, allOf, $ref and optional properties multiply)")
	}
	return nil
}

// resolveRefs mirrors the converter's resolve_refs: it walks every value,
// stops at an object with "$ref", and resolves each distinct local ref,
// copying the whole schema for each.
func (w *schemaWalk) resolveRefs(n *schemaNode) error {
	for _, v := range n.items {
		if err := w.resolveRefs(v); err != nil {
			return err
		}
	}
	if n.kind != 'o' {
		return nil
	}
	ref := n.get("$ref")
	if ref == nil {
		for _, v := range n.vals {
			if err := w.resolveRefs(v); err != nil {
				return err
			}
		}
		return nil
	}
	if ref.kind != 's' {
		return errors.New("the JSON schema has a $ref that is not a string")
	}
	if _, ok := w.refs[ref.str]; ok {
		return nil
	}
	if err := w.spend(w.root.size()); err != nil {
		return err
	}
	target, err := w.lookup(ref.str)
	if err != nil {
		return err
	}
	w.refs[ref.str] = target
	return nil
}

// lookup finds a local ref ("#/a/b") the way the converter does: plain
// keys (no ~0 ~1 escapes) and decimal array indexes.
func (w *schemaWalk) lookup(ref string) (*schemaNode, error) {
	if len(ref) > maxSchemaName {
		return nil, fmt.Errorf("the JSON schema has a %d-byte $ref; at most %d bytes are allowed", len(ref), maxSchemaName)
	}
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("the JSON schema's $ref %q is not supported: only local references (#/...) are", ref)
	}
	target := w.root
	for _, sel := range strings.Split(ref, "/")[1:] {
		var next *schemaNode
		switch target.kind {
		case 'o':
			next = target.get(sel)
		case 'a':
			var i int
			if _, err := fmt.Sscanf(sel, "%d", &i); err == nil && fmt.Sprint(i) == sel && i < len(target.items) {
				next = target.items[i]
			}
		}
		if next == nil {
			return nil, fmt.Errorf("the JSON schema's $ref %q points to nothing", ref)
		}
		target = next
	}
	return target, nil
}

// visit mirrors the converter's visit(): the same branches in the same
// order. typ, when not nil, replaces n's "type" (the converter copies a
// schema once per entry of a "type" array). nameLen is the length of the
// rule name the converter builds, which it runs through std::regex.
func (w *schemaWalk) visit(n, typ *schemaNode, nameLen, depth int) error {
	if depth > maxSchemaVisitDepth {
		return fmt.Errorf("the JSON schema nests more than %d schemas deep (counting $ref)", maxSchemaVisitDepth)
	}
	if err := w.spend(visitWork + uint64(nameLen)/64); err != nil {
		return err
	}
	if n.kind != 'o' {
		return nil // the converter reports it as an unrecognized schema
	}
	if typ == nil {
		typ = n.get("type")
	}
	if f := n.get("format"); f != nil && len(f.str) > maxSchemaName {
		return fmt.Errorf("the JSON schema has a %d-byte format; at most %d bytes are allowed", len(f.str), maxSchemaName)
	}
	isType := func(names ...string) bool {
		if typ == nil {
			return true
		}
		for _, s := range names {
			if typ.kind == 's' && typ.str == s {
				return true
			}
		}
		return false
	}
	switch {
	case n.has("$ref"):
		return w.visitRef(n.get("$ref").str, depth)
	case n.has("oneOf") || n.has("anyOf"):
		alts := n.get("oneOf")
		if alts == nil {
			alts = n.get("anyOf")
		}
		for _, a := range alts.items {
			if err := w.visit(a, nil, nameLen+4, depth+1); err != nil {
				return err
			}
		}
	case typ.kindIs('a'):
		for _, t := range typ.items {
			if err := w.spend(n.size()); err != nil {
				return err
			}
			if err := w.visit(n, t, nameLen+4, depth+1); err != nil {
				return err
			}
		}
	case n.has("const"):
		return w.literal(n.get("const"), "const")
	case n.has("enum"):
		return w.literal(n.get("enum"), "enum")
	case isType("object") && (n.has("properties") || n.has("additionalProperties") && !n.get("additionalProperties").isTrue()):
		return w.visitObject(n, nameLen, depth)
	case isType("object", "string") && n.has("allOf"):
		return w.visitAllOf(n, nameLen, depth)
	case isType("array") && (n.has("items") || n.has("prefixItems")):
		return w.visitArray(n, nameLen, depth)
	case isType("string") && n.has("pattern"):
		p := n.get("pattern")
		if p.kind != 's' {
			return nil // the converter refuses it
		}
		return checkSchemaPattern(p.str)
	}
	return nil
}

func (n *schemaNode) kindIs(k byte) bool { return n != nil && n.kind == k }

func (n *schemaNode) isTrue() bool { return n.kind == 'b' && n.str == "true" }

// visitRef mirrors _resolve_ref: a ref's schema is visited once; a ref met
// again while being visited is left as a reference (no recursion).
func (w *schemaWalk) visitRef(ref string, depth int) error {
	if w.done[ref] || w.busy[ref] {
		return nil
	}
	target := w.refs[ref]
	if target == nil {
		return nil // not found by resolve_refs: the converter visits null
	}
	w.busy[ref] = true
	err := w.visit(target, nil, 3+len(ref), depth+1)
	delete(w.busy, ref)
	w.done[ref] = true
	return err
}

func (w *schemaWalk) visitObject(n *schemaNode, nameLen, depth int) error {
	var names []string
	var schemas []*schemaNode
	if props := n.get("properties"); props.kindIs('o') {
		names, schemas = props.keys, props.vals
	}
	required := map[string]bool{}
	if req := n.get("required"); req.kindIs('a') {
		for _, r := range req.items {
			if r.kind == 's' {
				required[r.str] = true
			}
		}
	}
	optional := 0
	for _, name := range names {
		if !required[name] {
			optional++
		}
	}
	if ap := n.get("additionalProperties"); ap != nil && (ap.kind == 'o' || ap.isTrue()) {
		optional++
		// _not_strings builds a trie of the property names.
		for _, name := range names {
			if err := w.spend(uint64(len(name))); err != nil {
				return err
			}
		}
		if ap.kind == 'o' {
			if err := w.visit(ap, nil, nameLen+17, depth+1); err != nil {
				return err
			}
		}
	}
	return w.buildObject(names, schemas, optional, nameLen, depth)
}

// buildObject accounts for _build_object_rule: each property is visited
// under the name parent-property, and optional properties cost a rule
// per pair.
func (w *schemaWalk) buildObject(names []string, schemas []*schemaNode, optional, nameLen, depth int) error {
	if optional > maxSchemaOptional {
		return fmt.Errorf("the JSON schema has an object with %d optional properties; at most %d are allowed (list the others in \"required\")", optional, maxSchemaOptional)
	}
	longest := 0
	for i, name := range names {
		longest = max(longest, len(name))
		if err := w.visit(schemas[i], nil, nameLen+1+len(name), depth+1); err != nil {
			return err
		}
	}
	k := uint64(optional)
	return w.spend(k * k * (1 + uint64(nameLen+longest)/64))
}

// visitAllOf mirrors the converter's allOf: the properties of every
// component (of anyOf inside a component too) are gathered, following
// $ref chains, and visited in place, at every use of the schema.
func (w *schemaWalk) visitAllOf(n *schemaNode, nameLen, depth int) error {
	var names []string
	var schemas []*schemaNode
	required := map[string]bool{}
	var add func(c *schemaNode, req bool, seen map[string]bool) error
	add = func(c *schemaNode, req bool, seen map[string]bool) error {
		if c.kind != 'o' {
			return nil
		}
		if ref := c.get("$ref"); ref != nil {
			if seen[ref.str] {
				return fmt.Errorf("the JSON schema's allOf follows the $ref %q in a cycle", ref.str)
			}
			seen[ref.str] = true
			return add(w.refs[ref.str].orNull(), req, seen)
		}
		if props := c.get("properties"); props.kindIs('o') {
			for i, k := range props.keys {
				names, schemas = append(names, k), append(schemas, props.vals[i])
				required[k] = required[k] || req
			}
			return nil
		}
		if e := c.get("enum"); e != nil {
			return w.literal(e, "enum")
		}
		return nil
	}
	if all := n.get("allOf"); all.kindIs('a') {
		for _, t := range all.items {
			if alts := t.get("anyOf"); alts.kindIs('a') {
				for _, tt := range alts.items {
					if err := add(tt, false, map[string]bool{}); err != nil {
						return err
					}
				}
			} else if err := add(t, true, map[string]bool{}); err != nil {
				return err
			}
		}
	}
	optional := 0
	for _, name := range names {
		if !required[name] {
			optional++
		}
	}
	return w.buildObject(names, schemas, optional, nameLen, depth)
}

func (n *schemaNode) orNull() *schemaNode {
	if n == nil {
		return &schemaNode{kind: 'z'}
	}
	return n
}

func (w *schemaWalk) visitArray(n *schemaNode, nameLen, depth int) error {
	items := n.get("items")
	if items == nil {
		items = n.get("prefixItems")
	}
	if items.kind == 'a' {
		for _, it := range items.items {
			if err := w.visit(it, nil, nameLen+10, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return w.visit(items, nil, nameLen+5, depth+1)
}

// literal bounds the strings of a const or enum value and counts them:
// the converter escapes them with std::regex (1 MB of quotes: 0.6 s).
func (w *schemaWalk) literal(v *schemaNode, what string) error {
	if v.kind == 's' && len(v.str) > maxSchemaText {
		return fmt.Errorf("the JSON schema has a %d-byte %s string; at most %d bytes are allowed", len(v.str), what, maxSchemaText)
	}
	if err := w.spend(1 + uint64(len(v.str)+len(v.num))/2); err != nil {
		return err
	}
	for _, c := range append(v.vals, v.items...) {
		if err := w.literal(c, what); err != nil {
			return err
		}
	}
	return nil
}

// checkSchemaPattern refuses the patterns that llama.cpp's _visit_pattern
// cannot take. It reads a pattern the way that function does: a quantifier
// (*, +, ?, {m,n}) with nothing before it in its group, as in "^*$" or
// "(?:...)", makes it call back() on an empty vector (a crash); a "]" or
// "}" outside brackets makes it loop forever; it recurses once per "(";
// and an unbalanced ")" makes it drop the rest of the pattern silently.
func checkSchemaPattern(p string) error {
	if len(p) > maxSchemaText {
		return fmt.Errorf("the JSON schema has a %d-byte pattern; at most %d bytes are allowed", len(p), maxSchemaText)
	}
	if len(p) < 2 || p[0] != '^' || p[len(p)-1] != '$' {
		return fmt.Errorf("the JSON schema's pattern %q must start with ^ and end with $", p)
	}
	bad := func(i int, why string) error {
		return fmt.Errorf("the JSON schema's pattern %q is not supported: %s at offset %d", p, why, i+1)
	}
	sub := p[1 : len(p)-1]
	depth, quantifiable := 0, false
	for i := 0; i < len(sub); i++ {
		switch c := sub[i]; c {
		case '(':
			if depth++; depth > maxPatternGroupDepth {
				return bad(i, fmt.Sprintf("groups nest more than %d deep", maxPatternGroupDepth))
			}
			if i+1 < len(sub) && sub[i+1] == '?' {
				return bad(i, "(?...) groups are not supported")
			}
			quantifiable = false
		case ')':
			if depth == 0 {
				return bad(i, "unbalanced )")
			}
			depth--
			quantifiable = true
		case '|':
			quantifiable = false
		case '*', '+', '?', '{':
			if !quantifiable {
				return bad(i, fmt.Sprintf("%q has nothing to repeat", c))
			}
			if c == '{' {
				end := strings.IndexByte(sub[i:], '}')
				if end < 0 {
					return bad(i, "unbalanced {")
				}
				if err := checkPatternBounds(sub[i+1 : i+end]); err != nil {
					return bad(i, err.Error())
				}
				i += end
			}
		case '[':
			end := i + 1
			for end < len(sub) && sub[end] != ']' {
				if sub[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(sub) {
				return bad(i, "unbalanced [")
			}
			i, quantifiable = end, true
		case ']', '}':
			return bad(i, fmt.Sprintf("unescaped %q", c))
		case '\\':
			if i+1 == len(sub) {
				return bad(i, "it ends with a backslash")
			}
			i++
			quantifiable = true
		default:
			quantifiable = true
		}
	}
	if depth != 0 {
		return bad(len(sub), "unbalanced (")
	}
	return nil
}

// checkPatternBounds accepts the bodies of {m}, {m,}, {,n} and {m,n} with
// m <= n; the converter would turn anything else into a broken grammar.
func checkPatternBounds(body string) error {
	lo, hi, comma := strings.Cut(body, ",")
	m, okm := patternBound(lo, comma)
	n, okn := patternBound(hi, comma)
	if !comma {
		okn = true
	}
	if !okm || !okn {
		return fmt.Errorf("{%s} is not a repetition count", body)
	}
	if hi != "" && m > n {
		return fmt.Errorf("{%s} has its minimum above its maximum", body)
	}
	return nil
}

// patternBound parses one bound of {m,n}: digits, at most 9 of them (the
// converter reads them with std::stoi), or empty where a comma allows it.
func patternBound(s string, comma bool) (int, bool) {
	if s == "" {
		return 0, comma
	}
	if len(s) > 9 {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
