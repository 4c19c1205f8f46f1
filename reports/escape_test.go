package reports_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/reports/reportstest"
	"github.com/dailydoco/ddp-verify/verdict"
)

// Control characters from a profile (its name, fault names, reasons that quote them) never
// reach the terminal or summary.md raw: an escape sequence there would clear the screen, set
// the window title or redraw the verdict. They are written as escapes instead.
func TestControlCharactersAreEscaped(t *testing.T) {
	t.Parallel()
	r := reportstest.Launch(time.Minute)
	r.Profile = "launch\x1b]0;GO\x07"
	r.Reasons = append([]string{"fault gpu\x1b[2J\x1b[1;1Hverdict: GO"}, r.Reasons...)
	r.NotEvaluated = []verdict.NotEvaluated{{ID: "x", Reason: "time-scaled\r\x1b[K"}}
	r.FaultsSkipped = []string{"zone\u202eOG"}
	var term, md bytes.Buffer
	if err := reports.WriteVerdict(&term, r, "reports/\x1b[31mrun"); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"verdict printout": term.String(), "summary.md": md.String()} {
		if i := strings.IndexAny(out, "\x1b\x07\r\u202e"); i >= 0 {
			t.Errorf("%s holds a raw control character at byte %d: %q", name, i, out[max(0, i-20):min(len(out), i+20)])
		}
		for _, want := range []string{`\x1b`, `2J`, `\u202eOG`} {
			if !strings.Contains(out, want) {
				t.Errorf("%s does not show %s escaped", name, want)
			}
		}
	}
	for _, want := range []string{`\x1b[2J\x1b[1;1Hverdict`, `time-scaled\r\x1b[K`, `reports/\x1b[31mrun`} {
		if !strings.Contains(term.String(), want) {
			t.Errorf("verdict printout does not show %s escaped:\n%s", want, term.String())
		}
	}
	if !strings.Contains(md.String(), `launch\x1b]0;GO\a`) {
		t.Errorf("summary.md does not show the profile's name escaped:\n%s", md.String())
	}
}
