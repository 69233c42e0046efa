package toolformat

import "strings"

// DeepSeek R1 and V3 (0324) write the type, the name and fenced JSON;
// V3.1 writes the name and the JSON:
//
//	<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather
//	```json
//	{"city": "Paris"}
//	```<｜tool▁call▁end｜><｜tool▁calls▁end｜>
//
//	<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "Paris"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>
const (
	dsCallsBegin = "<｜tool▁calls▁begin｜>"
	dsCallsEnd   = "<｜tool▁calls▁end｜>"
	dsCallBegin  = "<｜tool▁call▁begin｜>"
	dsCallEnd    = "<｜tool▁call▁end｜>"
	dsSep        = "<｜tool▁sep｜>"
)

var (
	deepseek   = deepseekFamily("deepseek", deepseekGrammar)
	deepseek31 = deepseekFamily("deepseek3.1", deepseek31Grammar)
)

func deepseekFamily(name string, g grammarStyle) *family {
	return &family{
		name:      name,
		markers:   []string{dsCallsBegin, dsCallBegin},
		preserved: []string{dsCallsBegin, dsCallsEnd, dsCallBegin, dsCallEnd, dsSep},
		think:     thinkTags,
		section: func(_ *Parser, marker string) section {
			return &deepseekSection{inCall: marker == dsCallBegin}
		},
		grammar: g,
	}
}

type deepseekSection struct {
	inCall bool // the marker was a call's begin
	st     int
	off    int
	calls  int
	index  int
	check  argsCheck // the arguments
	valAt  int
	// skipFrom is where the search for the end of a dropped call resumes.
	skipFrom int
}

func (d *deepseekSection) feed(p *Parser, s string, final bool) (int, result) {
	if d.inCall {
		d.inCall, d.st = false, 1
	}
	for {
		switch d.st {
		case 0: // between calls
			i := skipSpace(s, d.off)
			rest := s[i:]
			switch {
			case strings.HasPrefix(rest, dsCallsEnd):
				return i + len(dsCallsEnd), done
			case strings.HasPrefix(rest, dsCallBegin):
				d.off, d.st = i+len(dsCallBegin), 1
			case strings.HasPrefix(dsCallsEnd, rest) || strings.HasPrefix(dsCallBegin, rest):
				return d.wait(s, final)
			default:
				return d.end(i)
			}
		case 1: // the head: type or name, then the separator
			// The head is judged by its own text only (up to the
			// separator, or what there is of it so far), so a separator
			// that arrives in the same Push as a bad head changes nothing.
			head := s[d.off:]
			sep := strings.Index(head, dsSep)
			if sep >= 0 {
				head = head[:sep]
			} else {
				head = head[:len(head)-partialSuffix(head, []string{dsSep})]
			}
			// R1 and V3 write the type first, V3.1 the name: either
			// way the head is bounded by the longest of them.
			if h := strings.TrimSpace(head); strings.ContainsAny(head, "\n{") ||
				!(strings.HasPrefix("function", h) || p.mayBeName(h)) {
				return d.bad(p, s, final)
			}
			if sep < 0 {
				return d.wait(s, final)
			}
			head = strings.TrimSpace(head)
			after := d.off + sep + len(dsSep)
			if after == len(s) {
				return d.wait(s, final)
			}
			if c := s[after]; c == '{' || c == ' ' || c == '\n' {
				// V3.1: the head was the name.
				if !p.offered(head) {
					return d.bad(p, s, final)
				}
				d.index, d.calls = p.startCall(head), d.calls+1
				d.off, d.st = after, 3
				continue
			}
			nl := strings.IndexAny(s[after:], "\n`{")
			if nl < 0 {
				// A name cannot become valid again: text that is not
				// one is not a call now, as it is once the line ends.
				if !p.mayBeName(strings.TrimSpace(s[after:])) {
					return d.bad(p, s, final)
				}
				return d.wait(s, final)
			}
			name := strings.TrimSpace(s[after : after+nl])
			if !p.offered(name) {
				return d.bad(p, s, final)
			}
			d.index, d.calls = p.startCall(name), d.calls+1
			d.off, d.st = after+nl, 2
		case 2: // an optional ```json fence
			i := skipSpace(s, d.off)
			rest := s[i:]
			switch {
			case strings.HasPrefix(rest, "```json"):
				i += len("```json")
			case strings.HasPrefix("```json", rest):
				return d.wait(s, final)
			case strings.HasPrefix(rest, "```"):
				i += len("```")
			}
			d.off, d.st = i, 3
		case 3: // the arguments
			d.off = skipSpace(s, d.off)
			if d.off == len(s) {
				return d.wait(s, final)
			}
			d.valAt, d.check, d.st = d.off, argsCheck{}, 4
		case 4:
			v := s[d.valAt:]
			isDone, bad := d.check.check(v, final)
			p.args(d.index, d.check.take(v))
			if bad {
				// The call keeps the valid part of its arguments; the
				// rest, through the call's end marker, is dropped.
				p.args(d.index, d.check.closing())
				d.st, d.skipFrom = 6, d.valAt
				continue
			}
			if !isDone {
				return d.wait(s, final)
			}
			d.off, d.st = d.valAt+d.check.off, 5
		case 5: // closing fence and the call's end
			i := skipSpace(s, d.off)
			if rest := s[i:]; strings.HasPrefix(rest, "```") {
				i = skipSpace(s, i+len("```"))
			} else if rest != "" && strings.HasPrefix("```", rest) {
				return d.wait(s, final)
			}
			rest := s[i:]
			switch {
			case strings.HasPrefix(rest, dsCallEnd):
				d.off = i + len(dsCallEnd)
			case strings.HasPrefix(dsCallEnd, rest):
				return d.wait(s, final)
			default:
				d.off = i
			}
			d.st = 0
		case 6: // a call that is not one, inside a block that made calls
			i := strings.Index(s[d.skipFrom:], dsCallEnd)
			if i < 0 {
				d.skipFrom = max(d.skipFrom, len(s)-len(dsCallEnd)+1)
				return d.wait(s, final)
			}
			d.off, d.st = d.skipFrom+i+len(dsCallEnd), 0
		}
	}
}

// bad handles a call head that is no call (not an offered tool's name):
// before any call the markup was text; after one, the block is markup and
// the bad call is dropped through its end.
func (d *deepseekSection) bad(p *Parser, s string, final bool) (int, result) {
	if d.calls == 0 {
		return 0, notCall
	}
	d.st, d.skipFrom = 6, d.off
	return d.feed(p, s, final)
}

func (d *deepseekSection) wait(s string, final bool) (int, result) {
	if final && d.calls > 0 {
		return len(s), done
	}
	return 0, more
}

func (d *deepseekSection) end(at int) (int, result) {
	if d.calls == 0 {
		return 0, notCall
	}
	return at, done
}
