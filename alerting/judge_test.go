package alerting

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/dailydoco/ddp-verify/verdict"
)

var t0 = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

// at is t0 plus s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// healthyRules are a plan-like rule set: two criticals and a warning, all evaluating.
func healthyRules() Rules {
	return Rules{
		"NodeNotReady":        {Name: "NodeNotReady", Severity: Critical, Health: v1.RuleHealthGood},
		"ZoneDown":            {Name: "ZoneDown", Severity: Critical, Health: v1.RuleHealthGood},
		"VideoProcessingSlow": {Name: "VideoProcessingSlow", Severity: "warning", Health: v1.RuleHealthGood},
	}
}

func span(alert string, from, to float64, labels ...string) Span {
	l := map[string]string{"severity": Critical}
	for i := 0; i+1 < len(labels); i += 2 {
		l[labels[i]] = labels[i+1]
	}
	return Span{Alert: alert, Labels: l, Start: at(from), End: at(to)}
}

// nodeFault is a fault injected at 100 s and recovered at 160 s that expects NodeNotReady
// within 60 s of either.
func nodeFault() Fault {
	return Fault{Name: "gpu-node", Injected: at(100), Recovered: at(160),
		Expect: []Expectation{{Alert: "NodeNotReady", FireWithin: 60 * time.Second, ResolveWithin: 30 * time.Second}}}
}

func input(spans ...Span) Input {
	return Input{Start: t0, End: at(600), Faults: []Fault{nodeFault()}, Spans: spans, Rules: healthyRules(), Step: time.Second}
}

// result finds the objective with id in out.
func result(t *testing.T, out []verdict.Objective, id string) verdict.Objective {
	t.Helper()
	for _, o := range out {
		if o.ID == id {
			return o
		}
	}
	t.Fatalf("no objective %s in %+v", id, out)
	return verdict.Objective{}
}

const (
	fired      = "alert_fired:NodeNotReady"
	resolved   = "alert_resolved:NodeNotReady"
	unexpected = "critical_alerts_unexpected"
)

