package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
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
	t0, end := r.wall.at(ex.t0), r.wall.at(d.end) // where Prometheus's samples are
	rec := &reports.Run{
		Schema: reports.Schema, RunID: r.runID, Profile: r.plan.Name(), Target: r.platform.Name,
		Versions:  map[string]string{"ddp-verify": r.o.Version, "go": runtime.Version()},
		StartedAt: t0.UTC(), EndedAt: end.UTC(),
		Timeline:     r.wall.events(timelineEvents(r.plan.Timeline, ex.t0)),
		SLOs:         rep.Results,
		Chaos:        chaosResults(r.plan.Profile, ex),
		TimeScale:    r.plan.TimeScale(),
		Seed:         r.o.seed(),
		NotEvaluated: rep.Skipped,
	}
	for k, v := range r.platform.Versions {
		rec.Versions[k] = v
	}
	if ex.load != nil && ex.load.Snapshot != nil {
		rec.Load = loadResults(ex.load.Snapshot, r.plan.Timeline, ex.t0)
		for i, s := range rec.Load.Stages {
			rec.Load.Stages[i].Start, rec.Load.Stages[i].End = r.wall.at(s.Start), r.wall.at(s.End)
		}
	}
	api := r.platform.Prometheus
	rec.Series = series(ctx, api, ex.load, t0, end)
	rec.Timeline = append(rec.Timeline, r.alertEvents(ctx, t0, end)...)
	rec.Videos, rec.Cost = videosAndCost(ctx, api, t0, end)
	rec.Videos.Drain = d.outcome()
	rec.Agents = agentRecords(ex.agents)
	if r.o.NoChaos {
		for _, f := range r.o.Plan.Faults {
			rec.FaultsSkipped = append(rec.FaultsSkipped, f.ID)
		}
	}
	// The profile as given (with its faults even under --no-chaos), so the run can be repeated.
	if cfg, err := json.Marshal(r.o.Plan.Profile); err == nil {
		rec.Config = cfg
	}
	return rec
}

// decide sets the verdict, the score and the reasons. GO needs every one of these: the SLO gate
// passed (missing data never passes, and a run that evaluated nothing is NO-GO), no threshold
// stopped the load, every planned fault was injected and undone as its backend confirmed (none
// left in force), and every accepted video was processed or failed, none unfinished or lost.
func decide(rec *reports.Run, rep *slo.Report, ex *execution, planned []chaos.Fault) {
	rec.Score = rep.Score
	reasons := append([]string{}, rep.GateReasons...)
	if len(rep.Results) == 0 {
		reasons = append(reasons, "no objective was evaluated")
	}
	if ex.load != nil && ex.load.Aborted != nil {
		reasons = append(reasons, fmt.Sprintf("load stopped early: threshold %s failed", ex.load.Aborted.Source))
	}
	reasons = append(reasons, faultReasons(rec, ex, planned)...)
	reasons = append(reasons, videoReasons(rec.Videos)...)
	reasons = append(reasons, agentReasons(ex.agents)...)
	switch {
	case ex.aborted:
		rec.Verdict = verdict.Aborted
		reasons = append([]string{"interrupted: the run was stopped before its end; results cover what was collected"}, reasons...)
	case rep.Gate.Met() && len(reasons) == len(rep.GateReasons):
		rec.Verdict = verdict.Go
	default:
		rec.Verdict = verdict.NoGo
	}
	rec.Reasons = reasons
}

