package toolformat

import (
	"encoding/json"
	"slices"
	"strings"
)

// result is what a section (or a part of one) made of the text so far.
type result int

const (
	more    result = iota // needs more text
	done                  // complete; n bytes were its
	notCall               // not a tool call: the text is content after all
)

// section parses the markup that follows a marker. feed gets all the
// section's text so far (s starts right after the marker) and resumes
// where it stopped. It returns notCall only before it started a call; when
// final, more means "cut before any call began" and the text is dropped.
type section interface {
	feed(p *Parser, s string, final bool) (n int, r result)
}

// skipSpace returns the offset of the first non-space byte at or after i.
func skipSpace(s string, i int) int {
	for i < len(s) && strings.IndexByte(spaces, s[i]) >= 0 {
		i++
	}
	return i
}

// expect matches lit at s[i:]: ok with the offset after it, or partial when
// s ends with a beginning of lit.
func expect(s string, i int, lit string) (next int, ok, partial bool) {
	rest := s[i:]
	if strings.HasPrefix(rest, lit) {
		return i + len(lit), true, false
	}
	return i, false, strings.HasPrefix(lit, rest)
}

// valueScan finds where one JSON value ends, fed more text each time. It
// checks the nesting, not the grammar: callers validate the whole value.
type valueScan struct {
	kind    byte // '{' or '[' (composite), '"', or 'l' (number, true, false, null)
	depth   int
	inStr   bool
	esc     bool
	off     int // bytes of the value scanned
	started bool
}

// scanHook, set by tests, is told how many bytes each scan read: the
// parser's work must stay linear in its input however it is split.
var scanHook func(n int)

// scan continues over v, the value's text so far (from its first byte).
// done: the value is v[:off]. bad: v does not start a JSON value.
func (sc *valueScan) scan(v string, final bool) (isDone, bad bool) {
	from := sc.off
	isDone, bad = sc.resume(v, final)
	if scanHook != nil {
		scanHook(sc.off - from)
	}
	return isDone, bad
}

func (sc *valueScan) resume(v string, final bool) (isDone, bad bool) {
	if !sc.started {
		if v == "" {
			return false, false
		}
		switch c := v[0]; {
		case c == '{' || c == '[':
			sc.kind, sc.depth = '{', 1
		case c == '"':
			sc.kind, sc.inStr = '"', true
		case c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n':
			sc.kind = 'l'
		default:
			return false, true
		}
		sc.started, sc.off = true, 1
	}
	for ; sc.off < len(v); sc.off++ {
		c := v[sc.off]
		if sc.kind == 'l' {
			if !isLiteralByte(c) {
				return true, false
			}
			continue
		}
		if sc.inStr {
			switch {
			case sc.esc:
				sc.esc = false
			case c == '\\':
				sc.esc = true
			case c == '"':
				sc.inStr = false
				if sc.kind == '"' {
					sc.off++
					return true, false
				}
			}
			continue
		}
		switch c {
		case '"':
			sc.inStr = true
		case '{', '[':
			sc.depth++
		case '}', ']':
			sc.depth--
			if sc.depth == 0 {
				sc.off++
				return true, false
			}
		}
	}
	return final && sc.kind == 'l', false
}

func isLiteralByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '+' || c == '-'
}

// callObject parses one call written as a JSON object, such as
// {"name": "f", "arguments": {...}}. The call opens as soon as its name is
// known and an object-valued arguments member is streamed as it arrives.
type callObject struct {
	nameKeys, argsKeys []string
	// bare: the object stands alone in the answer (Llama 3), so it is a
	// call only with an arguments member and the name of an offered tool;
	// the call opens when that is certain.
	bare bool

	st       int
	off      int
	at       int // where the object's '{' is
	members  int
	key      string
	keyScan  valueScan
	val      valueScan
	valAt    int       // where the current value starts
	stream   bool      // the current value is streamed as arguments
	streamed bool      // the arguments were streamed
	check    argsCheck // the streamed arguments
	skip     valueScan // the rest of an object that broke after the call opened
	skipFrom int       // where the search for until resumes
	// until is the closing marker of the section the object is in, if
	// any: a broken object ends there at the latest.
	until   string
	name    string
	args    string
	hasArgs bool
	index   int
	opened  bool
}

const (
	objStart = iota
	objKey
	objColon
	objValueStart
	objValue
	objNext
	objSkip // the rest of a broken object, after its call opened
)

