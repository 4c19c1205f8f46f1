package slo

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
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
		} else if r.RawValue != "" {
			val = r.RawValue
		}
		var crit []string
		for _, t := range r.Targets {
			if t.Kind == "pass" {
				crit = append(crit, t.Criterion)
			}
		}
		note := r.Reason
		for _, e := range r.Evidence {
			if e.Value != nil {
				note = strings.TrimSpace(fmt.Sprintf("%s; %s = %s %s", note, e.Name, formatValue(*e.Value), e.Unit))
			}
		}
		for _, wn := range r.Warnings {
			note = strings.TrimSpace(note + "; warning: " + wn)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Window.Name, val, strings.Join(crit, " and "), r.Status, strings.TrimPrefix(note, "; "))
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

// WriteFile writes the report as indented JSON to path atomically (a temporary file renamed
// into place), so a reader never sees half a report.
func (rep *Report) WriteFile(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode SLO report: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".slo-*.json")
	if err != nil {
		return fmt.Errorf("write SLO report: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write SLO report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write SLO report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write SLO report: %w", err)
	}
	return nil
}

// ReadReport reads a report written by [Report.WriteFile], e.g. to use as a baseline.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read SLO report: %w", err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("read SLO report %s: %w", path, err)
	}
	if rep.Schema != Schema {
		return nil, fmt.Errorf("read SLO report %s: schema %q, want %q", path, rep.Schema, Schema)
	}
	return &rep, nil
}
