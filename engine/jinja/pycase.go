package jinja

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Python's str case methods differ from Go's strings.ToUpper/ToLower in
// three ways: they use the full case mappings, by which one character can
// become several ('ß'.upper() is 'SS', 'İ'.lower() is 'i̇'); lower() turns
// a capital sigma that ends a word into 'ς'; and what counts as upper or
// lower case is the Unicode properties Uppercase and Lowercase, which also
// hold letters such as 'ª' and symbols such as 'ⓐ' that the Lu and Ll
// categories leave out. ASCII cases the same in both, and chat templates
// mostly case ASCII (roles, names), so that stays on the fast path.

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isLowercase and isUppercase are Python's per-character islower/isupper
// (the Lowercase and Uppercase properties).
func isLowercase(r rune) bool { return unicode.IsLower(r) || unicode.Is(unicode.Other_Lowercase, r) }
func isUppercase(r rune) bool { return unicode.IsUpper(r) || unicode.Is(unicode.Other_Uppercase, r) }

// isCased is the Unicode property Cased: a character with case, which
// decides where str.title starts a word and whether a sigma ends one.
func isCased(r rune) bool { return isLowercase(r) || isUppercase(r) || unicode.IsTitle(r) }

// isCaseIgnorable is the Unicode property Case_Ignorable: what a final
// sigma may have between it and the word's letters ("ΑΣ'." still ends in
// a final sigma). It is the categories Mn, Me, Cf, Lm and Sk, and the
// apostrophes, periods and colons that do not break a word (UAX #29's
// Word_Break values MidLetter, MidNumLet and Single_Quote).
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0x00B7, 0x0387, 0x055F, 0x05F4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

func writeUpper(b *strings.Builder, r rune) {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		b.WriteByte(byte(r))
		return
	}
	if full, ok := fullCase[r]; ok {
		b.WriteString(full.upper)
		return
	}
	b.WriteRune(unicode.ToUpper(r))
}

func writeTitle(b *strings.Builder, r rune) {
	if r < utf8.RuneSelf {
		writeUpper(b, r)
		return
	}
	if full, ok := fullCase[r]; ok {
		b.WriteString(full.title)
		return
	}
	b.WriteRune(unicode.ToTitle(r))
}

// writeLower writes the lower case of r, the rune at byte offset i of s:
// a capital sigma's depends on what surrounds it.
func writeLower(b *strings.Builder, s string, i int, r rune) {
	if r == 'Σ' && endsWord(s, i, i+len("Σ")) {
		b.WriteRune('ς')
		return
	}
	writeLowerRune(b, r)
}

// writeLowerRune writes the lower case of r on its own.
func writeLowerRune(b *strings.Builder, r rune) {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		b.WriteByte(byte(r))
		return
	}
	if full, ok := fullCase[r]; ok {
		b.WriteString(full.lower)
		return
	}
	b.WriteRune(unicode.ToLower(r))
}

// endsWord reports whether s[start:end] is in Unicode's Final_Sigma
// context, as Python decides it: a cased character before it (with only
// case-ignorable ones between), and none after it.
func endsWord(s string, start, end int) bool {
	before := strings.TrimRightFunc(s[:start], isCaseIgnorable)
	r, _ := utf8.DecodeLastRuneInString(before)
	if before == "" || !isCased(r) {
		return false
	}
	after := strings.TrimLeftFunc(s[end:], isCaseIgnorable)
	r, _ = utf8.DecodeRuneInString(after)
	return after == "" || !isCased(r)
}

// pyUpper is str.upper.
func pyUpper(s string) string {
	if isASCII(s) {
		return strings.ToUpper(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		writeUpper(&b, r)
	}
	return b.String()
}

// pyLower is str.lower.
func pyLower(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		writeLower(&b, s, i, r)
	}
	return b.String()
}

// pyTitle is str.title: a cased character after another is lowered, any
// other is title-cased, so words start after anything uncased ("they'Re").
func pyTitle(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	prevCased := false
	for i, r := range s {
		if prevCased {
			writeLower(&b, s, i, r)
		} else {
			writeTitle(&b, r)
		}
		prevCased = isCased(r)
	}
	return b.String()
}

// pyCapitalize is str.capitalize: the first character title-cased (so
// 'ǆa' becomes 'ǅa', not 'Ǆa'), the rest lowered.
func pyCapitalize(s string) string {
	if s == "" {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	r, w := utf8.DecodeRuneInString(s)
	writeTitle(&b, r)
	for i, r := range s[w:] {
		writeLower(&b, s, w+i, r)
	}
	return b.String()
}

// pySwapcase is str.swapcase; title-case letters such as 'ǅ' are neither
// upper nor lower case, and stay.
func pySwapcase(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case isUppercase(r):
			writeLower(&b, s, i, r)
		case isLowercase(r):
			writeUpper(&b, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// pyCasefold is str.casefold, Unicode's full case folding ('ß' folds to
// 'ss', 'ς' to 'σ'). x/text's cases.Fold is not used: it folds the
// Cherokee capitals to small letters, which CaseFolding.txt and Python
// keep.
func pyCasefold(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if f, ok := caseFold[r]; ok {
			b.WriteString(f)
			continue
		}
		writeLowerRune(&b, r) // a sigma folds to 'σ' wherever it is

	}
	return b.String()
}

// pyIsUpper is str.isupper: some upper case character, and no lower or
// title case one.
func pyIsUpper(s string) bool {
	cased := false
	for _, r := range s {
		if isLowercase(r) || unicode.IsTitle(r) {
			return false
		}
		cased = cased || isUppercase(r)
	}
	return cased
}

// pyIsLower is str.islower: some lower case character, and no upper or
// title case one.
func pyIsLower(s string) bool {
	cased := false
	for _, r := range s {
		if isUppercase(r) || unicode.IsTitle(r) {
			return false
		}
		cased = cased || isLowercase(r)
	}
	return cased
}

// pyIsTitle is str.istitle: some cased character, upper and title case
// ones only where a word starts, lower case ones only inside a word.
func pyIsTitle(s string) bool {
	cased, prevCased := false, false
	for _, r := range s {
		switch {
		case isUppercase(r) || unicode.IsTitle(r):
			if prevCased {
				return false
			}
			prevCased, cased = true, true
		case isLowercase(r):
			if !prevCased {
				return false
			}
			prevCased, cased = true, true
		default:
			prevCased = false
		}
	}
	return cased
}
