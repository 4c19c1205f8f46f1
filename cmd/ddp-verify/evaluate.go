package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/internal/outdir"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/run"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/verdict"
)

// evaluateFlags are the evaluate command's flags.
type evaluateFlags struct {
	promURL, tsdb, from, to, sloFile, out, baseline string
	windows                                         []string
}

func newEvaluateCmd(out, errOut io.Writer) *cobra.Command {
	var f evaluateFlags
	cmd := &cobra.Command{
		Use:   "evaluate (--prometheus-url URL | --tsdb DIR) --from T --to T [--slo FILE] [--out DIR]",
		Short: "Evaluate SLOs on existing Prometheus data (external, or a saved embedded TSDB)",
		Long: `Evaluate an SLO file (default: the built-in DailyDoco Pro set) over the window "run"
from --from to --to, plus any --window NAME=FROM,TO. Times are RFC 3339 or Unix seconds.
Prints a table and the gate; with --out, writes a run directory (run.json without load or
faults, report.html, junit.xml, summary.md) that report and compare read like a run's.
Exit: 0 gate PASS or WARN, 1 FAIL or ERROR, 2 bad input, 3 Prometheus unreachable.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			fmt.Fprintf(errOut, "evaluating %d objectives from %s over %d window(s)\n", len(o.SLO.Objectives), o.SLO.File, len(o.Windows))
			ev, err := run.Evaluate(cmd.Context(), o)
			if err != nil {
				return err
			}
			if err := ev.Report.WriteTable(out); err != nil {
				return err
			}
			if f.out != "" {
				if err := reports.WriteRunDir(f.out, ev.Run); err != nil {
					return exitcode.New(exitcode.Infra, err)
				}
				fmt.Fprintf(errOut, "wrote %s/{%s,%s,%s,%s}\n", f.out, reports.RunFile, reports.HTMLFile, reports.JUnitFile, reports.MarkdownFile)
			}
			if ev.Run.Verdict != verdict.Go {
				return exitcode.New(exitcode.NoGo, nil)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.promURL, "prometheus-url", "", "Prometheus base URL, e.g. http://127.0.0.1:9090")
	fs.StringVar(&f.tsdb, "tsdb", "", "saved TSDB directory (a run's tsdb/), opened read-only")
	fs.StringVar(&f.from, "from", "", "start of the run window (RFC 3339 or Unix seconds)")
	fs.StringVar(&f.to, "to", "", "end of the run window (RFC 3339 or Unix seconds)")
	fs.StringVar(&f.sloFile, "slo", "", "SLO file (default: the built-in DailyDoco Pro set)")
	fs.StringVar(&f.out, "out", "", "run directory to write run.json and the reports into")
	fs.StringVar(&f.baseline, "baseline", "", "run.json of an earlier run or evaluation, for relative criteria")
	fs.StringArrayVar(&f.windows, "window", nil, "extra window NAME=FROM,TO (repeatable), e.g. plateau=...,...")
	return cmd
}

// options parses the flags into the evaluation's options; every problem is bad input.
func (f *evaluateFlags) options() (run.EvaluateOptions, error) {
	bad := func(err error) (run.EvaluateOptions, error) {
		return run.EvaluateOptions{}, exitcode.New(exitcode.BadInput, err)
	}
	from, err := parseTime("--from", f.from)
	if err != nil {
		return bad(err)
	}
	to, err := parseTime("--to", f.to)
	if err != nil {
		return bad(err)
	}
	if !to.After(from) {
		return bad(fmt.Errorf("evaluate: --to %s is not after --from %s", to.Format(time.RFC3339), from.Format(time.RFC3339)))
	}
	if f.out != "" {
		// Checked before anything is evaluated: an --out we cannot write into is the user's to
		// fix (exit 2), not an infrastructure failure found at the end.
		if err := outdir.Check(f.out); err != nil {
			return bad(fmt.Errorf("--out: %w", err))
		}
	}
	o := run.EvaluateOptions{PrometheusURL: f.promURL, TSDB: f.tsdb, Version: version,
		Windows: []slo.Window{{Name: "run", Start: from, End: to}}}
	for _, w := range f.windows {
		win, err := parseWindow(w)
		if err != nil {
			return bad(err)
		}
		o.Windows = append(o.Windows, win)
	}
	if o.SLO, err = loadSLO(f.sloFile); err != nil {
		return run.EvaluateOptions{}, err
	}
	if f.baseline != "" {
		if o.Baseline, err = reports.ReadRun(f.baseline); err != nil {
			return bad(fmt.Errorf("--baseline: %w", err))
		}
	}
	return o, nil
}

// parseTime accepts RFC 3339 or Unix seconds (with a fraction).
func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("evaluate: %s is required", flag)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	// Unix seconds within a few millennia either way: NaN, infinities and values whose
	// milliseconds overflow an int64 would become an arbitrary time.
	if f, err := strconv.ParseFloat(s, 64); err == nil && math.Abs(f) < 1e11 {
		return time.UnixMilli(int64(f * 1000)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("evaluate: %s %q: want RFC 3339 (2026-01-02T15:04:05Z) or Unix seconds", flag, s)
}

func parseWindow(s string) (slo.Window, error) {
	name, rng, ok := strings.Cut(s, "=")
	a, b, ok2 := strings.Cut(rng, ",")
	if !ok || !ok2 || name == "" {
		return slo.Window{}, fmt.Errorf("evaluate: --window %q: want NAME=FROM,TO", s)
	}
	from, err := parseTime("--window "+name+" start", a)
	if err != nil {
		return slo.Window{}, err
	}
	to, err := parseTime("--window "+name+" end", b)
	if err != nil {
		return slo.Window{}, err
	}
	if !to.After(from) {
		return slo.Window{}, fmt.Errorf("evaluate: --window %s: end is not after start", name)
	}
	return slo.Window{Name: name, Start: from, End: to}, nil
}
