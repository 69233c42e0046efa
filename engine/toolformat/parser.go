package toolformat

import (
	"slices"
	"strings"
)

// Kind says what a Delta carries.
type Kind int

const (
	// Content is answer text.
	Content Kind = iota
	// Reasoning is thinking text (DeepSeek's reasoning_content).
	Reasoning
	// CallStart opens tool call Index, named Name.
	CallStart
	// CallArgs is the next fragment of call Index's arguments (JSON text).
	CallArgs
)

// Delta is one piece of parsed output.
type Delta struct {
	Kind  Kind
	Text  string // Content, Reasoning, CallArgs
	Index int    // CallStart, CallArgs: the call's place in the message
	Name  string // CallStart
}

// Options configure a Parser for one request.
type Options struct {
	// Tools are the tools the request offers; none: tool calls are not
	// parsed (tool_choice "none" or no tools) and stay in the text.
	Tools []Tool
	// Reasoning separates reasoning from the answer; false keeps the text
	// as the model wrote it.
	Reasoning bool
	// InReasoning says the output starts inside a reasoning block (see
	// OpensReasoning).
	InReasoning bool
}

// NeedsParser reports whether output in this format needs parsing at all
// under opts; when not, the text is the content as it comes.
func (f Format) NeedsParser(opts Options) bool {
	return len(opts.Tools) > 0 || (opts.Reasoning && f.think != nil) || len(f.family.strip) > 0
}

// Parser splits one choice's output. Feed it with Push as text arrives and
// end with Finish; the deltas they return, concatenated, are the same
// however the text was split.
type Parser struct {
	fam   *family
	think *tags // nil: reasoning is not separated
	tools []Tool
	parse bool // tool calls are parsed

	buf   string // text not yet turned into deltas; always an end of acc
	acc   strings.Builder
	state state
	sec   section
	// secMarker and secWS restore the text when a section turns out not to
	// be a tool call after all.
	secMarker, secWS string
	calls            int

	content, reasoning wsText
	out                []Delta
}

type state int

const (
	stStart          state = iota // the output's start: reasoning or a bare call may open
	stAfterReasoning              // after </think>: a bare call may open
	stReasoning
	stContent
	stSection // inside tool-call markup
)

// NewParser returns a parser for one choice.
func (f Format) NewParser(opts Options) *Parser {
	p := &Parser{fam: f.family, tools: opts.Tools, parse: len(opts.Tools) > 0}
	if opts.Reasoning {
		p.think = f.think
	}
	p.content.lead, p.reasoning.lead = true, true
	if p.think != nil && opts.InReasoning {
		p.state = stReasoning
	}
	return p
}

// Push adds generated text and returns the deltas it completes.
func (p *Parser) Push(text string) []Delta {
	p.append(text)
	p.run(false)
	return p.take()
}

// append adds text to buf without copying buf. A section rereads all its
// text on every Push, so copying it each time (buf += text) made a long
// call cost time quadratic in its length. The parser only ever drops text
// from buf's front, so buf stays an end of acc: acc grows in place (a
// Builder never moves text it handed out) and buf is sliced from it anew.
// acc starts over from buf once most of it is consumed, which copies no
// more than was consumed.
func (p *Parser) append(text string) {
	if dead := p.acc.Len() - len(p.buf); dead > len(p.buf) && dead > 512 {
		p.acc = strings.Builder{}
		p.acc.WriteString(p.buf)
	}
	keep := len(p.buf)
	p.acc.WriteString(text)
	all := p.acc.String()
	p.buf = all[len(all)-keep-len(text):]
}

// Finish ends the output and returns the last deltas. Markup the output
// stopped in the middle of is dropped, never shown as content; a call whose
// arguments were cut keeps the fragments already sent.
func (p *Parser) Finish() []Delta {
	p.run(true)
	p.buf = ""
	return p.take()
}

// InReasoning reports whether the parser is inside a reasoning block now.
func (p *Parser) InReasoning() bool { return p.state == stReasoning }

func (p *Parser) take() []Delta {
	out := p.out
	p.out = nil
	return out
}

func (p *Parser) run(final bool) {
	for p.step(final) {
	}
}

const spaces = " \t\r\n"

