// Package printable makes text from a profile, an SLO file, a run.json or a server safe to
// print on a terminal or into Markdown: control characters (C0, DEL, C1), the Unicode
// bidirectional overrides and invalid UTF-8 are written as Go escapes (\x1b, \u202e, \xff)
// instead of acting on the terminal (moving the cursor, clearing the screen, setting the
// window title, reordering what follows).
//
// It imports only the standard library.
package printable

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// String returns s with every control character escaped, newlines and tabs included: the
// form for one line of output (a name, a reason, a progress field).
func String(s string) string { return escape(s, false) }

// Lines is [String] that keeps newlines and tabs: the form for a message of several lines
// (an error joined with errors.Join).
func Lines(s string) string { return escape(s, true) }

func escape(s string, keepLines bool) string {
	if clean(s, keepLines) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case keepLines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case unsafe(r):
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// clean reports whether s needs no escaping, the common case, without allocating.
func clean(s string, keepLines bool) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return false
		}
		if unsafe(r) && !(keepLines && (r == '\n' || r == '\t')) {
			return false
		}
		i += n
	}
	return true
}

// unsafe reports whether r acts on a terminal or on the order of the text around it.
func unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
