package reports

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/internal/printable"
	"github.com/dailydoco/ddp-verify/verdict"
)

// WriteMarkdown renders summary.md: the verdict, its reasons, the objectives and a few load,
// chaos and cost figures, short enough for a CI job summary or a pull-request comment.
func WriteMarkdown(w io.Writer, r *Run) error {
	var b bytes.Buffer
	icon := map[verdict.Verdict]string{verdict.Go: "✅", verdict.NoGo: "❌", verdict.Aborted: "⚠️"}[r.Verdict]
	fmt.Fprintf(&b, "## %s %s: `%s` against `%s`\n\n", icon, r.Verdict, mdCode(r.Profile), mdCode(r.Target))
	var counts []string
	for _, c := range statusCounts(r.SLOs) {
		counts = append(counts, fmt.Sprintf("%d %s", c.N, c.Label))
	}
	if len(r.SLOs) == 0 {
		counts = append(counts, "**no objective was evaluated**")
	}
	scale := ""
	if r.Scaled() {
		scale = fmt.Sprintf(" · time scale ×%g", r.TimeScale)
	}
	fmt.Fprintf(&b, "Score **%.1f**/100 · %s · run `%s` · %s%s\n\n", r.Score, strings.Join(counts, " · "), mdCode(r.RunID), formatDuration(r.Duration()), scale)
	if note := r.ResilienceNote(); note != "" {
		fmt.Fprintf(&b, "**⚠️ %s**\n\n", mdText(note))
	}
	if len(r.Reasons) > 0 {
		b.WriteString("**Why**\n\n")
		for _, reason := range r.Reasons {
			fmt.Fprintf(&b, "- %s\n", mdText(reason))
		}
		b.WriteString("\n")
	}
	if len(r.NotEvaluated) > 0 {
		fmt.Fprintf(&b, "**Not evaluated** (the verdict says nothing about these)\n\n")
		for _, n := range r.NotEvaluated {
			key := ""
			if n.Key {
				key = " (key)"
			}
			fmt.Fprintf(&b, "- `%s`%s %s: %s\n", mdCode(n.ID), key, mdText(n.DisplayName), mdText(n.Reason))
		}
		b.WriteString("\n")
	}
	if low := lowConfidence(r.SLOs); len(low) > 0 {
		b.WriteString("**Low confidence** (the status rests on thin evidence)\n\n")
		for _, s := range low {
			fmt.Fprintf(&b, "- `%s` in %s: %s\n", mdCode(s.ID), mdText(s.Window), mdText(lowConfidenceText(s)))
		}
		b.WriteString("\n")
	}
	if len(r.SLOs) > 0 {
		b.WriteString("| status | objective | window | value | threshold |\n|---|---|---|--:|---|\n")
		for _, s := range sortedSLOs(r.SLOs) {
			val := "—"
			if s.Value != nil {
				val = formatValue(*s.Value, s.Unit)
			}
			if iv := intervalText(s); iv != "" && s.Value != nil {
				val += " (" + iv + ")"
			}
			if s.LowConfidence {
				val += " ⚠️ low confidence"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdStatus(s.Status), mdText(s.Name()), mdText(s.Window), mdText(val), mdText(s.Op+" "+formatValue(s.Objective, s.Unit)))
		}
		b.WriteString("\n")
	}
	t := r.Load.Total
	fmt.Fprintf(&b, "**Load** %s requests (%s/s), error rate %s, p95 %s, p99 %s  \n", formatNumber(float64(t.Count)), formatNumber(t.RPS), formatValue(t.ErrorRate, "ratio"), formatValue(t.Response.P95, "ms"), formatValue(t.Response.P99, "ms"))
	if text, ok := backoffText(r.Load); ok {
		fmt.Fprintf(&b, "**Backoff** %s  \n", mdText(text))
	}
	if len(r.Chaos) > 0 {
		var faults []string
		for _, c := range r.Chaos {
			faults = append(faults, fmt.Sprintf("%s (%s)", mdText(c.Fault), recoveryText(c)))
		}
		fmt.Fprintf(&b, "**Chaos** %s  \n", strings.Join(faults, ", "))
	}
	if text, ok := alertsText(r); ok {
		fmt.Fprintf(&b, "**Alerts** %s  \n", mdText(text))
	}
	v := r.Videos
	fmt.Fprintf(&b, "**Videos** %s  \n", mdText(v.Summary()))
	if a := r.AgentsSummary(); a != "" {
		fmt.Fprintf(&b, "**Load agents** %s  \n", mdText(a))
	}
	perVideo := "no data"
	if r.Cost.PerVideo != nil && !math.IsNaN(*r.Cost.PerVideo) {
		perVideo = fmt.Sprintf("$%.4f", *r.Cost.PerVideo)
	}
	if r.Cost.Unknown != "" {
		fmt.Fprintf(&b, "**Cost** unknown: %s\n\n", mdText(r.Cost.Unknown))
	} else {
		fmt.Fprintf(&b, "**Cost** $%.2f this run, %s per video, projected %s/month (budget %s)\n\n", r.Cost.Total, perVideo, money(r.Cost.ProjectedMonthly), money(r.Cost.MonthlyBudget))
	}
	b.WriteString("Details: `report.html` (open in a browser), `run.json`, `junit.xml`.\n")
	_, err := w.Write(b.Bytes())
	return err
}

