package reports_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/reports/reportstest"
)

// The alerts that fired are in every human report: a row of the HTML timeline (critical ones
// marked) and an Alerts line in summary.md with their span in run minutes; a run.json with an
// alert event validates, and an unknown event kind still does not.
func TestAlertsInTheReports(t *testing.T) {
	r := reportstest.Launch(time.Minute)
	at := func(min, sec int) time.Time {
		return r.StartedAt.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
	}
	r.Timeline = append(r.Timeline,
		reports.Event{Kind: reports.EventAlert, Name: "NodeNotReady", Detail: "severity=critical node=gpu-1a-1", Start: at(38, 12), End: at(43, 40),
			Receivers: []string{"pagerduty", "slack"}},
		reports.Event{Kind: reports.EventAlert, Name: "NodeHighCPU", Detail: "severity=warning node=general-1a-1", Start: at(40, 0), End: at(41, 5)})
	md := string(render(t, func(w *bytes.Buffer) error { return reports.WriteMarkdown(w, r) }))
	want := "**Alerts** NodeNotReady (severity=critical node=gpu-1a-1) → pagerduty, slack 38:12-43:40, NodeHighCPU (severity=warning node=general-1a-1) 40:00-41:05"
	if !strings.Contains(md, want) {
		t.Errorf("summary.md lacks %q:\n%s", want, md)
	}
	html := string(render(t, func(w *bytes.Buffer) error { return reports.WriteHTML(w, r) }))
	for _, want := range []string{">alerts<", `class="tl-alert tl-critical"`, `class="tl-alert"`, "<title>NodeNotReady → pagerduty, slack</title>"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if err := r.Validate(); err != nil {
		t.Errorf("a run with alert events does not validate: %v", err)
	}
	r.Timeline[len(r.Timeline)-1].Kind = "page"
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), `timeline`) {
		t.Errorf("an unknown event kind validates: %v", err)
	}
}
