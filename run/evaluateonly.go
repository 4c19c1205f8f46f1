package run

import (
	"context"
	"encoding/json"
	"runtime"
	"time"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/verdict"
)

// EvaluateOptions are the inputs of an evaluation on data that already exists (`ddp-verify
// evaluate`): no load, no fault, only the SLO set over windows of a Prometheus's data.
type EvaluateOptions struct {
	// PrometheusURL or TSDB (a saved run's tsdb/, opened read-only): exactly one.
	PrometheusURL string
	TSDB          string
	// Windows are the windows to evaluate; the first is the whole evaluation ("run").
	Windows []slo.Window
	SLO     *slo.Spec
	// Baseline is an earlier run.json for the SLO set's relative criteria.
	Baseline *reports.Run
	Version  string
}

// Evaluation is an evaluation's outcome: a run record without load or faults (so that
// `report` and `compare` work on it), and the SLO report it came from.
type Evaluation struct {
	Run    *reports.Run
	Report *slo.Report
}

// Evaluate evaluates the SLO set on existing data. Errors carry their exit code: bad input,
// an unreachable Prometheus (infrastructure), or an interruption.
func Evaluate(ctx context.Context, o EvaluateOptions) (*Evaluation, error) {
	if (o.PrometheusURL == "") == (o.TSDB == "") {
		return nil, badInput("evaluate: give exactly one of --prometheus-url and --tsdb")
	}
	if len(o.Windows) == 0 || o.SLO == nil {
		return nil, badInput("evaluate: a window and an SLO set are required")
	}
	url, target := o.PrometheusURL, o.PrometheusURL
	versions := map[string]string{"prometheus": "external " + o.PrometheusURL}
	if o.TSDB != "" {
		ro, err := prom.OpenReadOnly(o.TSDB, prom.Options{})
		if err != nil {
			return nil, badInput("evaluate: --tsdb: %w", err)
		}
		defer ro.Close()
		url, target = ro.URL(), "tsdb "+o.TSDB
		versions["prometheus"] = "embedded " + prom.Version
	} else if err := checkURL("prometheus-url", o.PrometheusURL); err != nil {
		return nil, err
	}
	api, err := prometheusAPI(url)
	if err != nil {
		return nil, err
	}
	run := o.Windows[0]
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	_, _, _, err = api.Query(pctx, "vector(1)", run.End)
	cancel()
	switch {
	case ctx.Err() != nil:
		return nil, exitcode.New(exitcode.Interrupted, ctx.Err())
	case err != nil:
		return nil, infra("evaluate: Prometheus at %s is unreachable: %w", url, err)
	}
	rep := slo.Evaluate(ctx, api, o.SLO, o.Windows, slo.Options{Baseline: baselineOf(o.Baseline)})
	if ctx.Err() != nil {
		return nil, exitcode.New(exitcode.Interrupted, ctx.Err())
	}
	versions["ddp-verify"], versions["go"] = o.Version, runtime.Version()
	return &Evaluation{Run: evaluationRecord(rep, run, target, versions), Report: rep}, nil
}

// evaluationRecord is the run record of an evaluation: the objectives, the gate as the
// verdict, the windows on the timeline.
func evaluationRecord(rep *slo.Report, run slo.Window, target string, versions map[string]string) *reports.Run {
	rec := &reports.Run{
		Schema: reports.Schema, RunID: newRunID(run.End, "evaluate"), Profile: "evaluate", Target: target,
		Versions: versions, StartedAt: run.Start.UTC(), EndedAt: run.End.UTC(),
		Score: rep.Score, Reasons: append([]string{}, rep.GateReasons...),
		SLOs: rep.Results, NotEvaluated: rep.Skipped, Chaos: []reports.ChaosResult{},
	}
	rec.Config, _ = json.Marshal(map[string]string{"slo_file": rep.SLOFile})
	for _, w := range rep.Windows {
		rec.Timeline = append(rec.Timeline, reports.Event{Kind: reports.EventWindow, Name: w.Name, Start: w.Start.UTC(), End: w.End.UTC()})
	}
	rec.Verdict = verdict.NoGo
	if rep.Gate.Met() && len(rep.Results) > 0 {
		rec.Verdict = verdict.Go
	}
	return rec
}
