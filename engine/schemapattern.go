package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// llama.cpp's schema converter copies a pattern's escapes into the grammar
// as they are, and GBNF has no \d, \w or \s: "^\d{3}$" became a grammar
// llama.cpp refuses ("unknown escape \d"), so every schema with one of the
// commonest patterns (a phone number, a postcode) was a 400. The converter
// also applies a quantifier after an escape to the whole literal before it
// ("-\d{4}" repeated "-\d"). Written as bracket classes, which it copies
// whole and repeats alone, both are right.
var (
	// patternClasses are the class escapes as the members of a bracket
	// class, in GBNF's escapes (which has no \f or \v).
	patternClasses = map[byte]string{'d': `0-9`, 'w': `a-zA-Z0-9_`, 's': ` \t\n\r\x0B\x0C`}
	// negatedClasses are \D, \W and \S: the class of patternClasses negated.
	negatedClasses = map[byte]byte{'D': 'd', 'W': 'w', 'S': 's'}
)

// expandPatternClasses rewrites \d, \w, \s (and \D, \W, \S outside
// brackets) in a pattern as bracket classes.
func expandPatternClasses(p string) (string, error) {
	if !strings.Contains(p, `\`) {
		return p, nil
	}
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			n := p[i]
			if set, ok := patternClasses[n]; ok {
				if inClass {
					b.WriteString(set)
				} else {
					b.WriteString("[" + set + "]")
				}
				continue
			}
			if pos, ok := negatedClasses[n]; ok {
				if inClass {
					return "", fmt.Errorf(`the JSON schema's pattern %q is not supported: \%c inside [...]`, p, n)
				}
				b.WriteString("[^" + patternClasses[pos] + "]")
				continue
			}
			b.WriteByte(c)
			b.WriteByte(n)
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// rewritePatterns returns schema with every "pattern" of a subschema
// rewritten by expandPatternClasses, the rest of its text as it was (the
// converter follows the order of properties, so the schema is spliced, not
// re-encoded). Only subschemas are read for patterns: the values of
// const, enum, default and examples are data (an object there may have a
// "pattern" member of its own), and the keys of properties, $defs and the
// like are names (a property may be called "pattern").
func rewritePatterns(schema []byte) ([]byte, error) {
	if !bytes.Contains(schema, []byte(`\\`)) {
		return schema, nil
	}
	r := patternRewriter{src: schema, dec: json.NewDecoder(bytes.NewReader(schema))}
	tok, err := r.dec.Token()
	if err == nil {
		err = r.value(tok, kindSchema)
	}
	if err != nil {
		return nil, fmt.Errorf("the JSON schema: %w", err)
	}
	if len(r.splices) == 0 {
		return schema, nil
	}
	var out bytes.Buffer
	last := int64(0)
	for _, sp := range r.splices {
		out.Write(schema[last:sp.from])
		out.Write(sp.text)
		last = sp.to
	}
	out.Write(schema[last:])
	return out.Bytes(), nil
}

// What a JSON value in a schema is.
const (
	kindSchema = iota // a subschema, or an array of them
	kindNames         // an object of subschemas by name (properties, $defs)
	kindData          // an instance value (const, enum, default, examples)
)

type patternRewriter struct {
	src     []byte
	dec     *json.Decoder
	splices []struct {
		from, to int64
		text     []byte
	}
}

// value reads the rest of the value that tok begins, of the given kind.
func (r *patternRewriter) value(tok json.Token, kind int) error {
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	for r.dec.More() {
		member := kind
		if delim == '{' {
			keyTok, err := r.dec.Token()
			if err != nil {
				return err
			}
			key, _ := keyTok.(string)
			member = memberKind(kind, key)
			before := r.dec.InputOffset()
			tok, err := r.dec.Token()
			if err != nil {
				return err
			}
			if s, isString := tok.(string); isString && kind == kindSchema && key == "pattern" {
				if err := r.rewrite(s, before); err != nil {
					return err
				}
				continue
			}
			if err := r.value(tok, member); err != nil {
				return err
			}
			continue
		}
		tok, err := r.dec.Token()
		if err != nil {
			return err
		}
		if err := r.value(tok, member); err != nil {
			return err
		}
	}
	_, err := r.dec.Token() // the closing delimiter
	return err
}

// memberKind is the kind of the member key of a value of the given kind.
func memberKind(kind int, key string) int {
	switch {
	case kind == kindData:
		return kindData
	case kind == kindNames:
		return kindSchema
	}
	switch key {
	case "const", "enum", "default", "examples":
		return kindData
	case "properties", "patternProperties", "$defs", "definitions", "dependentSchemas":
		return kindNames
	}
	return kindSchema
}

// rewrite splices the expanded pattern s over the string value that starts
// after offset before.
func (r *patternRewriter) rewrite(s string, before int64) error {
	expanded, err := expandPatternClasses(s)
	if err != nil || expanded == s {
		return err
	}
	var text bytes.Buffer
	enc := json.NewEncoder(&text)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(expanded); err != nil {
		return err
	}
	from := before + int64(bytes.IndexByte(r.src[before:], '"'))
	r.splices = append(r.splices, struct {
		from, to int64
		text     []byte
	}{from, r.dec.InputOffset(), bytes.TrimRight(text.Bytes(), "\n")})
	return nil
}
