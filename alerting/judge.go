package alerting

import (
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/dailydoco/ddp-verify/verdict"
)

// Objective ids: one fired and one resolved objective per expected alert (the alert and its
// labels follow a colon), one for the critical alerts no fault expects, one for the critical
// alerts that would not page.
const (
	IDFired      = "alert_fired"
	IDResolved   = "alert_resolved"
	IDUnexpected = "critical_alerts_unexpected"
	IDPaged      = "critical_alerts_paged"
)

// Critical is the severity that pages.
const Critical = "critical"

// Expectation is one alert a fault must raise and let resolve.
type Expectation struct {
	Alert string
	// Labels must all be on the alert; nil matches every instance of it.
	Labels map[string]string
	// FireWithin is how soon after the confirmed injection the alert must fire;
	// ResolveWithin how soon after the confirmed recovery it must have stopped.
	FireWithin, ResolveWithin time.Duration
}

// String is the alert with its labels: `ZoneDown{zone="us-east-1a"}`.
func (e Expectation) String() string { return e.Alert + labelText(e.Labels) }

// Fault is one fault of the run as its backend confirmed it, with the alerts it expects.
// A zero Injected or Recovered time was never confirmed.
type Fault struct {
	Name                string
	Injected, Recovered time.Time
	Expect              []Expectation
}

// Input is what [Judge] decides on: the run's span, its faults, the firing spans of every
// alert between Start and End, and the rules of the Prometheus that evaluated them.
type Input struct {
	Start, End time.Time
	Faults     []Fault
	Spans      []Span
	Rules      Rules
	// Step is the resolution the spans were read at: an alert still firing within two steps
	// of End had not resolved.
	Step time.Duration
	// Unreadable is why the rules or the spans could not be read: every objective is then an
	// ERROR that says so.
	Unreadable error
	// Routes and PageReceiver, when both are set, add the objective that every critical alert
	// reaches the paging receiver ([IDPaged]).
	Routes       *Routes
	PageReceiver string
	// SkipExpectations, when not empty, is why the faults' expectations are not judged (a
	// time-scaled run); only the unexpected critical alerts are.
	SkipExpectations string
}

// Judge gives the alert objectives: for each fault's expectation, that it fired in time
// ([IDFired], in the fault's window) and resolved in time ([IDResolved], in its recovery
// window), that no critical alert fired that no fault expects ([IDUnexpected], over the run),
// and with Routes and PageReceiver that every critical rule and alert reaches the pager
// ([IDPaged]). Each is a key objective: a page that did not come, or one that should not have, fails
// the gate. Missing evidence (no such rule, a rule that does not evaluate, a fault never
// confirmed) is NO_DATA or ERROR, never PASS.
func Judge(in Input) []verdict.Objective {
	var out []verdict.Objective
	if in.SkipExpectations == "" {
		for _, f := range in.Faults {
			for _, e := range f.Expect {
				out = append(out, in.fired(f, e), in.resolved(f, e))
			}
		}
	}
	out = append(out, in.unexpected())
	if in.Routes != nil && in.PageReceiver != "" {
		out = append(out, in.paged())
	}
	return out
}

// Skipped lists the expectations [Judge] leaves out under SkipExpectations, with the reason.
func Skipped(in Input) []verdict.NotEvaluated {
	if in.SkipExpectations == "" {
		return nil
	}
	var out []verdict.NotEvaluated
	for _, f := range in.Faults {
		for _, e := range f.Expect {
			for _, id := range []string{objectiveID(IDFired, e), objectiveID(IDResolved, e)} {
				out = append(out, verdict.NotEvaluated{ID: id, Key: true, Reason: f.Name + ": " + in.SkipExpectations})
			}
		}
	}
	return out
}

// objectiveID is "alert_fired:ZoneDown{zone=\"us-east-1a\"}".
func objectiveID(prefix string, e Expectation) string { return prefix + ":" + e.String() }

// objective is a key objective on an alert: value in seconds (or a count), single observation.
func objective(id, name, window string, start, end time.Time, limit float64, unit string) verdict.Objective {
	return verdict.Objective{ID: id, DisplayName: name, Window: window, WindowStart: start.UTC(), WindowEnd: end.UTC(),
		Unit: unit, Op: "<=", Objective: limit, Key: true, Weight: 1, SampleCount: 1,
		Interval: &verdict.Interval{Method: "single"}}
}

// query is the PromQL that shows an expected alert's firing.
func query(e Expectation) string {
	sel := fmt.Sprintf(`alertname=%q,alertstate="firing"`, e.Alert)
	if l := labelText(e.Labels); l != "" {
		sel += "," + l[1:len(l)-1]
	}
	return "ALERTS{" + sel + "}"
}

// decide sets the status from the value: PASS within the limit, FAIL with why beyond it.
func decide(o *verdict.Objective, v float64, fail string) {
	o.Value = &v
	o.Status = verdict.Pass
	if v > o.Objective {
		o.Status, o.Error = verdict.Fail, fail
	}
}

// missing marks an objective without the evidence to decide it.
func missing(o *verdict.Objective, status verdict.Status, why string) verdict.Objective {
	o.Status, o.Error = status, why
	return *o
}

