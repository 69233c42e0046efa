package jinja

import "unicode"

// Python's str.isdigit, isnumeric and isalnum (and so the \w of jinja2's
// regular expressions) go by the Unicode property Numeric_Type, which
// Go's unicode package does not carry: '²' and '①' are digits to Python
// though unicode.IsDigit (category Nd) says no, and '½', 'Ⅳ' and '一' are
// numeric. The characters beyond the categories are in pystr_tables.go.

// isPyDigit is str.isdigit for one character: Numeric_Type Decimal or
// Digit.
func isPyDigit(r rune) bool { return unicode.IsDigit(r) || unicode.Is(pyDigitExtra, r) }

// isNumeric is str.isnumeric for one character: any Numeric_Type, which
// takes in the digits.
func isNumeric(r rune) bool { return unicode.IsNumber(r) || unicode.Is(pyNumericExtra, r) }

// isAlnum is str.isalnum for one character: isalpha (a letter) or
// isnumeric, which takes in isdecimal and isdigit.
func isAlnum(r rune) bool { return unicode.IsLetter(r) || isNumeric(r) }