func mdStatus(s verdict.Status) string {
	switch s {
	case verdict.Pass:
		return "✅ PASS"
	case verdict.Warn:
		return "⚠️ WARN"
	case verdict.NoData:
		return "⬜ NO DATA"
	case verdict.NoBaseline:
		return "➖ NO BASELINE"
	case verdict.Inconclusive:
		return "❔ INCONCLUSIVE"
	}
	return "❌ " + string(s)
}

// mdText escapes a string from a profile or server for Markdown: GitHub renders inline HTML
// and tables split on "|", so both are neutralised, and newlines would break a table row.
// Other control characters are written as escapes (\x1b): summary.md is also read with cat in
// a CI log, where an escape sequence would act on the terminal.
var mdReplacer = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", "|", "\\|", "\n", " ", "\r", " ",
	"`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]",
)

func mdText(s string) string { return printable.String(mdReplacer.Replace(s)) }

// mdCode makes a string safe inside a single-backtick code span.
func mdCode(s string) string {
	return printable.String(strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(s))
}

// backoffText says how much the users held back after failed iterations, per scenario when
// there are several; ok is false for a record without backoff counts.
func backoffText(l Load) (string, bool) {
	total, ok := l.BackoffTotal()
	switch {
	case !ok:
		return "", false
	case total.Count == 0:
		return "none: no user waited after a failed journey", true
	}
	s := fmt.Sprintf("%s waits after failed journeys, %s in all", formatNumber(float64(total.Count)), formatValue(total.Seconds, "s"))
	if len(l.Backoffs) > 1 {
		var parts []string
		for _, b := range l.Backoffs {
			parts = append(parts, fmt.Sprintf("%s %s (%s)", b.Scenario, formatNumber(float64(b.Count)), formatValue(b.Seconds, "s")))
		}
		s += ": " + strings.Join(parts, ", ")
	}
	return s, true
}

// recoveryText names a fault's two recoveries apart: the backend undoing the fault, and the
// service back within its steady-state objectives.
func recoveryText(c ChaosResult) string {
	undo, service := "not undone", "service not recovered"
	if c.UndoSeconds != nil {
		undo = "undone in " + formatValue(*c.UndoSeconds, "s")
	}
	if c.ServiceRecoverySeconds != nil {
		service = "service recovered in " + formatValue(*c.ServiceRecoverySeconds, "s")
	}
	return undo + ", " + service
}

// alertsText lists the alerts that fired, each with what it is about, where it was routed and
// when, in minutes from the run's start ("NodeNotReady (severity=critical node=gpu-1a-1) →
// pagerduty, slack 38:12-43:40"); ok is false when none fired.
func alertsText(r *Run) (string, bool) {
	var out []string
	clock := func(t time.Time) string {
		d := t.Sub(r.StartedAt).Round(time.Second)
		return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
	}
	for _, e := range r.Timeline {
		if e.Kind == EventAlert {
			out = append(out, fmt.Sprintf("%s (%s)%s %s-%s", e.Name, e.Detail, routedText(e), clock(e.Start), clock(e.End)))
		}
	}
	return strings.Join(out, ", "), len(out) > 0
}

// routedText is " → pagerduty, slack" for an alert event routed to those receivers; "" when
// it was not routed.
func routedText(e Event) string {
	if len(e.Receivers) == 0 {
		return ""
	}
	return " → " + strings.Join(e.Receivers, ", ")
}
