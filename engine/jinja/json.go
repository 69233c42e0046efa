package jinja

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonOptions mirrors the json.dumps arguments transformers' tojson passes.
type jsonOptions struct {
	ensureASCII bool
	indent      *string // nil: single line
	itemSep     string
	keySep      string
	sortKeys    bool
}

// fToJSON is transformers' tojson filter:
// json.dumps(x, ensure_ascii=False, indent=indent, separators=separators,
// sort_keys=sort_keys). Positional arguments follow that signature.
func fToJSON(_ *renderer, v any, args []any, kw map[string]any) (any, error) {
	opts := jsonOptions{
		ensureASCII: truthy(argAt(args, kw, 0, "ensure_ascii", false)),
		sortKeys:    truthy(argAt(args, kw, 3, "sort_keys", false)),
		itemSep:     ", ",
		keySep:      ": ",
	}
	switch ind := argAt(args, kw, 1, "indent", nil).(type) {
	case nil:
	case string:
		opts.indent = &ind
	default:
		n, ok := asInt(ind)
		if !ok {
			return nil, fmt.Errorf("tojson indent must be an integer or string, not %s", typeName(ind))
		}
		s := strings.Repeat(" ", int(min(max(n, 0), 1000)))
		opts.indent = &s
		opts.itemSep = ","
	}
	if sep := argAt(args, kw, 2, "separators", nil); sep != nil {
		l, ok := sep.(*List)
		if !ok || len(l.Items) != 2 {
			return nil, fmt.Errorf("tojson separators must be a pair of strings")
		}
		opts.itemSep, opts.keySep = toStr(l.Items[0]), toStr(l.Items[1])
	}
	var b strings.Builder
	if err := writeJSON(&b, v, &opts, 0); err != nil {
		return nil, err
	}
	return b.String(), nil
}

// ToJSON renders v as Python's json.dumps(v, ensure_ascii=False) would.
func ToJSON(v any) (string, error) {
	var b strings.Builder
	err := writeJSON(&b, v, &jsonOptions{itemSep: ", ", keySep: ": "}, 0)
	return b.String(), err
}

func (o *jsonOptions) newline(b *strings.Builder, level int) {
	if o.indent == nil {
		return
	}
	b.WriteByte('\n')
	for i := 0; i < level; i++ {
		b.WriteString(*o.indent)
	}
}

func jsonKey(k any) (string, error) {
	switch x := k.(type) {
	case string:
		return x, nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	case nil:
		return "null", nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case bigInt:
		return x.dec, nil
	case float64:
		return jsonFloat(x), nil
	}
	return "", fmt.Errorf("keys must be str, int, float, bool or None, not %s", typeName(k))
}

func jsonFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	return formatFloat(f)
}

func writeJSON(b *strings.Builder, v any, o *jsonOptions, level int) error {
	v = plain(v)
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case bigInt:
		b.WriteString(x.dec)
	case float64:
		b.WriteString(jsonFloat(x))
	case string:
		writeJSONString(b, x, o.ensureASCII)
	case *List:
		if len(x.Items) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, it := range x.Items {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			o.newline(b, level+1)
			if err := writeJSON(b, it, o, level+1); err != nil {
				return err
			}
		}
		o.newline(b, level)
		b.WriteByte(']')
	case *Dict:
		if x.Len() == 0 {
			b.WriteString("{}")
			return nil
		}
		type kv struct {
			k string
			v any
		}
		pairs := make([]kv, x.Len())
		for i, k := range x.keys {
			ks, err := jsonKey(k)
			if err != nil {
				return err
			}
			pairs[i] = kv{ks, x.vals[i]}
		}
		if o.sortKeys {
			sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
		}
		b.WriteByte('{')
		for i, p := range pairs {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			o.newline(b, level+1)
			writeJSONString(b, p.k, o.ensureASCII)
			b.WriteString(o.keySep)
			if err := writeJSON(b, p.v, o, level+1); err != nil {
				return err
			}
		}
		o.newline(b, level)
		b.WriteByte('}')
	default:
		return fmt.Errorf("Object of type %s is not JSON serializable", typeName(v))
	}
	return nil
}

func writeJSONString(b *strings.Builder, s string, ensureASCII bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (ensureASCII && r >= 0x7f):
				if r > 0xffff {
					r -= 0x10000
					fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
				} else {
					fmt.Fprintf(b, `\u%04x`, r)
				}
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// DecodeJSON parses JSON into template values, keeping the key order of
// objects (*Dict) as Python's json.loads does. Integers become int64, or
// bigInt outside int64's range (Python keeps them exact), and numbers with
// a fraction or exponent float64.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("decode json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decode json: trailing data after value")
	}
	return v, nil
}

// MaxJSONDepth bounds how deep DecodeJSON nests objects and arrays. What it
// decodes comes from requests (tools, tool-call arguments, template
// kwargs) and templates print it recursively: a tool schema nested 9,000
// levels deep (18 KB) made Llama 3.3's tojson(indent=4) allocate 2.1 GB,
// memory growing with the square of the depth, and arguments sent as a
// 1 MB string nest 500,000 levels, half a gigabyte of goroutine stack in
// decoding and rendering. Python's json, which transformers uses, stops
// near 1,000 levels; real tool schemas nest tens.
const MaxJSONDepth = 512

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth++; depth > MaxJSONDepth {
			return nil, fmt.Errorf("nested more than %d levels deep", MaxJSONDepth)
		}
		switch t {
		case '{':
			d := NewDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec, depth)
				if err != nil {
					return nil, err
				}
				d.Set(k, v)
			}
			_, err := dec.Token()
			return d, err
		case '[':
			l := &List{Items: []any{}}
			for dec.More() {
				v, err := decodeValue(dec, depth)
				if err != nil {
					return nil, err
				}
				l.Items = append(l.Items, v)
			}
			_, err := dec.Token()
			return l, err
		}
		return nil, fmt.Errorf("unexpected delimiter %v", t)
	case json.Number:
		s := string(t)
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
			if n, ok := parseBigInt(s); ok {
				return n, nil
			}
			return nil, fmt.Errorf("integer of more than %d digits", maxIntDigits)
		}
		// A number beyond float64's range is infinity to Python's
		// json.loads (1e400 is inf), and tojson prints it back as
		// Infinity; only the non-JSON NaN and Infinity tokens, which
		// encoding/json cannot read, stay refused.
		return parseFloatLiteral(s)
	case string:
		if !utf8.ValidString(t) {
			return nil, fmt.Errorf("invalid UTF-8 in string")
		}
		return t, nil
	}
	return tok, nil // bool or nil
}
