package toolformat

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// argsCheck follows a call's arguments, a JSON object, as they stream and
// says how much of them may be sent. Clients concatenate the fragments and
// json.loads the result, and a fragment once sent cannot be taken back;
// so what is sent is always a beginning of the object that closing
// brackets (and a quote) complete into valid JSON. When the model's JSON
// breaks, the call is closed right there (closing) and its arguments are
// the valid part. Held back are only what closers cannot complete: a key
// with its colon, a comma, a number or literal, an escape, the bytes of an
// unfinished character. They are short, so arguments still stream as the
// model writes them, and the check decides byte by byte, so however the
// text is split the fragments add up to the same object.
//
// Holding a whole call back until it is known valid would keep a long
// call (a file to write) from streaming at all; checking only its first
// byte would let a break later in it reach the client.
type argsCheck struct {
	st    argState
	stack []byte // the open '{' and '['
	inKey bool   // the string being read is a key
	hex   int    // \u digits still expected
	lit   int    // where the number or literal being read starts
	off   int    // bytes checked

	ready     int  // bytes that may be sent
	readyOpen int  // open brackets at ready
	readyStr  bool // ready is inside a string
	sent      int  // bytes sent
	// raw are the offsets of control characters written raw inside
	// strings, which JSON does not allow: they are sent escaped.
	raw []int
}

type argState int

const (
	argStart      argState = iota // the object's '{'
	argValue                      // a value
	argKeyOrEnd                   // a key or '}' (after '{')
	argValueOrEnd                 // a value or ']' (after '[')
	argKey                        // a key (after ',')
	argColon                      // ':' after a key
	argAfter                      // ',' or a closing bracket after a value
	argString                     // inside a string
	argEscape                     // after '\' in a string
	argHex                        // the digits of \u
	argLiteral                    // a number, true, false or null
)

// check continues over v, the arguments' text so far from their '{'.
// done: the object is v[:off]. bad: v breaks it at off.
func (c *argsCheck) check(v string, final bool) (isDone, bad bool) {
	from := c.off
	isDone, bad = c.resume(v, final)
	if scanHook != nil {
		scanHook(c.off - from)
	}
	return isDone, bad
}

func (c *argsCheck) resume(v string, final bool) (isDone, bad bool) {
	for ; c.off < len(v); c.off++ {
		isDone, bad = c.byte(v, v[c.off])
		if bad {
			return false, true
		}
		if isDone {
			c.off++
			c.safe(c.off, false)
			return true, false
		}
	}
	if c.st == argLiteral && final {
		return false, !c.endLiteral(v)
	}
	return false, false
}

// byte takes v[c.off].
func (c *argsCheck) byte(v string, b byte) (isDone, bad bool) {
	switch c.st {
	case argStart:
		if b != '{' {
			return false, true
		}
		c.open(b)
	case argValue, argValueOrEnd:
		switch {
		case isSpace(b):
		case b == ']' && c.st == argValueOrEnd:
			return c.close(), false
		case b == '{' || b == '[':
			c.open(b)
		case b == '"':
			c.st, c.inKey = argString, false
			c.safe(c.off+1, true)
		case b == '-' || b >= '0' && b <= '9' || b == 't' || b == 'f' || b == 'n':
			c.st, c.lit = argLiteral, c.off
		default:
			return false, true
		}
	case argKeyOrEnd, argKey:
		switch {
		case isSpace(b):
		case b == '}' && c.st == argKeyOrEnd:
			return c.close(), false
		case b == '"':
			c.st, c.inKey = argString, true
		default:
			return false, true
		}
	case argColon:
		switch {
		case isSpace(b):
		case b == ':':
			c.st = argValue
		default:
			return false, true
		}
	case argAfter:
		top := c.stack[len(c.stack)-1]
		switch {
		case isSpace(b):
		case b == ',' && top == '{':
			c.st = argKey
		case b == ',':
			c.st = argValue
		case b == '}' && top == '{' || b == ']' && top == '[':
			return c.close(), false
		default:
			return false, true
		}
	case argString:
		return false, c.stringByte(b)
	case argEscape:
		switch {
		case strings.IndexByte(`"\/bfnrt`, b) >= 0:
			c.st = argString
			c.safeInString(c.off + 1)
		case b == 'u':
			c.st, c.hex = argHex, 4
		default:
			return false, true
		}
	case argHex:
		if !isHex(b) {
			return false, true
		}
		if c.hex--; c.hex == 0 {
			c.st = argString
			c.safeInString(c.off + 1)
		}
	case argLiteral:
		if isLiteralByte(b) {
			return false, false
		}
		if !c.endLiteral(v) {
			return false, true
		}
		return c.byte(v, b) // the byte after it, in argAfter
	}
	return false, false
}