// ruleProblem is why the expected alert's rule cannot show anything: not there, broken or
// never evaluated.
func (in Input) ruleProblem(alert string) (verdict.Status, string) {
	r, ok := in.Rules[alert]
	switch {
	case in.Unreadable != nil:
		return verdict.Error, in.Unreadable.Error()
	case !ok:
		return verdict.NoData, fmt.Sprintf("the Prometheus evaluates no alerting rule %s (its /api/v1/rules), so it could never fire", alert)
	case r.Health == v1.RuleHealthUnknown:
		return verdict.NoData, r.problem()
	case r.problem() != "":
		return verdict.Error, r.problem()
	}
	return "", ""
}

// matching are the spans of the expected alert.
func (in Input) matching(e Expectation) []Span {
	var out []Span
	for _, s := range in.Spans {
		if s.Alert == e.Alert && s.Has(e.Labels) {
			out = append(out, s)
		}
	}
	return out
}

// expectation is the objective on e that a window of within from from decides (the whole run
// when from was never confirmed); ok is false when the alert's rule cannot show anything, and
// the objective already says why.
func (in Input) expectation(prefix, name, window string, from time.Time, within time.Duration, e Expectation) (o verdict.Objective, ok bool) {
	start, end := from, from.Add(within)
	if from.IsZero() {
		start, end = in.Start, in.End
	}
	o = objective(objectiveID(prefix, e), name, window, start, end, within.Seconds(), "s")
	o.Query = query(e)
	if status, why := in.ruleProblem(e.Alert); status != "" {
		return missing(&o, status, why), false
	}
	return o, true
}

// fired: a span of the alert started within FireWithin of the injection. One that was
// already firing when the fault began shows nothing about the fault.
func (in Input) fired(f Fault, e Expectation) verdict.Objective {
	o, ok := in.expectation(IDFired, fmt.Sprintf("%s fires during %s", e, f.Name), "fault-"+f.Name, f.Injected, e.FireWithin, e)
	switch {
	case !ok:
		return o
	case f.Injected.IsZero():
		return missing(&o, verdict.NoData, fmt.Sprintf("fault %s was never confirmed injected", f.Name))
	}
	var before *Span
	for _, s := range in.matching(e) {
		switch {
		case s.Start.Before(f.Injected) && !s.End.Before(f.Injected):
			before = &s
		case !s.Start.Before(f.Injected) && !s.Start.After(in.allowanceEnd(f, e)):
			decide(&o, s.Start.Sub(f.Injected).Seconds(),
				fmt.Sprintf("%s fired %s after %s's injection, later than %s", e, round(s.Start.Sub(f.Injected)), f.Name, e.FireWithin))
			return o
		}
	}
	if before != nil {
		o.Status, o.Error = verdict.Fail, fmt.Sprintf("%s was already firing before %s's injection (since %s): it does not show that the fault raised it", e, f.Name, in.offset(before.Start))
		return o
	}
	if in.End.Before(o.WindowEnd) {
		return missing(&o, verdict.NoData, fmt.Sprintf("the run ended %s after %s's injection, before %s had %s to fire", round(in.End.Sub(f.Injected)), f.Name, e, e.FireWithin))
	}
	o.Status, o.Error = verdict.Fail, fmt.Sprintf("%s did not fire after %s's injection (its rule evaluated healthily)", e, f.Name)
	return o
}

// resolved: every span of the alert that began during the fault or its allowance ended
// within ResolveWithin of the recovery.
func (in Input) resolved(f Fault, e Expectation) verdict.Objective {
	o, ok := in.expectation(IDResolved, fmt.Sprintf("%s resolves after %s", e, f.Name), "recovery-"+f.Name, f.Recovered, e.ResolveWithin, e)
	switch {
	case !ok:
		return o
	case f.Injected.IsZero() || f.Recovered.IsZero():
		return missing(&o, verdict.NoData, fmt.Sprintf("fault %s was never confirmed injected and recovered", f.Name))
	}
	var last time.Time
	fired := false
	for _, s := range in.matching(e) {
		if !s.End.Before(f.Injected) && !s.Start.After(o.WindowEnd) {
			fired = true
			if s.End.After(last) {
				last = s.End
			}
		}
	}
	switch {
	case !fired:
		return missing(&o, verdict.NoData, fmt.Sprintf("%s did not fire during %s, so its resolution shows nothing", e, f.Name))
	case in.End.Sub(last) <= 2*in.Step && in.End.Before(o.WindowEnd):
		return missing(&o, verdict.NoData, fmt.Sprintf("%s was still firing when the run ended, %s after %s's recovery", e, round(in.End.Sub(f.Recovered)), f.Name))
	case in.End.Sub(last) <= 2*in.Step:
		o.Status, o.Error = verdict.Fail, fmt.Sprintf("%s was still firing when the run ended, %s after %s's recovery", e, round(in.End.Sub(f.Recovered)), f.Name)
		return o
	}
	decide(&o, max(0, last.Sub(f.Recovered).Seconds()),
		fmt.Sprintf("%s fired until %s after %s's recovery, longer than %s", e, round(last.Sub(f.Recovered)), f.Name, e.ResolveWithin))
	return o
}

