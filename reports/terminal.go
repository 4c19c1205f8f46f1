package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/dailydoco/ddp-verify/internal/printable"
	"github.com/dailydoco/ddp-verify/verdict"
)

// WriteVerdict prints what a person at a terminal needs at the end of a run: the verdict, the
// top reasons, the objectives by status, what was not evaluated, the video accounting and
// where the reports are (dir). Text that can come from a profile, an SLO file or a server
// is printed with its control characters escaped, so it cannot act on the terminal.
func WriteVerdict(w io.Writer, r *Run, dir string) error {
	pr := printable.String
	var b strings.Builder
	fmt.Fprintf(&b, "\nverdict: %s (score %.1f)\n", pr(string(r.Verdict)), r.Score)
	if note := r.ResilienceNote(); note != "" {
		fmt.Fprintf(&b, "  %s\n", pr(note))
	}
	for i, reason := range r.Reasons {
		if i == 5 {
			fmt.Fprintf(&b, "  ... and %d more (see summary.md)\n", len(r.Reasons)-5)
			break
		}
		fmt.Fprintf(&b, "  - %s\n", pr(reason))
	}
	counts := map[verdict.Status]int{}
	for _, s := range r.SLOs {
		counts[s.Status]++
	}
	var parts []string
	for _, st := range []verdict.Status{verdict.Pass, verdict.Warn, verdict.Fail, verdict.Inconclusive, verdict.NoData, verdict.NoBaseline, verdict.Error} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
		}
	}
	if len(r.NotEvaluated) > 0 {
		parts = append(parts, fmt.Sprintf("%d not evaluated", len(r.NotEvaluated)))
	}
	if low := lowConfidence(r.SLOs); len(low) > 0 {
		parts = append(parts, fmt.Sprintf("%d low-confidence", len(low)))
	}
	fmt.Fprintf(&b, "objectives: %s\n", strings.Join(parts, ", "))
	for _, n := range r.NotEvaluated {
		fmt.Fprintf(&b, "  not evaluated: %s: %s\n", pr(n.ID), pr(n.Reason))
	}
	for _, s := range lowConfidence(r.SLOs) {
		fmt.Fprintf(&b, "  %s in %s: %s\n", pr(s.ID), pr(s.Window), pr(lowConfidenceText(s)))
	}
	fmt.Fprintf(&b, "videos: %s\n", pr(r.Videos.Summary()))
	if a := r.AgentsSummary(); a != "" {
		fmt.Fprintf(&b, "load agents %s\n", pr(a))
	}
	fmt.Fprintf(&b, "reports: %s/{%s,%s,%s,%s}\n", pr(dir), RunFile, HTMLFile, JUnitFile, MarkdownFile)
	_, err := io.WriteString(w, b.String())
	return err
}