// stringByte takes a byte inside a string; true when it breaks the JSON.
func (c *argsCheck) stringByte(b byte) bool {
	switch {
	case b == '\\':
		c.st = argEscape
	case b == '"':
		if c.inKey {
			c.st = argColon
		} else {
			c.valueDone(c.off + 1)
		}
	default:
		if b < 0x20 {
			c.raw = append(c.raw, c.off)
		}
		if b < utf8.RuneSelf {
			c.safeInString(c.off + 1)
		} else if utf8.RuneStart(b) {
			c.safeInString(c.off) // before a character's first byte
		}
	}
	return false
}

// endLiteral checks the number or literal that ends at c.off.
func (c *argsCheck) endLiteral(v string) bool {
	tok := v[c.lit:c.off]
	var x any
	if json.Unmarshal([]byte(tok), &x) != nil {
		return false
	}
	c.valueDone(c.off)
	return true
}

func (c *argsCheck) open(b byte) {
	c.stack = append(c.stack, b)
	c.st = argKeyOrEnd
	if b == '[' {
		c.st = argValueOrEnd
	}
	c.safe(c.off+1, false)
}

// close ends the innermost object or array; true when it was the
// arguments themselves.
func (c *argsCheck) close() bool {
	c.stack = c.stack[:len(c.stack)-1]
	if len(c.stack) == 0 {
		return true
	}
	c.valueDone(c.off + 1)
	return false
}

func (c *argsCheck) valueDone(at int) {
	c.st = argAfter
	c.safe(at, false)
}

func (c *argsCheck) safeInString(at int) {
	if !c.inKey {
		c.safe(at, true)
	}
}

// safe marks v[:at] as sendable: closers complete it.
func (c *argsCheck) safe(at int, inString bool) {
	c.ready, c.readyOpen, c.readyStr = at, len(c.stack), inString
}

// take returns the arguments that may be sent now and were not yet.
func (c *argsCheck) take(v string) string {
	from := c.sent
	c.sent = max(c.sent, c.ready)
	if len(c.raw) == 0 || c.raw[0] >= c.sent {
		return v[from:c.sent]
	}
	var b strings.Builder
	for len(c.raw) > 0 && c.raw[0] < c.sent {
		i := c.raw[0]
		b.WriteString(v[from:i])
		esc, _ := json.Marshal(v[i : i+1]) // "\n", "\u0001", …
		b.Write(esc[1 : len(esc)-1])
		from, c.raw = i+1, c.raw[1:]
	}
	b.WriteString(v[from:c.sent])
	return b.String()
}

// closing is what completes the arguments sent so far when the JSON broke
// after them: "{}" when nothing was sent.
func (c *argsCheck) closing() string {
	if c.sent == 0 {
		return "{}"
	}
	var b strings.Builder
	if c.readyStr {
		b.WriteByte('"')
	}
	for i := c.readyOpen - 1; i >= 0; i-- {
		if c.stack[i] == '{' {
			b.WriteByte('}')
		} else {
			b.WriteByte(']')
		}
	}
	return b.String()
}

// objectArgs is arguments given whole as text (written as a JSON string,
// or before the name): the valid part of them as an object, "{}" when
// they are none.
func objectArgs(text string) string {
	text = strings.TrimSpace(text)
	var c argsCheck
	isDone, _ := c.check(text, true)
	frag := c.take(text)
	if isDone {
		return frag
	}
	return frag + c.closing()
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func isHex(b byte) bool { return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' }
