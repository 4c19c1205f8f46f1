package reports_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/reports/reportstest"
)

// The users' backoffs after failed journeys are in every report: the Backoff line of
// summary.md and the "user backoffs" figure of report.html, per scenario when there are
// several; a run without them says so; a record written before they were counted shows none.
func TestBackoffsShownInReports(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		backoffs []reports.Backoff
		want     string // in both reports; "" means neither mentions backoffs
	}{
		{"one scenario", []reports.Backoff{{Scenario: "users", Count: 186, Seconds: 402.5}}, "186 waits after failed journeys, 402.5 s in all"},
		{"several scenarios", []reports.Backoff{{Scenario: "browse", Count: 3, Seconds: 7}, {Scenario: "upload", Count: 1, Seconds: 1}},
			"4 waits after failed journeys, 8 s in all: browse 3 (7 s), upload 1 (1 s)"},
		{"none", []reports.Backoff{{Scenario: "users"}}, "none: no user waited after a failed journey"},
		{"not counted", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := reportstest.Launch(10 * time.Second)
			r.Load.Backoffs = tc.backoffs
			var md, html bytes.Buffer
			if err := reports.WriteMarkdown(&md, r); err != nil {
				t.Fatal(err)
			}
			if err := reports.WriteHTML(&html, r); err != nil {
				t.Fatal(err)
			}
			for name, out := range map[string]string{"summary.md": md.String(), "report.html": html.String()} {
				switch {
				case tc.want == "" && (strings.Contains(out, "Backoff") || strings.Contains(out, "user backoffs")):
					t.Errorf("%s mentions backoffs the record does not have", name)
				case tc.want != "" && !strings.Contains(out, tc.want):
					t.Errorf("%s lacks %q", name, tc.want)
				}
			}
		})
	}
}

func TestReadRunRejectsNegativeBackoffs(t *testing.T) {
	t.Parallel()
	_, err := reports.ReadRun("testdata/bad/negative-backoff.bad.json")
	if err == nil || !strings.Contains(err.Error(), "field load.backoffs[0]: count -3") {
		t.Fatalf("error %v, want one naming load.backoffs[0]", err)
	}
}
