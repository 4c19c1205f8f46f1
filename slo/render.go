package slo

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dailydoco/ddp-verify/verdict"
)

// WriteTable prints one line per result, then the score and the gate.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECTIVE\tWINDOW\tVALUE\tTARGET\tSTATUS\tNOTE")
	for _, r := range rep.Results {
		val := "-"
		if r.Value != nil {
			val = formatValue(*r.Value)
			if r.Unit != "" {
				val += " " + r.Unit
			}
		}
		note := r.Error
		for _, e := range r.Evidence {
			note = strings.TrimSpace(fmt.Sprintf("%s; %s = %s %s", note, e.Label, formatValue(e.Value), e.Unit))
		}
		for _, wn := range r.Warnings {
			note = strings.TrimSpace(note + "; warning: " + wn)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Window, val, Criterion(r), r.Status, strings.TrimPrefix(note, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "not evaluated: %s: %s\n", s.ID, s.Reason)
	}
	fmt.Fprintf(w, "score: %.1f%% (%g of %g; pass >= %g%%, warning >= %g%%)\n", rep.Score, rep.Achieved, rep.Achievable, rep.TotalScore.Pass, rep.TotalScore.Warning)
	fmt.Fprintf(w, "gate: %s\n", rep.Gate)
	for _, r := range rep.GateReasons {
		fmt.Fprintf(w, "  - %s\n", r)
	}
	return nil
}

// Criterion writes a result's pass criterion, with its warning threshold: "< 0.5 (warn < 0.6)".
func Criterion(r verdict.Objective) string {
	s := r.Op + " " + formatValue(r.Objective)
	if r.Warning != nil {
		s += " (warn " + r.Op + " " + formatValue(*r.Warning) + ")"
	}
	return s
}
