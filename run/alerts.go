package run

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/alerting"
	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
)

// maxAlertPoints bounds the samples per series of the ALERTS range query (Prometheus refuses
// more than 11,000).
const maxAlertPoints = 10_000

// alertStep is the resolution the alerts of a run from t0 to end are read at: the embedded
// Prometheus's scrape and evaluation interval, coarser only for a run too long for it.
func alertStep(t0, end time.Time) time.Duration {
	return max(prom.DefaultScrapeInterval, end.Sub(t0)/maxAlertPoints+time.Second).Truncate(time.Second)
}

// alertEvents are the alerts that fired during the run, from the ALERTS series of the target's
// Prometheus (the embedded one evaluates the deployment plan's rules; a URL target's
// Prometheus its own): one timeline event per firing span of each alert, with its severity and
// what it is about as the detail, and the receivers the run's Alertmanager routing sends it
// to. Nothing fired, or no ALERTS series at all, is an empty list.
func (r *runner) alertEvents(ctx context.Context, t0, end time.Time) []reports.Event {
	spans, err := alerting.ReadSpans(ctx, r.platform.alertsAPI(), t0, end, alertStep(t0, end))
	if err != nil {
		r.log.Warn("the alerts that fired could not be read; the timeline lists none", "err", err)
		return nil
	}
	var out []reports.Event
	routes := r.o.routing()
	for _, s := range spans {
		out = append(out, reports.Event{Kind: reports.EventAlert, Name: s.Alert, Detail: alertDetail(s),
			Start: s.Start, End: s.End, Receivers: routes.Receivers(s.Alert, s.Labels)})
	}
	return out
}

// alertDetailLabels are the labels an alert event names, in this order.
var alertDetailLabels = []string{"severity", "zone", "node", "service"}

// alertDetail is "severity=critical node=gpu-1a-1" for the labels an alert carries.
func alertDetail(s alerting.Span) string {
	var parts []string
	for _, l := range alertDetailLabels {
		if v, ok := s.Labels[l]; ok {
			parts = append(parts, l+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// judgeAlerts adds the alert objectives of a profile with an alerts section to the report:
// each fault's expected alerts fired and resolved in time, no critical alert fired that no
// fault expects, and with alerts.page_receiver every critical rule and alert reaches it through
// the run's Alertmanager routing (package alerting). The expectations are not evaluated in a time-scaled
// run (the platform's detection times do not scale) nor where the target's Prometheus runs
// its own rules unscaled while the profile scales them.
func (r *runner) judgeAlerts(ctx context.Context, ex *execution, end time.Time, rep *slo.Report) {
	if r.plan.Profile.Alerts == nil {
		return
	}
	t0, end := r.wall.at(ex.t0), r.wall.at(end)
	in := alerting.Input{Start: t0, End: end, Step: alertStep(t0, end), Faults: r.alertFaults(ex),
		SkipExpectations: r.alertSkip(), Routes: r.o.routing(), PageReceiver: r.plan.Profile.Alerts.PageReceiver}
	api := r.platform.alertsAPI()
	if rules, err := alerting.ReadRules(ctx, api); err != nil {
		in.Unreadable = err
	} else if spans, err := alerting.ReadSpans(ctx, api, t0, end, in.Step); err != nil {
		in.Unreadable = err
	} else {
		in.Rules, in.Spans = rules, spans
	}
	rep.Include(alerting.Judge(in), alerting.Skipped(in))
}

// alertSkip is why the faults' alert expectations are not evaluated, or "".
func (r *runner) alertSkip() string {
	switch f := r.plan.Profile.AlertForScale(); {
	case r.plan.TimeScale() < 1:
		return fmt.Sprintf("the run is time-scaled (%g): the platform's detection (node grace period) and the rules' for clauses do not scale with it", r.plan.TimeScale())
	case f != 1 && !r.platform.HarnessRules:
		return fmt.Sprintf("the profile scales the rules' for clauses by %g (alerts.for_scale), but the target's Prometheus runs its own rules as written", f)
	}
	return ""
}

// alertFaults are the plan's faults as their backend confirmed them, with the alerts each
// expects. A fault that never ran is not confirmed.
func (r *runner) alertFaults(ex *execution) []alerting.Fault {
	ran := map[string][2]time.Time{}
	for _, res := range ex.faults {
		ran[res.Fault.ID] = [2]time.Time{r.wall.at(res.Injected.Tool), r.wall.at(res.Recovered.Tool)}
	}
	var out []alerting.Fault
	for _, f := range r.plan.Profile.Chaos { // none under --no-chaos
		af := alerting.Fault{Name: f.Name, Injected: ran[f.Name][0], Recovered: ran[f.Name][1]}
		for _, e := range f.Alerts {
			af.Expect = append(af.Expect, alerting.Expectation{Alert: e.Alert, Labels: e.Labels,
				FireWithin: e.FireWithin.Duration, ResolveWithin: e.ResolveWithin.Duration})
		}
		out = append(out, af)
	}
	return out
}
