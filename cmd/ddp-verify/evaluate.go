package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/slo"
)

// evaluateOptions are the evaluate command's flags (kubectl's Options pattern).
type evaluateOptions struct {
	promURL, tsdb, from, to, sloFile, out, baseline string
	windows                                         []string
}

func newEvaluateCmd(out, errOut io.Writer) *cobra.Command {
	var o evaluateOptions
	cmd := &cobra.Command{
		Use:   "evaluate (--prometheus-url URL | --tsdb DIR) --from T --to T [--slo FILE] [--out DIR]",
		Short: "Evaluate SLOs on existing Prometheus data (external, or a saved embedded TSDB)",
		Long: `Evaluate an SLO file (default: the built-in DailyDoco Pro set) over the window "run"
from --from to --to, plus any --window NAME=FROM,TO. Times are RFC 3339 or Unix seconds.
Prints a table and the gate; with --out, writes DIR/slo.json.
Exit: 0 gate PASS or WARN, 1 FAIL or ERROR, 2 bad input, 3 Prometheus unreachable.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), out, errOut)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.promURL, "prometheus-url", "", "Prometheus base URL, e.g. http://127.0.0.1:9090")
	f.StringVar(&o.tsdb, "tsdb", "", "saved TSDB directory (a run's tsdb/), opened read-only")
	f.StringVar(&o.from, "from", "", "start of the run window (RFC 3339 or Unix seconds)")
	f.StringVar(&o.to, "to", "", "end of the run window (RFC 3339 or Unix seconds)")
	f.StringVar(&o.sloFile, "slo", "", "SLO file (default: the built-in DailyDoco Pro set)")
	f.StringVar(&o.out, "out", "", "directory to write slo.json into")
	f.StringVar(&o.baseline, "baseline", "", "slo.json of an earlier evaluation, for relative criteria")
	f.StringArrayVar(&o.windows, "window", nil, "extra window NAME=FROM,TO (repeatable), e.g. plateau=...,...")
	return cmd
}

func (o *evaluateOptions) run(ctx context.Context, out, errOut io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// Validate everything before touching Prometheus.
	if (o.promURL == "") == (o.tsdb == "") {
		return withExitCode(exitBadInput, errors.New("evaluate: give exactly one of --prometheus-url and --tsdb"))
	}
	from, err := parseTime("--from", o.from)
	if err != nil {
		return withExitCode(exitBadInput, err)
	}
	to, err := parseTime("--to", o.to)
	if err != nil {
		return withExitCode(exitBadInput, err)
	}
	if !to.After(from) {
		return withExitCode(exitBadInput, fmt.Errorf("evaluate: --to %s is not after --from %s", to.Format(time.RFC3339), from.Format(time.RFC3339)))
	}
	windows := []slo.Window{{Name: "run", Start: from, End: to}}
	for _, w := range o.windows {
		win, err := parseWindow(w)
		if err != nil {
			return withExitCode(exitBadInput, err)
		}
		windows = append(windows, win)
	}
	var spec *slo.Spec
	if o.sloFile == "" {
		spec, err = slo.Default()
	} else {
		spec, err = slo.Load(o.sloFile)
	}
	if err != nil {
		return withExitCode(exitBadInput, err)
	}
	var baseline *slo.Baseline
	if o.baseline != "" {
		prev, err := slo.ReadReport(o.baseline)
		if err != nil {
			return withExitCode(exitBadInput, err)
		}
		baseline = slo.NewBaseline(o.baseline, prev.Results)
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return withExitCode(exitBadInput, fmt.Errorf("evaluate: --out: %w", err))
		}
	}

	url := o.promURL
	if o.tsdb != "" {
		if _, err := os.Stat(o.tsdb); err != nil {
			return withExitCode(exitBadInput, fmt.Errorf("evaluate: --tsdb: %w", err))
		}
		ro, err := prom.OpenReadOnly(o.tsdb, prom.Options{})
		if err != nil {
			return withExitCode(exitInfra, err)
		}
		defer ro.Close()
		url = ro.URL()
	}
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return withExitCode(exitBadInput, fmt.Errorf("evaluate: --prometheus-url: %w", err))
	}
	q := v1.NewAPI(c)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	_, _, _, err = q.Query(pctx, "vector(1)", to)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return withExitCode(exitInterrupted, ctx.Err())
		}
		return withExitCode(exitInfra, fmt.Errorf("evaluate: Prometheus at %s is unreachable: %w", url, err))
	}
	fmt.Fprintf(errOut, "evaluating %d objectives from %s over %d window(s) at %s\n", len(spec.Objectives), spec.File, len(windows), url)

	rep := slo.Evaluate(ctx, q, spec, windows, slo.Options{Baseline: baseline})
	if ctx.Err() != nil {
		return withExitCode(exitInterrupted, ctx.Err())
	}
	if err := rep.WriteTable(out); err != nil {
		return err
	}
	if o.out != "" {
		p := filepath.Join(o.out, "slo.json")
		if err := rep.WriteFile(p); err != nil {
			return withExitCode(exitInfra, err)
		}
		fmt.Fprintf(errOut, "wrote %s\n", p)
	}
	if !rep.Passed() {
		return withExitCode(exitNoGo, nil)
	}
	return nil
}

// parseTime accepts RFC 3339 or Unix seconds (with a fraction).
func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("evaluate: %s is required", flag)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
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