// step makes one move; false when it needs more text (or, when final, is
// done).
func (p *Parser) step(final bool) bool {
	switch p.state {
	case stStart, stAfterReasoning:
		s := strings.TrimLeft(p.buf, spaces)
		if s == "" {
			return false // nothing but space yet
		}
		if p.state == stStart && p.think != nil {
			if strings.HasPrefix(s, p.think.open) {
				p.buf, p.state = s[len(p.think.open):], stReasoning
				return true
			}
			if strings.HasPrefix(p.think.open, s) {
				if final {
					p.buf = "" // cut inside the opening tag
				}
				return false
			}
		}
		p.buf, p.state = s, stContent
		if p.parse && p.fam.bare != nil && s[0] == '{' {
			p.open("", p.fam.bare(p))
		}
		return true

	case stReasoning:
		if p.reasoning.lead {
			// Some models repeat the opening tag the prompt ended with.
			// Each repeat is dropped and the step starts over, so tags
			// that arrive together go as they do one by one.
			s := strings.TrimLeft(p.buf, spaces)
			if strings.HasPrefix(s, p.think.open) {
				p.buf = s[len(p.think.open):]
				return true
			}
			if s != "" && strings.HasPrefix(p.think.open, s) {
				if final {
					p.buf = ""
				}
				return false
			}
		}
		if i := strings.Index(p.buf, p.think.close); i >= 0 {
			p.emit(Reasoning, p.reasoning.add(p.buf[:i]))
			p.reasoning.held = ""
			p.buf, p.state = p.buf[i+len(p.think.close):], stAfterReasoning
			p.content.lead = true
			return true
		}
		keep := partialSuffix(p.buf, []string{p.think.close})
		p.emit(Reasoning, p.reasoning.add(p.buf[:len(p.buf)-keep]))
		p.buf = p.buf[len(p.buf)-keep:]
		return false

	case stContent:
		i, m := p.nextMarker()
		if i >= 0 {
			p.emit(Content, p.content.add(p.buf[:i]))
			rest := p.buf[i+len(m):]
			if slices.Contains(p.fam.strip, m) {
				p.buf = rest
				return true
			}
			p.buf = rest
			p.open(m, p.fam.section(p, m))
			return true
		}
		keep := 0
		if p.parse {
			keep = partialSuffix(p.buf, p.fam.markers)
		}
		keep = max(keep, partialSuffix(p.buf, p.fam.strip))
		p.emit(Content, p.content.add(p.buf[:len(p.buf)-keep]))
		p.buf = p.buf[len(p.buf)-keep:]
		return false

	case stSection:
		n, r := p.sec.feed(p, p.buf, final)
		switch r {
		case more:
			if final {
				p.buf = "" // the output stopped inside markup
			}
			return false
		case done:
			p.buf, p.state, p.sec = p.buf[n:], stContent, nil
			p.content.afterMarkup(p.secWS)
			return true
		default: // notCall: the markup was text after all
			p.state, p.sec = stContent, nil
			p.content.held = p.secWS
			p.emit(Content, p.content.add(p.secMarker))
			return true
		}
	}
	return false
}

// open enters a tool-call section that began with marker ("" for a bare
// call, which starts at p.buf).
func (p *Parser) open(marker string, sec section) {
	p.state, p.sec = stSection, sec
	p.secMarker, p.secWS = marker, p.content.beforeMarkup()
}

// nextMarker finds the earliest marker in the buffer (the longest when two
// start at the same place).
func (p *Parser) nextMarker() (int, string) {
	best, bm := -1, ""
	try := func(ms []string) {
		for _, m := range ms {
			if i := strings.Index(p.buf, m); i >= 0 && (best < 0 || i < best || i == best && len(m) > len(bm)) {
				best, bm = i, m
			}
		}
	}
	if p.parse {
		try(p.fam.markers)
	}
	try(p.fam.strip)
	return best, bm
}

// startCall opens a new call and returns its index.
func (p *Parser) startCall(name string) int {
	i := p.calls
	p.calls++
	p.out = append(p.out, Delta{Kind: CallStart, Index: i, Name: name})
	return i
}

func (p *Parser) args(index int, frag string) {
	if frag == "" {
		return
	}
	if n := len(p.out); n > 0 && p.out[n-1].Kind == CallArgs && p.out[n-1].Index == index {
		p.out[n-1].Text += frag
		return
	}
	p.out = append(p.out, Delta{Kind: CallArgs, Index: index, Text: frag})
}