// faultReasons says which planned faults were not injected and undone as their backend
// confirmed, and which were left in force. An interrupted run is not blamed for the faults
// it never reached.
func faultReasons(rec *reports.Run, ex *execution, planned []chaos.Fault) []string {
	var out []string
	ran := map[string]reports.ChaosResult{}
	for _, c := range rec.Chaos {
		ran[c.Fault] = c
	}
	for _, f := range planned {
		c, ok := ran[f.ID]
		switch {
		case !ok && !ex.aborted:
			out = append(out, fmt.Sprintf("fault %s was planned but never ran", f.ID))
		case !ok:
		case c.Error != "" && strings.HasPrefix(c.Error, "fault "+f.ID+":"):
			out = append(out, c.Error)
		case c.Error != "":
			out = append(out, fmt.Sprintf("fault %s: %s", f.ID, c.Error))
		case c.InjectedAt == nil && !ex.aborted:
			out = append(out, fmt.Sprintf("fault %s was never confirmed injected: resilience to it was not verified", f.ID))
		case c.InjectedAt != nil && c.RecoveredAt == nil:
			out = append(out, fmt.Sprintf("fault %s was never confirmed undone", f.ID))
		}
	}
	var left *chaos.LeftoverError
	if errors.As(ex.chaosErr, &left) {
		out = append(out, fmt.Sprintf("faults left in force (run id %s): %s", rec.RunID, left.Error()))
	}
	return out
}

// videoReasons says which accepted videos are not accounted for as processed or failed.
func videoReasons(v reports.Videos) []string {
	var out []string
	if v.Unfinished > 0 {
		msg := fmt.Sprintf("%d accepted videos never finished", v.Unfinished)
		if v.OldestUnfinishedSeconds != nil {
			msg += fmt.Sprintf(" (the oldest had waited %s)", (time.Duration(*v.OldestUnfinishedSeconds) * time.Second).String())
		}
		if v.Drain != "" {
			msg += "; drain " + v.Drain
		}
		out = append(out, msg)
	}
	if v.Lost > 0 {
		out = append(out, fmt.Sprintf("%d accepted videos were lost", v.Lost))
	}
	return out
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

// chaosResults converts the scheduler's records for run.json, with the service recovery the
// watch measured. The undo time is measured by the tool, from recovery requested to recovery
// confirmed.
func chaosResults(p *profile.Profile, ex *execution) []reports.ChaosResult {
	t0, results := ex.t0, ex.faults
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
				c.UndoSeconds = &s
			}
		}
		if t := r.Injected.Backend; !t.IsZero() {
			c.BackendInjectedAt = &t
		}
		if t := r.Recovered.Backend; !t.IsZero() {
			c.BackendRecoveredAt = &t
		}
		if d, ok := ex.serviceRecovery[r.Fault.ID]; ok {
			secs := d.Seconds()
			c.ServiceRecoverySeconds = &secs
		}
		if c.Targets == nil {
			c.Targets = []string{}
		}
		out = append(out, c)
	}
	return out
}

// loadResults converts the engine's snapshot: totals, one row per journey step and one per
// stage, and each scenario's failure backoffs (zeros included, so a record says "none").
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
		l.Backoffs = append(l.Backoffs, reports.Backoff{Scenario: sc.Name, Count: int64(sc.Backoffs), Seconds: math.Round(sc.BackoffSeconds*1000) / 1000})
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
	// Only when every scenario the filter covers is arrival-rate: over closed-model scenarios
	// too, those iterations (a capture's minute of live recording) would stand for every
	// request's response time.
	st.Service = st.Response
	if rt := snap.TrendStats(load.MetricIterResponseTime, f); rt.Count > 0 && allArrivalRate(snap, f) {
		st.Response = latencyOf(rt)
	}
	return st
}

// allArrivalRate reports whether every scenario f covers that ran an iteration recorded
// iteration response times, as only arrival-rate executors do.
func allArrivalRate(snap *load.Snapshot, f load.Filter) bool {
	for _, sc := range snap.Scenarios {
		if name, ok := f["scenario"]; (ok && name != sc.Name) || sc.Iterations+sc.Failed+sc.Interrupted == 0 {
			continue
		}
		if snap.TrendStats(load.MetricIterResponseTime, load.Filter{"scenario": sc.Name}).Count == 0 {
			return false
		}
	}
	return true
}

func latencyOf(ts load.TrendStats) reports.Latency {
	return reports.Latency{Avg: ts.Avg, P50: ts.Med, P90: ts.P90, P95: ts.P95, P99: ts.P99, Max: ts.Max}
}