// Each expectation and the unexpected-critical objective, on the alert timelines that decide
// them: in time, late, never, already firing, and every kind of missing evidence.
func TestJudge(t *testing.T) {
	cases := []struct {
		name   string
		in     Input
		id     string
		want   verdict.Status
		value  float64 // checked when the status has a value
		reason string  // must be in the objective's error
	}{
		{"fired in time", input(span("NodeNotReady", 142, 165, "node", "gpu-1a-1")), fired, verdict.Pass, 42, ""},
		{"fired late", input(span("NodeNotReady", 175, 180)), fired, verdict.Fail, 75, "NodeNotReady fired 1m15s after gpu-node's injection, later than 1m0s"},
		{"never fired", input(), fired, verdict.Fail, -1, "NodeNotReady did not fire after gpu-node's injection"},
		{"a span of a later fault is not this one's", input(span("NodeNotReady", 300, 320)), fired, verdict.Fail, -1, "did not fire"},
		{"already firing before the fault", input(span("NodeNotReady", 50, 170)), fired, verdict.Fail, -1, "already firing before gpu-node's injection (since +50s)"},
		{"no such rule", func() Input { in := input(); delete(in.Rules, "NodeNotReady"); return in }(), fired, verdict.NoData, -1, "no alerting rule NodeNotReady"},
		{"a broken rule", func() Input {
			in := input(span("NodeNotReady", 142, 165))
			in.Rules["NodeNotReady"] = Rule{Name: "NodeNotReady", Severity: Critical, Health: v1.RuleHealthBad, LastError: "many-to-many matching not allowed"}
			return in
		}(), fired, verdict.Error, -1, "fails to evaluate: many-to-many"},
		{"a rule never evaluated", func() Input {
			in := input()
			in.Rules["NodeNotReady"] = Rule{Name: "NodeNotReady", Severity: Critical, Health: v1.RuleHealthUnknown}
			return in
		}(), resolved, verdict.NoData, -1, "never evaluated"},
		{"a fault never injected", func() Input { in := input(); in.Faults[0].Injected = time.Time{}; return in }(), fired, verdict.NoData, -1, "never confirmed injected"},
		{"the run ended before the allowance", func() Input { in := input(); in.End = at(130); return in }(), fired, verdict.NoData, -1, "run ended 30s after"},
		{"resolved in time", input(span("NodeNotReady", 142, 171)), resolved, verdict.Pass, 11, ""},
		{"resolved before the recovery", input(span("NodeNotReady", 142, 150)), resolved, verdict.Pass, 0, ""},
		{"resolved late", input(span("NodeNotReady", 142, 200)), resolved, verdict.Fail, 40, "fired until 40s after gpu-node's recovery, longer than 30s"},
		{"still firing at the end", input(span("NodeNotReady", 142, 600)), resolved, verdict.Fail, -1, "still firing when the run ended"},
		{"still firing, run too short to say", func() Input { in := input(span("NodeNotReady", 142, 170)); in.End = at(170); return in }(), resolved, verdict.NoData, -1, "still firing when the run ended"},
		{"never fired, so never resolved", input(), resolved, verdict.NoData, -1, "did not fire during gpu-node"},
		{"never recovered", func() Input {
			in := input(span("NodeNotReady", 142, 600))
			in.Faults[0].Recovered = time.Time{}
			return in
		}(), resolved, verdict.NoData, -1, "never confirmed injected and recovered"},
		{"labels must match", func() Input {
			in := input(span("NodeNotReady", 142, 165, "zone", "us-east-1b"))
			in.Faults[0].Expect[0].Labels = map[string]string{"zone": "us-east-1a"}
			return in
		}(), `alert_fired:NodeNotReady{zone="us-east-1a"}`, verdict.Fail, -1, "did not fire"},

		{"no critical alert", input(span("VideoProcessingSlow", 10, 20, "severity", "warning")), unexpected, verdict.Pass, 0, ""},
		{"the expected critical", input(span("NodeNotReady", 142, 171)), unexpected, verdict.Pass, 0, ""},
		{"a critical in steady state", input(span("ZoneDown", 20, 40, "zone", "us-east-1b")), unexpected, verdict.Fail, 1,
			`critical alerts no fault expects: ZoneDown{severity="critical",zone="us-east-1b"} fired at +20s for 20s`},
		{"a critical the fault does not expect", input(span("ZoneDown", 130, 150)), unexpected, verdict.Fail, 1, "ZoneDown"},
		{"the expected alert firing again long after", input(span("NodeNotReady", 142, 171), span("NodeNotReady", 400, 420)), unexpected, verdict.Fail, 1, "fired at +6m40s"},
		{"many criticals, the first three named", input(span("ZoneDown", 10, 11), span("ZoneDown", 20, 21), span("ZoneDown", 30, 31), span("ZoneDown", 40, 41)),
			unexpected, verdict.Fail, 4, "fired at +30s for 1s (and 1 more)"},
		{"criticals before the run do not count", input(span("ZoneDown", -100, -50)), unexpected, verdict.Pass, 0, ""},
		{"no critical rule", func() Input {
			in := input()
			in.Rules = Rules{"VideoProcessingSlow": healthyRules()["VideoProcessingSlow"]}
			in.Faults = nil
			return in
		}(),
			unexpected, verdict.NoData, -1, "no alerting rule with severity=critical"},
		{"the alerts could not be read", func() Input { in := input(); in.Unreadable = errors.New("query ALERTS: 503"); return in }(), unexpected, verdict.Error, -1, "query ALERTS: 503"},
		{"the alerts could not be read, expectation", func() Input { in := input(); in.Unreadable = errors.New("query ALERTS: 503"); return in }(), resolved, verdict.Error, -1, "query ALERTS: 503"},
		{"a broken critical rule", func() Input {
			in := input()
			in.Rules["ZoneDown"] = Rule{Name: "ZoneDown", Severity: Critical, Health: v1.RuleHealthBad, LastError: "boom"}
			return in
		}(), unexpected, verdict.Error, -1, "alerting rule ZoneDown fails to evaluate: boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := result(t, Judge(tc.in), tc.id)
			if o.Status != tc.want {
				t.Fatalf("%s: status %s (%s), want %s", tc.id, o.Status, o.Error, tc.want)
			}
			if !o.Key {
				t.Errorf("%s is not a key objective", tc.id)
			}
			if tc.value >= 0 && (o.Value == nil || *o.Value != tc.value) {
				t.Errorf("value %v, want %v", o.Value, tc.value)
			}
			if tc.want == verdict.Pass && (o.Value == nil || o.Error != "") {
				t.Errorf("a PASS without a value or with an error: %+v", o)
			}
			if !strings.Contains(o.Error, tc.reason) || (tc.reason == "" && o.Error != "") {
				t.Errorf("error %q, want it to say %q", o.Error, tc.reason)
			}
		})
	}
}