func (p *Parser) emit(k Kind, text string) {
	if text == "" {
		return
	}
	if n := len(p.out); n > 0 && p.out[n-1].Kind == k {
		p.out[n-1].Text += text
		return
	}
	p.out = append(p.out, Delta{Kind: k, Text: text})
}

// tool returns the offered tool named name.
func (p *Parser) tool(name string) (Tool, bool) {
	for _, t := range p.tools {
		if t.Name == name {
			return t, true
		}
	}
	return Tool{}, false
}

// offered reports whether name is an offered tool's.
func (p *Parser) offered(name string) bool {
	_, ok := p.tool(name)
	return ok
}

// mayBeName reports whether s, a name so far, may still become an offered
// tool's name.
func (p *Parser) mayBeName(s string) bool { return validName(s) && p.toolPrefix(s) }

// toolPrefix reports whether some offered tool's name begins with s.
func (p *Parser) toolPrefix(s string) bool {
	for _, t := range p.tools {
		if strings.HasPrefix(t.Name, s) {
			return true
		}
	}
	return false
}

// wsText trims a text stream: leading space (after markup) is dropped and
// trailing space is held until more text follows, so space around markup
// never reaches the client. Markup between two texts leaves one run of
// space between them, so their words are not glued together.
type wsText struct {
	lead bool   // drop leading space
	held string // trailing space not yet sent
	sent bool   // some text was sent
	// join: markup was cut out after sent text. The next text is
	// separated from it by sep, the space written before the markup, or
	// when there was none, by the space written after it (gathered in
	// held); the choice waits for the first non-space byte, so it does
	// not depend on how the text was split.
	join bool
	sep  string
}

func (w *wsText) add(s string) string {
	if w.lead {
		s = strings.TrimLeft(s, spaces)
		if s == "" {
			return ""
		}
		w.lead = false
	}
	if w.join {
		body := strings.TrimLeft(s, spaces)
		w.held += s[:len(s)-len(body)]
		if body == "" {
			return ""
		}
		if w.sep != "" {
			w.held = w.sep
		}
		w.join, w.sep, s = false, "", body
	}
	body := strings.TrimRight(s, spaces)
	if body == "" {
		w.held += s
		return ""
	}
	out := w.held + body
	w.held = s[len(body):]
	w.sent = true
	return out
}

// beforeMarkup returns the space written before markup that begins now;
// it is not content unless the markup turns out to be text.
func (w *wsText) beforeMarkup() string {
	ws := w.held
	if w.join && w.sep != "" {
		ws = w.sep
	}
	w.held, w.join, w.sep = "", false, ""
	return ws
}

// afterMarkup follows markup that was cut out; ws is the space written
// before it.
func (w *wsText) afterMarkup(ws string) {
	if !w.sent {
		w.lead = true // nothing to separate from
		return
	}
	w.join, w.sep = true, ws
}

// partialSuffix is the length of the longest end of s that begins one of
// markers (a marker that may be completed by the next text).
func partialSuffix(s string, markers []string) int {
	best := 0
	for _, m := range markers {
		for n := min(len(m)-1, len(s)); n > best; n-- {
			if strings.HasPrefix(m, s[len(s)-n:]) {
				best = n
				break
			}
		}
	}
	return best
}

// Result is a whole output, parsed.
type Result struct {
	Content, Reasoning string
	Calls              []Call
}

// Call is one parsed tool call.
type Call struct {
	Name      string
	Arguments string // JSON text
}

// Parse parses a whole output; it is the streaming parser fed at once, so
// a streamed response and a whole one always agree.
func (f Format) Parse(text string, opts Options) Result {
	p := f.NewParser(opts)
	var r Result
	r.add(p.Push(text))
	r.add(p.Finish())
	return r
}

func (r *Result) add(ds []Delta) {
	for _, d := range ds {
		switch d.Kind {
		case Content:
			r.Content += d.Text
		case Reasoning:
			r.Reasoning += d.Text
		case CallStart:
			r.Calls = append(r.Calls, Call{Name: d.Name})
		case CallArgs:
			r.Calls[d.Index].Arguments += d.Text
		}
	}
}