// unexpected counts the critical spans during the run that no fault expects: a fault expects
// a span of an alert it names (with its labels) that overlaps the fault, from its injection to
// the end of its resolve allowance.
func (in Input) unexpected() verdict.Objective {
	o := objective(IDUnexpected, "No critical alert that no fault expects", "run", in.Start, in.End, 0, "alerts")
	o.Query = `ALERTS{alertstate="firing",severity="critical"}`
	o.Interval = &verdict.Interval{Method: "exact"}
	if status, why := in.criticalRules(); status != "" {
		return missing(&o, status, why)
	}
	var bad []string
	for _, s := range in.Spans {
		if s.Severity() != Critical || s.End.Before(in.Start) || s.Start.After(in.End) || in.expected(s) {
			continue
		}
		bad = append(bad, fmt.Sprintf("%s fired at %s for %s", s, in.offset(s.Start), round(s.End.Sub(s.Start))))
	}
	o.SampleCount = int64(len(bad))
	decide(&o, float64(len(bad)), listed("critical alerts no fault expects", bad))
	return o
}

// criticalRules is why the absence of critical alerts shows nothing: no critical rule at all,
// or one that does not evaluate.
func (in Input) criticalRules() (verdict.Status, string) {
	if in.Unreadable != nil {
		return verdict.Error, in.Unreadable.Error()
	}
	n := 0
	for _, name := range sortedNames(in.Rules) {
		r := in.Rules[name]
		if r.Severity != Critical {
			continue
		}
		n++
		if r.Health == v1.RuleHealthUnknown {
			return verdict.NoData, r.problem() + ": a page it should have sent would not show"
		}
		if p := r.problem(); p != "" {
			return verdict.Error, p + ": a page it should have sent would not show"
		}
	}
	if n == 0 {
		return verdict.NoData, "the Prometheus evaluates no alerting rule with severity=critical, so no page could have fired"
	}
	return "", ""
}

// allowanceEnd is when the fault's hold on the expected alert ends: its resolve allowance
// after the recovery, or the run's end when it never recovered.
func (in Input) allowanceEnd(f Fault, e Expectation) time.Time {
	if f.Recovered.IsZero() {
		return in.End
	}
	return f.Recovered.Add(e.ResolveWithin)
}

// expected reports whether a fault expects the span.
func (in Input) expected(s Span) bool {
	for _, f := range in.Faults {
		if f.Injected.IsZero() {
			continue
		}
		for _, e := range f.Expect {
			if s.Alert == e.Alert && s.Has(e.Labels) && !s.End.Before(f.Injected) && !s.Start.After(in.allowanceEnd(f, e)) {
				return true
			}
		}
	}
	return false
}

// offset is a time as an offset from the run's start: "+9m30s".
func (in Input) offset(t time.Time) string { return "+" + round(t.Sub(in.Start)).String() }

// round drops sub-second noise from a duration shown to people.
func round(d time.Duration) time.Duration { return d.Round(time.Second) }

// paged counts the critical alerts that would not page: every critical rule the Prometheus
// evaluates (routed by its own labels) and every critical alert that fired during the run
// (routed by all its labels), through the Alertmanager configuration's routes.
func (in Input) paged() verdict.Objective {
	o := objective(IDPaged, "Every critical alert reaches "+in.PageReceiver, "run", in.Start, in.End, 0, "alerts")
	o.Query = "the critical rules of /api/v1/rules and " + `ALERTS{alertstate="firing",severity="critical"}` + ", routed by " + in.Routes.Source
	o.Interval = &verdict.Interval{Method: "exact"}
	if status, why := in.criticalRules(); status != "" {
		return missing(&o, status, why)
	}
	var bad []string
	seen := map[string]bool{}
	miss := func(what string, receivers []string) {
		if !slices.Contains(receivers, in.PageReceiver) && !seen[what] {
			seen[what] = true
			bad = append(bad, fmt.Sprintf("%s goes to %s", what, strings.Join(receivers, ", ")))
		}
	}
	for _, name := range sortedNames(in.Rules) {
		if r := in.Rules[name]; r.Severity == Critical {
			miss("rule "+name, in.Routes.Receivers(name, r.Labels))
		}
	}
	for _, s := range in.Spans {
		if s.Severity() == Critical && !s.End.Before(in.Start) && !s.Start.After(in.End) {
			miss(s.String(), in.Routes.Receivers(s.Alert, s.Labels))
		}
	}
	o.SampleCount = int64(len(bad))
	decide(&o, float64(len(bad)), listed("critical alerts that would not page "+in.PageReceiver, bad))
	return o
}

// listed is "what: a; b; c (and 2 more)" for the first three items; "" for none.
func listed(what string, items []string) string {
	if len(items) == 0 {
		return ""
	}
	shown := items[:min(len(items), 3)]
	out := what + ": " + strings.Join(shown, "; ")
	if len(items) > len(shown) {
		out += fmt.Sprintf(" (and %d more)", len(items)-len(shown))
	}
	return out
}
