package printable

import "testing"

func TestString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want, lines string
	}{
		{"plain", "smoke run: 15 PASS, ü ✅", "smoke run: 15 PASS, ü ✅", "smoke run: 15 PASS, ü ✅"},
		{"escape sequence", "x\x1b[2J\x1b]0;pwned\x07y", `x\x1b[2J\x1b]0;pwned\ay`, `x\x1b[2J\x1b]0;pwned\ay`},
		{"newline and tab", "a\nb\tc\r", `a\nb\tc\r`, "a\nb\tc\\r"},
		{"C1 and DEL", "a\u009bb\x7f", `a\u009bb\x7f`, `a\u009bb\x7f`},
		{"bidi override", "GO\u202eOG-ON", `GO\u202eOG-ON`, `GO\u202eOG-ON`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`, `a\xffb\xc3`},
		{"NUL", "a\x00b", `a\x00b`, `a\x00b`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := String(tc.in); got != tc.want {
				t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := Lines(tc.in); got != tc.lines {
				t.Errorf("Lines(%q) = %q, want %q", tc.in, got, tc.lines)
			}
		})
	}
}