// The objectives sit in the windows they judge: fired in the fault's, from the injection;
// resolved in the recovery's, from the recovery; the unexpected count over the run.
func TestJudgeWindows(t *testing.T) {
	// A fault never confirmed has its objectives over the whole run, never at the zero time.
	in := input()
	in.Faults[0].Injected, in.Faults[0].Recovered = time.Time{}, time.Time{}
	delete(in.Rules, "NodeNotReady")
	for _, o := range Judge(in) {
		if o.WindowStart.IsZero() || o.WindowEnd.IsZero() {
			t.Errorf("%s: window %s..%s", o.ID, o.WindowStart, o.WindowEnd)
		}
	}

	out := Judge(input(span("NodeNotReady", 142, 171)))
	if len(out) != 3 {
		t.Fatalf("%d objectives, want 3: %+v", len(out), out)
	}
	for _, c := range []struct {
		id, window string
		start, end time.Time
	}{
		{fired, "fault-gpu-node", at(100), at(160)},
		{resolved, "recovery-gpu-node", at(160), at(190)},
		{unexpected, "run", t0, at(600)},
	} {
		o := result(t, out, c.id)
		if o.Window != c.window || !o.WindowStart.Equal(c.start) || !o.WindowEnd.Equal(c.end) {
			t.Errorf("%s: window %s %s..%s, want %s %s..%s", c.id, o.Window, o.WindowStart, o.WindowEnd, c.window, c.start, c.end)
		}
	}
}

// A time-scaled run judges only the unexpected criticals and lists each expectation as not
// evaluated, with the reason.
func TestJudgeSkipsExpectations(t *testing.T) {
	in := input(span("NodeNotReady", 142, 171))
	in.SkipExpectations = "the run is time-scaled"
	out := Judge(in)
	if len(out) != 1 || out[0].ID != unexpected {
		t.Fatalf("objectives %+v, want only %s", out, unexpected)
	}
	sk := Skipped(in)
	if len(sk) != 2 || sk[0].ID != fired || sk[1].ID != resolved || !strings.Contains(sk[0].Reason, "gpu-node: the run is time-scaled") {
		t.Errorf("skipped %+v", sk)
	}
	if len(Skipped(input())) != 0 {
		t.Error("an unscaled run skips expectations")
	}
}

func TestReadRulesKeepsTheWorstCopy(t *testing.T) {
	q := fakeRules{v1.RulesResult{Groups: []v1.RuleGroup{
		{Name: "a", Rules: v1.Rules{v1.AlertingRule{Name: "X", Health: v1.RuleHealthGood, Labels: map[model.LabelName]model.LabelValue{"severity": "critical"}}, v1.RecordingRule{Name: "r"}}},
		{Name: "b", Rules: v1.Rules{v1.AlertingRule{Name: "X", Health: v1.RuleHealthBad, LastError: "boom"}}},
	}}}
	r, err := ReadRules(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(r) != 1 || r["X"].Health != v1.RuleHealthBad || r["X"].LastError != "boom" {
		t.Errorf("rules %+v, want X with the broken copy's health", r)
	}
}

// fakeRules answers /api/v1/rules with a fixed result: a fake, because no real Prometheus
// loads two groups whose same-named rules are healthy in one and broken in the other on cue.
type fakeRules struct{ res v1.RulesResult }

func (f fakeRules) Rules(context.Context, []string) (v1.RulesResult, error) { return f.res, nil }

func (fakeRules) QueryRange(context.Context, string, v1.Range, ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	return nil, nil, nil, nil
}
