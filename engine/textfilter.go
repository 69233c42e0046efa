package engine

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// textFilter turns the byte pieces of generated tokens into text deltas that
// are always valid UTF-8 and never contain any part of a stop string.
//
// It holds back two kinds of tail: an incomplete multi-byte character (a
// byte-fallback token may carry only part of one), and the longest suffix that
// could still grow into a stop string. Because of the second rule a stop
// string can only ever start inside the held-back bytes, so searching them is
// enough.
type textFilter struct {
	stops   [][]byte
	pending []byte
}

func newTextFilter(stops []string) textFilter {
	f := textFilter{}
	for _, s := range stops {
		if s != "" {
			f.stops = append(f.stops, []byte(s))
		}
	}
	return f
}

// push adds a piece. It returns the text that is safe to emit now and
// whether a stop string was found (everything from it on is dropped).
func (f *textFilter) push(piece []byte) (string, bool) {
	f.pending = append(f.pending, piece...)
	if cut, ok := f.findStop(); ok {
		out := strings.ToValidUTF8(string(f.pending[:cut]), "\uFFFD")
		f.pending = f.pending[:0]
		return out, true
	}
	keep := f.holdBack()
	emit := len(f.pending) - keep
	if emit <= 0 {
		return "", false
	}
	out := strings.ToValidUTF8(string(f.pending[:emit]), "\uFFFD")
	f.pending = append(f.pending[:0], f.pending[emit:]...)
	return out, false
}

// flush returns whatever is held back, at the natural end of a choice.
func (f *textFilter) flush() string {
	out := strings.ToValidUTF8(string(f.pending), "\uFFFD")
	f.pending = f.pending[:0]
	return out
}

func (f *textFilter) findStop() (int, bool) {
	best := -1
	for _, s := range f.stops {
		if i := bytes.Index(f.pending, s); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best, best >= 0
}

// holdBack is how many trailing bytes must wait for more pieces.
func (f *textFilter) holdBack() int {
	keep := incompleteUTF8Tail(f.pending)
	for _, s := range f.stops {
		// Longest proper prefix of s that ends the pending bytes.
		maxLen := len(s) - 1
		if maxLen > len(f.pending) {
			maxLen = len(f.pending)
		}
		for n := maxLen; n > keep; n-- {
			if bytes.HasSuffix(f.pending, s[:n]) {
				keep = n
				break
			}
		}
	}
	return keep
}

// incompleteUTF8Tail is the length of a multi-byte character that has begun
// at the end of b but is not complete yet (0 if none).
func incompleteUTF8Tail(b []byte) int {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return 0 // ASCII: nothing pending
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(b[len(b)-i:]) {
				return 0
			}
			return i
		}
	}
	return 0
}