func newCallObject(nameKeys, argsKeys []string) *callObject {
	return &callObject{nameKeys: nameKeys, argsKeys: argsKeys}
}

// feed parses s (which starts at or before the object's '{').
func (o *callObject) feed(p *Parser, s string, final bool) (int, result) {
	for {
		switch o.st {
		case objStart:
			o.off = skipSpace(s, o.off)
			if o.off == len(s) {
				return o.cut(s, final)
			}
			if s[o.off] != '{' {
				return o.off, notCall
			}
			o.at = o.off
			o.off++
			o.st = objKey
		case objKey:
			o.off = skipSpace(s, o.off)
			if o.off == len(s) {
				return o.cut(s, final)
			}
			if s[o.off] == '}' && o.members == 0 {
				o.off++
				return o.end(p)
			}
			if s[o.off] != '"' {
				return o.stop(p, s, final)
			}
			// The key's scan resumes where the last Push left it, so a
			// long key is read once.
			isDone, _ := o.keyScan.scan(s[o.off:], final)
			if !isDone {
				return o.cut(s, final)
			}
			if err := json.Unmarshal([]byte(s[o.off:o.off+o.keyScan.off]), &o.key); err != nil {
				return o.stop(p, s, final)
			}
			o.off += o.keyScan.off
			o.keyScan = valueScan{}
			o.st = objColon
		case objColon:
			o.off = skipSpace(s, o.off)
			if o.off == len(s) {
				return o.cut(s, final)
			}
			if s[o.off] != ':' {
				return o.stop(p, s, final)
			}
			o.off++
			o.st = objValueStart
		case objValueStart:
			o.off = skipSpace(s, o.off)
			if o.off == len(s) {
				return o.cut(s, final)
			}
			o.valAt, o.val, o.stream = o.off, valueScan{}, false
			if slices.Contains(o.argsKeys, o.key) && s[o.off] == '{' && o.name != "" && !o.hasArgs && o.open(p) {
				o.stream = true
			}
			o.st = objValue
		case objValue:
			if o.stream {
				if n, r, ok := o.streamArgs(p, s, final); !ok {
					return n, r
				}
				o.st = objNext
				continue
			}
			isDone, bad := o.val.scan(s[o.valAt:], final)
			if bad {
				return o.stop(p, s, final)
			}
			end := o.valAt + o.val.off
			if !isDone {
				return o.cut(s, final)
			}
			o.off = end
			if !o.member(p, s[o.valAt:end]) {
				return o.stop(p, s, final)
			}
			o.members++
			o.st = objNext
		case objSkip:
			return o.skipRest(s, final)
		case objNext:
			o.off = skipSpace(s, o.off)
			if o.off == len(s) {
				return o.cut(s, final)
			}
			switch s[o.off] {
			case ',':
				o.off++
				o.st = objKey
			case '}':
				o.off++
				return o.end(p)
			default:
				return o.stop(p, s, final)
			}
		}
	}
}

// member takes a complete value; false when it breaks the call.
func (o *callObject) member(p *Parser, raw string) bool {
	switch {
	case slices.Contains(o.nameKeys, o.key) && o.name == "":
		// A call to a function the request did not offer is not one: a
		// client's tool runner could not run it.
		if err := json.Unmarshal([]byte(raw), &o.name); err != nil || !p.offered(o.name) {
			return false
		}
		if !o.bare {
			o.open(p)
		}
	case slices.Contains(o.argsKeys, o.key) && !o.hasArgs:
		var text string
		if json.Unmarshal([]byte(raw), &text) == nil {
			raw = text // arguments written as a string of JSON
		}
		o.args, o.hasArgs = objectArgs(raw), true
	case o.bare && o.key == "type":
		var t string
		if json.Unmarshal([]byte(raw), &t) != nil || t != "function" {
			return false
		}
	}
	return true
}

// open starts the call once it is certain to be one; false when not yet.
func (o *callObject) open(p *Parser) bool {
	if o.opened {
		return true
	}
	if o.bare {
		if _, ok := p.tool(o.name); !ok || !o.hasArgsKeyNow() {
			return false
		}
	}
	o.index = p.startCall(o.name)
	o.opened = true
	return true
}

// hasArgsKeyNow: the member being read (or read) is the arguments.
func (o *callObject) hasArgsKeyNow() bool { return o.hasArgs || slices.Contains(o.argsKeys, o.key) }

