package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"time"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/verdict"
)

// assemble builds the run.json record from what the phases collected: the timeline, the load
// generator's statistics, the SLO results, the faults, the chart series and the video and cost
// accounting from Prometheus. The verdict is left to [decide].
func (r *runner) assemble(ctx context.Context, ex *execution, d drained, rep *slo.Report) *reports.Run {
	rec := &reports.Run{
		Schema: reports.Schema, RunID: r.runID, Profile: r.plan.Name(), Target: r.platform.Name,
		Versions:  map[string]string{"ddp-verify": r.o.Version, "go": runtime.Version()},
		StartedAt: ex.t0.UTC(), EndedAt: d.end.UTC(),
		Timeline:     timelineEvents(r.plan.Timeline, ex.t0),
		SLOs:         rep.Results,
		Chaos:        chaosResults(r.plan.Profile, ex.t0, ex.faults),
		TimeScale:    r.plan.TimeScale(),
		Seed:         r.o.seed(),
		NotEvaluated: rep.Skipped,
	}
	for k, v := range r.platform.Versions {
		rec.Versions[k] = v
	}
	if ex.load != nil && ex.load.Snapshot != nil {
		rec.Load = loadResults(ex.load.Snapshot, r.plan.Timeline, ex.t0)
	}
	api := r.platform.Prometheus
	rec.Series = series(ctx, api, ex.load, ex.t0, d.end)
	rec.Videos, rec.Cost = videosAndCost(ctx, api, ex.t0, d.end)
	// The profile as given (with its faults even under --no-chaos), so the run can be repeated.
	if cfg, err := json.Marshal(r.o.Plan.Profile); err == nil {
		rec.Config = cfg
	}
	return rec
}

// decide sets the verdict, the score and the reasons. Missing data never passes: the gate of
// the SLO evaluation already fails on NO_DATA and ERROR, and a run that evaluated nothing is
// NO-GO.
func decide(rec *reports.Run, rep *slo.Report, ex *execution) {
	rec.Score = rep.Score
	rec.Reasons = append(rec.Reasons, rep.GateReasons...)
	goAhead := rep.Gate.Met()
	if len(rep.Results) == 0 {
		goAhead = false
		rec.Reasons = append(rec.Reasons, "no objective was evaluated")
	}
	if ex.load != nil && ex.load.Aborted != nil {
		goAhead = false
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("load stopped early: threshold %s failed", ex.load.Aborted.Source))
	}
	for _, c := range rec.Chaos {
		if c.Error != "" {
			goAhead = false
			rec.Reasons = append(rec.Reasons, fmt.Sprintf("fault %s: %s", c.Fault, c.Error))
		}
	}
	var left *chaos.LeftoverError
	if errors.As(ex.chaosErr, &left) {
		goAhead = false
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("faults left in force (run id %s): %s", rec.RunID, left.Error()))
	}
	if rec.Videos.Lost > 0 {
		goAhead = false
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("%d accepted videos were lost", rec.Videos.Lost))
	}
	switch {
	case ex.aborted:
		rec.Verdict = verdict.Aborted
		rec.Reasons = append([]string{"interrupted: the run was stopped before its end; results cover what was collected"}, rec.Reasons...)
	case goAhead:
		rec.Verdict = verdict.Go
	default:
		rec.Verdict = verdict.NoGo
	}
	if rec.Reasons == nil {
		rec.Reasons = []string{}
	}
}

// timelineEvents lists the stages and planned faults on the wall clock.
func timelineEvents(tl profile.Timeline, t0 time.Time) []reports.Event {
	var ev []reports.Event
	for _, s := range tl.Stages {
		ev = append(ev, reports.Event{Kind: reports.EventStage, Name: s.Name, Start: t0.Add(s.Start), End: t0.Add(s.End),
			Detail: fmt.Sprintf("%g -> %g", s.From, s.To)})
	}
	for _, f := range tl.Faults {
		ev = append(ev, reports.Event{Kind: reports.EventFault, Name: f.Name, Start: t0.Add(f.Start), End: t0.Add(f.End),
			Detail: f.Fault.Kind() + " " + f.Fault.Target.String()})
	}
	for _, w := range tl.Windows {
		if w.Kind == profile.WindowDeclared {
			ev = append(ev, reports.Event{Kind: reports.EventWindow, Name: w.Name, Start: t0.Add(w.Start), End: t0.Add(w.End)})
		}
	}
	return ev
}

