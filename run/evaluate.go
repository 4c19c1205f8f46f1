package run

import (
	"context"
	"time"

	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
)

// evaluate runs the SLO set over the plan's windows on the run's clock, and judges the alerts
// when the profile asks for it (judgeAlerts). Under --no-chaos the
// plan has no fault, so fault and recovery objectives are listed as not evaluated; a
// time-scaled plan leaves out full_length_only objectives, also listed with the reason.
func (r *runner) evaluate(ctx context.Context, ex *execution, d drained) *slo.Report {
	ws := r.wall.windows(runWindows(r.plan.Timeline, ex.t0, ex.loadEnd, d.end))
	rep := slo.Evaluate(ctx, r.platform.Prometheus, r.o.SLO, ws, slo.Options{
		Baseline: baselineOf(r.o.Baseline), Logger: r.log, TimeScale: r.plan.TimeScale(), Now: r.clock.Now,
		Decision: r.plan.Decision(),
	})
	r.judgeAlerts(ctx, ex, d.end, rep)
	return rep
}

// runWindows places the profile's windows on the clock; the "run" window reaches to the end
// of the drain so that videos finished after the last user left are counted.
func runWindows(tl profile.Timeline, t0, loadEnd, end time.Time) []slo.Window {
	ws := sloWindows(tl, t0, loadEnd)
	for i := range ws {
		if ws[i].Name == profile.WindowRun {
			ws[i].End = end
		}
	}
	return ws
}

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
		out = append(out, slo.Window{Name: w.Name, Start: s, End: e, Fault: w.Fault})
	}
	return out
}

// baselineOf turns an earlier run's results into the evaluator's baseline.
func baselineOf(r *reports.Run) *slo.Baseline {
	if r == nil {
		return nil
	}
	return slo.NewBaseline(r.RunID, r.SLOs)
}