// end completes the object.
func (o *callObject) end(p *Parser) (int, result) {
	if o.name == "" || (o.bare && !o.hasArgs) || !o.open(p) {
		return o.off, notCall
	}
	o.sendArgs(p)
	return o.off, done
}

// streamArgs streams the arguments member; ok when it is complete.
func (o *callObject) streamArgs(p *Parser, s string, final bool) (int, result, bool) {
	v := s[o.valAt:]
	isDone, bad := o.check.check(v, final)
	p.args(o.index, o.check.take(v))
	switch {
	case bad:
		p.args(o.index, o.check.closing())
		o.streamed = true
		n, r := o.stop(p, s, final)
		return n, r, false
	case !isDone:
		n, r := o.cut(s, final)
		return n, r, false
	}
	o.off = o.valAt + o.check.off
	o.hasArgs, o.streamed = true, true
	o.members++
	return 0, done, true
}

// stop handles text that breaks the object: before the call opened it was
// not a call; after, the call is made with the arguments it has and the
// rest of the object is dropped with it, so that no markup reaches the
// text.
func (o *callObject) stop(p *Parser, s string, final bool) (int, result) {
	if !o.opened {
		return o.off, notCall
	}
	o.sendArgs(p)
	o.st, o.skip, o.skipFrom = objSkip, valueScan{}, o.off
	return o.feed(p, s, final)
}

// sendArgs sends arguments that were not streamed.
func (o *callObject) sendArgs(p *Parser) {
	if o.streamed {
		return
	}
	args := o.args
	if !o.hasArgs {
		args = "{}"
	}
	p.args(o.index, args)
	o.streamed = true
}

// skipRest finds the end of a broken object: its closing bracket, or the
// section's closing marker when that comes first (brackets in broken JSON
// need not balance).
func (o *callObject) skipRest(s string, final bool) (int, result) {
	isDone, _ := o.skip.scan(s[o.at:], final)
	end := o.at + o.skip.off
	if o.until != "" {
		if i := strings.Index(s[o.skipFrom:end], o.until); i >= 0 {
			return o.skipFrom + i, done
		}
		o.skipFrom = max(o.skipFrom, end-len(o.until)+1)
	}
	if !isDone {
		return o.cut(s, final)
	}
	return end, done
}

// cut handles the end of the text so far.
func (o *callObject) cut(s string, final bool) (int, result) {
	if final && o.opened {
		return len(s), done
	}
	return o.off, more
}

// callList parses a JSON array of call objects ([{…}, {…}]), as Mistral
// and Command R write them.
type callList struct {
	newItem func() *callObject
	st      int
	off     int
	item    *callObject
	itemAt  int
	calls   int
	skip    valueScan // an item that is not a call, after calls were made
}

func (l *callList) feed(p *Parser, s string, final bool) (int, result) {
	for {
		switch l.st {
		case 0: // '['
			l.off = skipSpace(s, l.off)
			if l.off == len(s) {
				return l.off, more
			}
			if s[l.off] != '[' {
				return l.off, notCall
			}
			l.off++
			l.st = 1
		case 1: // an item, or ']'
			l.off = skipSpace(s, l.off)
			if l.off == len(s) {
				return l.cut(s, final)
			}
			switch s[l.off] {
			case ']':
				return l.off + 1, done
			case ',':
				l.off++
				continue
			}
			l.item, l.itemAt, l.st = l.newItem(), l.off, 2
		case 2:
			n, r := l.item.feed(p, s[l.itemAt:], final)
			switch r {
			case more:
				return l.cut(s, final)
			case notCall:
				if l.calls == 0 {
					return 0, notCall
				}
				// The list is markup once it made a call: an item that
				// is no call (one to a tool not offered) is dropped
				// whole rather than shown as text.
				l.skip, l.st = valueScan{}, 3
				continue
			}
			if l.item.opened {
				l.calls++
			}
			l.off, l.st = l.itemAt+n, 1
		case 3:
			isDone, bad := l.skip.scan(s[l.itemAt:], final)
			if bad {
				return l.itemAt, done
			}
			if !isDone {
				return l.cut(s, final)
			}
			l.off, l.st = l.itemAt+l.skip.off, 1
		}
	}
}

func (l *callList) cut(s string, final bool) (int, result) {
	if final && (l.calls > 0 || l.item != nil && l.item.opened) {
		return len(s), done
	}
	return l.off, more
}