// chaosResults converts the scheduler's records for run.json. Recovery time is measured by
// the tool, from recovery requested to recovery confirmed.
func chaosResults(p *profile.Profile, t0 time.Time, results []chaos.Result) []reports.ChaosResult {
	modes := map[string]string{}
	for _, f := range p.Chaos {
		modes[f.Name] = f.Mode
	}
	out := make([]reports.ChaosResult, 0, len(results))
	for _, r := range results {
		c := reports.ChaosResult{
			Fault: r.Fault.ID, Kind: string(r.Fault.Kind), Mode: modes[r.Fault.ID],
			Targets: r.Targets, Error: r.Error,
		}
		planned := t0.Add(r.Fault.At)
		c.PlannedAt = &planned
		if t := r.Injected.Tool; !t.IsZero() {
			c.InjectedAt = &t
		}
		if t := r.Recovered.Tool; !t.IsZero() {
			c.RecoveredAt = &t
			if req := r.RecoveryRequested.Tool; !req.IsZero() {
				s := t.Sub(req).Seconds()
				c.RecoverySeconds = &s
			}
		}
		if c.Targets == nil {
			c.Targets = []string{}
		}
		out = append(out, c)
	}
	return out
}

// loadResults converts the engine's snapshot: totals, one row per journey step and one per stage.
func loadResults(snap *load.Snapshot, tl profile.Timeline, t0 time.Time) reports.Load {
	elapsed := snap.Elapsed.Seconds()
	var l reports.Load
	l.Total = statsOf(snap, load.Filter{}, elapsed)
	type key struct{ scenario, step string }
	seen := map[key]bool{}
	for _, s := range snap.Series {
		if s.Metric != load.MetricReqDuration {
			continue
		}
		k := key{s.Tags["scenario"], s.Tags["step"]}
		if k.step == "" || seen[k] {
			continue
		}
		seen[k] = true
		l.Steps = append(l.Steps, reports.StepStats{Scenario: k.scenario, Step: k.step,
			Stats: statsOf(snap, load.Filter{"scenario": k.scenario, "step": k.step}, elapsed)})
	}
	sort.Slice(l.Steps, func(i, j int) bool {
		if l.Steps[i].Scenario != l.Steps[j].Scenario {
			return l.Steps[i].Scenario < l.Steps[j].Scenario
		}
		return l.Steps[i].Step < l.Steps[j].Step
	})
	for _, sc := range snap.Scenarios {
		var spans []profile.StageSpan
		for _, st := range tl.Stages {
			if st.Scenario == sc.Name {
				spans = append(spans, st)
			}
		}
		for _, st := range sc.Stages {
			if st.Index >= len(spans) {
				continue
			}
			span := spans[st.Index]
			secs := (span.End - span.Start).Seconds()
			ss := reports.StageStats{Stage: span.Name, Start: t0.Add(span.Start), End: t0.Add(span.End), TargetVUs: int(span.To)}
			ss.Count = int64(st.Requests)
			ss.Failures = int64(st.Failed)
			if secs > 0 {
				ss.RPS = float64(st.Requests) / secs
			}
			if st.Requests > 0 {
				ss.ErrorRate = float64(st.Failed) / float64(st.Requests)
			}
			ss.Response = reports.Latency{P50: st.P50, P95: st.P95, P99: st.P99}
			l.Stages = append(l.Stages, ss)
		}
	}
	return l
}

func statsOf(snap *load.Snapshot, f load.Filter, elapsed float64) reports.Stats {
	total, failed := snap.Rate(load.MetricReqFailed, f)
	ts := snap.TrendStats(load.MetricReqDuration, f)
	st := reports.Stats{Count: int64(total), Failures: int64(failed),
		Response: latencyOf(ts)}
	if elapsed > 0 {
		st.RPS = float64(total) / elapsed
	}
	if total > 0 {
		st.ErrorRate = float64(failed) / float64(total)
	}
	// Requests are timed from send to end (service time). In a closed model that is also the
	// user's response time; arrival-rate executors add the response time from the intended
	// start of each iteration, which includes any wait for a free VU (no coordinated omission).
	st.Service = st.Response
	if rt := snap.TrendStats(load.MetricIterResponseTime, f); rt.Count > 0 {
		st.Response = latencyOf(rt)
	}
	return st
}

func latencyOf(ts load.TrendStats) reports.Latency {
	return reports.Latency{Avg: ts.Avg, P50: ts.Med, P90: ts.P90, P95: ts.P95, P99: ts.P99, Max: ts.Max}
}
