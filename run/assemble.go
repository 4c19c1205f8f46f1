package run

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
)

// sloWindows places the profile's windows on the wall clock of a run that started at t0. A
// window that ends after the run did (an interrupted run) is cut at end; one that had not
// started is left out, since evaluating it would only ever give NO_DATA.
func sloWindows(tl profile.Timeline, t0, end time.Time) []slo.Window {
	var out []slo.Window
	for _, w := range tl.Windows {
		s, e := t0.Add(w.Start), t0.Add(w.End)
		if !s.Before(end) {
			continue
		}
		if e.After(end) {
			e = end
		}
		out = append(out, slo.Window{Name: w.Name, Start: s, End: e})
	}
	return out
}

// chaosFaults converts the profile's fault schedule to the chaos model.
func chaosFaults(p *profile.Profile) []chaos.Fault {
	out := make([]chaos.Fault, 0, len(p.Chaos))
	for _, f := range p.Chaos {
		out = append(out, chaos.Fault{
			ID:       f.Name,
			Kind:     chaos.Kind(f.Fault),
			At:       f.At.Duration,
			Duration: f.Duration.Duration,
			Force:    f.Force,
			Target: chaos.Target{
				Zone:    f.Target.Zone,
				Mode:    chaos.ZoneMode(f.Mode),
				Pool:    f.Target.Pool,
				Count:   f.Target.Count,
				Node:    f.Target.Node,
				Service: f.Target.Service,
				Latency: f.Latency.Duration,
			},
		})
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

// sloResults converts the evaluator's results for run.json, with the objective's criterion.
func sloResults(spec *slo.Spec, rep *slo.Report) []reports.SLOResult {
	objectives := map[string]slo.Objective{}
	for _, o := range spec.Objectives {
		objectives[o.ID] = o
	}
	out := make([]reports.SLOResult, 0, len(rep.Results))
	for _, r := range rep.Results {
		o := objectives[r.ID]
		sr := reports.SLOResult{
			ID: r.ID, DisplayName: r.DisplayName, Window: r.Window.Name,
			WindowStart: r.Window.Start, WindowEnd: r.Window.End,
			Query: r.Query, Value: r.Value, Unit: r.Unit, Op: o.Op,
			Baseline: r.Baseline, Status: reports.Status(r.Status),
			Warnings: r.Warnings, Key: r.Key, Weight: r.Weight, Error: errorText(r),
		}
		if sr.Op == "" {
			sr.Op = relativeOp(o.Relative)
		}
		// The declared criterion; a computed threshold (relative criteria) replaces it below.
		if o.Value != nil {
			sr.Objective = *o.Value
		}
		if o.Warning != nil {
			w := *o.Warning
			sr.Warning = &w
		}
		for _, t := range r.Targets {
			if t.Threshold == nil {
				continue
			}
			switch t.Kind {
			case "pass":
				sr.Objective = *t.Threshold
			case "warning":
				v := *t.Threshold
				sr.Warning = &v
			}
		}
		if r.SampleCount != nil {
			sr.SampleCount = int64(*r.SampleCount)
		}
		for _, e := range r.Evidence {
			if e.Value != nil {
				sr.Evidence = append(sr.Evidence, reports.Evidence{Label: e.Name, Value: *e.Value, Unit: e.Unit})
			}
		}
		out = append(out, sr)
	}
	return out
}

// errorText is the explanation shown for a result that has no value or did not pass.
func errorText(r slo.Result) string {
	if r.Status == slo.StatusPass || r.Status == slo.StatusWarn {
		return ""
	}
	return r.Reason
}

// relativeOp extracts the comparison operator of a relative criterion such as "<=+10%".
func relativeOp(rel string) string {
	for _, op := range []string{"<=", ">=", "<", ">"} {
		if strings.HasPrefix(rel, op) {
			return op
		}
	}
	return "<="
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
