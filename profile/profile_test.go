package profile

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/load"
)

func TestBadProfilesNameFileLineAndField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string // every substring must appear in the error
	}{
		{"unknown-field.bad.yaml", []string{"unknown-field.bad.yaml:7: scenarios[0].thinktime: unknown field (did you mean thinkTime?)"}},
		{"negative-duration.bad.yaml", []string{"negative-duration.bad.yaml:6:", "scenarios[0].stages[1].duration", "must not be negative"}},
		{"fault-outside-run.bad.yaml", []string{"fault-outside-run.bad.yaml:12:", "chaos[0].duration", "after the run ends at 1m0s"}},
		{"window-refers-to-nothing.bad.yaml", []string{"window-refers-to-nothing.bad.yaml:9:", "windows[0].stage", `no stage "hold"`}},
		{"bad-executor.bad.yaml", []string{"bad-executor.bad.yaml:3:", "scenarios[0].executor", `"ramping-users"`}},
		{"duration-without-unit.bad.yaml", []string{`duration-without-unit.bad.yaml:5: scenarios[0].duration: invalid duration "60"`}},
		{"executor-is-a-list.bad.yaml", []string{
			"executor-is-a-list.bad.yaml:3: scenarios[0].executor: want a string, got a sequence",
			`executor-is-a-list.bad.yaml:5: scenarios[0].vus: want an integer, got the string "five"`,
		}},
		{"bad-threshold.bad.yaml", []string{"bad-threshold.bad.yaml:9:", "thresholds[1]"}},
		{"zone-outage-mode.bad.yaml", []string{"zone-outage-mode.bad.yaml:10:", "chaos[0].mode", "power-loss or partition"}},
		// The chaos engine's rules are checked at load, on the profile's own fields: a fault
		// name is a Kubernetes label value (it names Chaos Mesh objects).
		{"fault-name-not-a-label.bad.yaml", []string{"fault-name-not-a-label.bad.yaml:8:", "chaos[0].name", `"GPU_Node" must be a DNS label`}},
		{"alert-expectations.bad.yaml", []string{
			"alert-expectations.bad.yaml:8: alerts.for_scale: 20 must be above 0 and at most 10",
			`alert-expectations.bad.yaml:16: chaos[0].alerts[0].alert: "Node-Down" is not an alert name`,
			`alert-expectations.bad.yaml:17: chaos[0].alerts[1].labels: "9zone" is not a label name`,
			"alert-expectations.bad.yaml:17: chaos[0].alerts[1].fire_within: is required and must be positive (how long after the fault's injection)",
			"alert-expectations.bad.yaml:17: chaos[0].alerts[1].resolve_within: is required and must be positive (how long after the fault's recovery)",
			"alert-expectations.bad.yaml:18: chaos[0].alerts[2].alert: NodeNotReady with the same labels is expected twice",
		}},
		{"alerts-without-section.bad.yaml", []string{"alerts-without-section.bad.yaml:13: chaos[0].alerts: expected alerts are judged only when the profile has an alerts section"}},
		{"mode-on-node-failure.bad.yaml", []string{"mode-on-node-failure.bad.yaml:10:", "chaos[0].mode", "only zone-outage takes a mode"}},
		// The engine's model is built at load too: a fraction of a user is refused, not rounded.
		{"fractional-stage-target.bad.yaml", []string{"fractional-stage-target.bad.yaml:6:", "scenarios[0].stages[1].target", "2.5 must be a whole number"}},
		// Sanity limits: a plan of no length, more users than this machine can hold, numbers
		// that are not numbers, durations outside [1ms, 30 days].
		{"zero-length-stages.bad.yaml", []string{"zero-length-stages.bad.yaml:5: scenarios[0].stages: the stages last 0s in all"}},
		{"billion-users.bad.yaml", []string{"billion-users.bad.yaml:7: scenarios[0].stages[1].target: 1000000000 VUs is more than this machine can hold: about ", "KiB per VU", "--force"}},
		{"not-a-number.bad.yaml", []string{
			"not-a-number.bad.yaml:7: scenarios[0].stages[0].target: want a finite number, got .inf",
			"not-a-number.bad.yaml:8: scenarios[0].journeys.browse: want a finite number, got .nan",
			"not-a-number.bad.yaml:10: scenarios[0].media[0].share: want a finite number, got .nan",
		}},
		// A scenario's users run journeys or a k6 script's function, never both.
		{"script-scenarios.bad.yaml", []string{
			"script-scenarios.bad.yaml:8: scenarios[0].journeys: a scenario with a script takes no journeys",
			"script-scenarios.bad.yaml:13: scenarios[1].exec: exec names a function of a script: give script too",
			`script-scenarios.bad.yaml:19: scenarios[2].script: want a k6 script file ending in .js, got "users.ts"`,
			`script-scenarios.bad.yaml:20: scenarios[2].exec: "browse()" is not a JavaScript function name`,
		}},
		{"duration-out-of-range.bad.yaml", []string{
			"duration-out-of-range.bad.yaml:6: scenarios[0].duration: 500µs is shorter than 1ms",
			"duration-out-of-range.bad.yaml:10: scenarios[0].thinkTime.mean: 1000h0m0s (41.67 days) is longer than 720h0m0s (30 days)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			p, err := Load(filepath.Join("testdata", tc.file))
			if err == nil {
				t.Fatalf("Load accepted a bad profile: %+v", p)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := Parse("x.yaml", []byte(`
name: ""
scenarios:
  - executor: constant-vus
    vus: 0
    duration: 10s
    journeys: {browse: -1}
slo: default
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"x.yaml:2: name: is required", "x.yaml:5: scenarios[0].vus", "x.yaml:7: scenarios[0].journeys.browse"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestUnknownProfileListsBuiltins(t *testing.T) {
	t.Parallel()
	_, err := Load("no-such-profile")
	if err == nil || !strings.Contains(err.Error(), "launch") || !strings.Contains(err.Error(), "smoke") {
		t.Fatalf("error %v should list the built-in profiles", err)
	}
}

func TestGoodProfile(t *testing.T) {
	t.Parallel()
	p, err := Load(filepath.Join("testdata", "minimal.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tl := p.Timeline()
	if tl.Duration != 30*time.Second {
		t.Errorf("duration %s, want 30s", tl.Duration)
	}
	want := map[string][2]time.Duration{
		"run":            {0, 30 * time.Second},
		"fault-delay":    {5 * time.Second, 15 * time.Second},
		"recovery-delay": {15 * time.Second, 20 * time.Second},
		"middle":         {10 * time.Second, 20 * time.Second},
	}
	for name, span := range want {
		w, ok := tl.Window(name)
		if !ok {
			t.Errorf("window %q missing", name)
			continue
		}
		if w.Start != span[0] || w.End != span[1] {
			t.Errorf("window %q = [%s, %s], want [%s, %s]", name, w.Start, w.End, span[0], span[1])
		}
	}
}

func TestLaunchFollowsThePlanExactly(t *testing.T) {
	t.Parallel()
	p, err := Load("launch")
	if err != nil {
		t.Fatal(err)
	}
	tl := p.Timeline()
	type stage struct {
		start, end time.Duration
		target     float64
	}
	m := time.Minute
	want := []stage{{0, 5 * m, 100}, {5 * m, 15 * m, 100}, {15 * m, 20 * m, 500}, {20 * m, 30 * m, 500}, {30 * m, 35 * m, 1000}, {35 * m, 55 * m, 1000}, {55 * m, 60 * m, 0}}
	// The users' stages, then the captures': the same shape, offering 60, 300 and 600 videos
	// an hour at 100, 500 and 1000 users.
	if len(tl.Stages) != 2*len(want) {
		t.Fatalf("%d stages, want %d", len(tl.Stages), 2*len(want))
	}
	offered := []float64{60, 60, 300, 300, 600, 600, 0}
	for i, w := range want {
		got, capt := tl.Stages[i], tl.Stages[len(want)+i]
		if got.Scenario != "users" || got.Start != w.start || got.End != w.end || got.To != w.target {
			t.Errorf("stage %d = %s %s..%s to %v, want users %s..%s to %v", i, got.Scenario, got.Start, got.End, got.To, w.start, w.end, w.target)
		}
		if capt.Scenario != "captures" || capt.Start != w.start || capt.End != w.end || capt.To != offered[i] {
			t.Errorf("captures stage %d = %s %s..%s to %v, want captures %s..%s to %v/h", i, capt.Scenario, capt.Start, capt.End, capt.To, w.start, w.end, offered[i])
		}
	}
	if tl.Duration != 60*m {
		t.Errorf("run lasts %s, want 1h", tl.Duration)
	}
	plateau, ok := tl.Window("plateau")
	if !ok || plateau.Start != 35*m || plateau.End != 55*m {
		t.Fatalf("plateau window %+v", plateau)
	}
	if len(tl.Faults) != 2 {
		t.Fatalf("%d faults, want 2", len(tl.Faults))
	}
	kinds := map[string]bool{}
	for _, f := range tl.Faults {
		kinds[f.Fault.Fault] = true
		if f.Start < plateau.Start || f.End > plateau.End {
			t.Errorf("fault %s [%s, %s] is outside the 1000-user plateau", f.Name, f.Start, f.End)
		}
	}
	if !kinds["node-failure"] || !kinds["zone-outage"] {
		t.Errorf("fault kinds %v, want a node failure and a zone outage", kinds)
	}
	// 1000 users, and at most 120 VUs recording the captures.
	if p.PeakVUs() != 1120 {
		t.Errorf("peak %d VUs, want 1000 users and 120 capture VUs", p.PeakVUs())
	}
}

func TestBuiltinProfilesAreValid(t *testing.T) {
	t.Parallel()
	wantAbout := map[string]time.Duration{"launch": time.Hour, "nightly": 15 * time.Minute, "smoke": 2 * time.Minute}
	for _, name := range Builtin() {
		p, err := Load(name)
		if err != nil {
			t.Errorf("built-in %s: %v", name, err)
			continue
		}
		if d, ok := wantAbout[name]; ok && p.Timeline().Duration != d {
			t.Errorf("%s lasts %s, want %s", name, p.Timeline().Duration, d)
		}
	}
	smoke, err := Load("smoke")
	if err != nil {
		t.Fatal(err)
	}
	if users := smoke.Scenarios[0]; users.Stages[1].Target != 50 || len(smoke.Chaos) != 1 || smoke.Chaos[0].Fault != "node-failure" {
		t.Errorf("smoke: %g users, chaos %+v; want 50 users and one node failure", users.Stages[1].Target, smoke.Chaos)
	}
}

func TestScaledMultipliesScheduleOnly(t *testing.T) {
	t.Parallel()
	p, err := Load("launch")
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.Scaled(0.05)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Timeline().Duration; got != 3*time.Minute {
		t.Errorf("scaled duration %s, want 3m", got)
	}
	if q.Chaos[0].At.Duration != 114*time.Second || q.Chaos[0].Duration.Duration != 15*time.Second {
		t.Errorf("scaled fault at %s for %s", q.Chaos[0].At, q.Chaos[0].Duration)
	}
	if q.Scenarios[0].ThinkTime != p.Scenarios[0].ThinkTime || *q.Scenarios[0].GracefulStop != *p.Scenarios[0].GracefulStop {
		t.Error("time scale changed per-user behaviour")
	}
	if p.Timeline().Duration != time.Hour {
		t.Error("Scaled modified the original profile")
	}
	if p.TimeScale() != 1 || q.TimeScale() != 0.05 {
		t.Errorf("time scale: original %g, scaled %g; want 1 and 0.05", p.TimeScale(), q.TimeScale())
	}
	if r, _ := q.Scaled(2); r.TimeScale() != 0.1 {
		t.Errorf("scaling twice records %g, want the product 0.1", r.TimeScale())
	}
	if _, err := p.Scaled(0); err == nil {
		t.Error("scale 0 accepted")
	}
}

// The plan converts the faults into the chaos engine's model once: the launch profile's zone
// outage is a power loss of us-east-1a during the 1000-user plateau, and both faults pass the
// chaos engine's own rules.
func TestPlanFaultsAreChaosFaults(t *testing.T) {
	plan, err := Resolve("launch", 1)
	if err != nil {
		t.Fatal(err)
	}
	fs := plan.Faults
	if err := chaos.ValidateAll(fs); err != nil {
		t.Fatalf("launch faults are not valid chaos faults: %v", err)
	}
	if len(fs) != 2 || fs[1].Kind != chaos.ZoneOutage || fs[1].Target.Mode != chaos.PowerLoss || fs[1].Target.Zone != "us-east-1a" || fs[1].At != 47*time.Minute {
		t.Errorf("faults %+v", fs)
	}
	if len(plan.Scenarios) != 2 || plan.Scenarios[0].Load.Executor.Name() != "ramping-vus" || plan.Scenarios[1].Load.Executor.Name() != "ramping-arrival-rate" || len(plan.Thresholds) != len(plan.Profile.Thresholds) {
		t.Errorf("plan scenarios %+v, %d thresholds", plan.Scenarios, len(plan.Thresholds))
	}
	// Scaling resolves a new plan; --no-chaos drops the faults and their windows.
	scaled, err := Resolve("launch", 0.05)
	if err != nil {
		t.Fatal(err)
	}
	if scaled.Faults[1].At != 141*time.Second || scaled.TimeScale() != 0.05 {
		t.Errorf("scaled zone fault at %s (time scale %g), want 2m21s", scaled.Faults[1].At, scaled.TimeScale())
	}
	if _, ok := plan.Timeline.Window("fault-zone-a"); !ok {
		t.Fatal("the launch plan has no window fault-zone-a")
	}
	calm := plan.WithoutFaults()
	if len(calm.Faults) != 0 || len(calm.Timeline.Faults) != 0 || len(plan.Faults) != 2 {
		t.Errorf("WithoutFaults: %d faults, %d in its timeline; the original kept %d", len(calm.Faults), len(calm.Timeline.Faults), len(plan.Faults))
	}
	if _, ok := calm.Timeline.Window("fault-zone-a"); ok {
		t.Error("a plan without faults still has a fault window")
	}
}

// Scaling checks every rule again: a time scale that shrinks a stage below what the engine
// accepts is reported on the stage's line.
func TestScaledProfileIsCheckedAgain(t *testing.T) {
	if _, err := Resolve("smoke", 0); err == nil || !strings.Contains(err.Error(), "time scale must be a positive number") {
		t.Errorf("time scale 0: %v", err)
	}
}

// Arrival-rate executors space their starts evenly by default, as k6 does; `arrivals: poisson`
// asks for exponential gaps. The decision policy is point unless the profile says confident.
func TestArrivalsAndDecision(t *testing.T) {
	p, err := Parse("x.yaml", []byte(`name: x
decision: confident
scenarios:
  - name: even
    executor: constant-arrival-rate
    rate: 10
    duration: 1m
    preAllocatedVUs: 5
    journeys: {capture: 1}
  - name: random
    executor: constant-arrival-rate
    rate: 10
    duration: 1m
    preAllocatedVUs: 5
    arrivals: poisson
    journeys: {capture: 1}
slo: default
`))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan()
	if err != nil {
		t.Fatal(err)
	}
	even, random := plan.Scenarios[0].Load.Executor.(load.ConstantArrivalRate), plan.Scenarios[1].Load.Executor.(load.ConstantArrivalRate)
	if even.Poisson || !random.Poisson || plan.Decision() != DecisionConfident {
		t.Errorf("poisson %v/%v, decision %q", even.Poisson, random.Poisson, plan.Decision())
	}
	if smoke, _ := Resolve("smoke", 1); smoke.Decision() != DecisionPoint {
		t.Errorf("smoke decides %q, want point", smoke.Decision())
	}
	_, err = Parse("bad.yaml", []byte(`name: x
decision: hopeful
scenarios:
  - executor: constant-vus
    vus: 1
    duration: 1m
    arrivals: poisson
    journeys: {browse: 1}
slo: default
`))
	for _, want := range []string{`bad.yaml:2: decision: unknown decision "hopeful"`, "bad.yaml:7: scenarios[0].arrivals: only the arrival-rate executors take arrivals"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// Every scaled duration stays within [1ms, 30 days], reported at its field: time scale 1e9
// used to overflow into negative durations, 1e-6 to put every stage at 0:00; NaN and
// infinite scales are refused.
func TestScaledDurationsStayInRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		scale float64
		want  []string
	}{
		{"overflow", 1e9, []string{
			"at time scale 1e+09: builtin:stress:11: scenarios[0].stages[0].duration: 5m0s at time scale 1e+09 is 3.472e+06 days, longer than 720h0m0s (30 days)",
		}},
		{"above 30 days", 10000, []string{"builtin:stress:11: scenarios[0].stages[0].duration: 5m0s at time scale 10000 is 34.72 days"}},
		{"below a millisecond", 1e-6, []string{"at time scale 1e-06: builtin:launch:", "scenarios[0].stages[0].duration: 5m0s at time scale 1e-06 is 300µs, shorter than 1ms"}},
		{"to zero", 1e-300, []string{"is 0s, shorter than 1ms"}},
		{"NaN", math.NaN(), []string{"time scale must be a positive number (got NaN)"}},
		{"infinite", math.Inf(1), []string{"time scale must be a positive number (got +Inf)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := "stress"
			if tc.scale < 1 {
				name = "launch"
			}
			plan, err := Resolve(name, tc.scale)
			if err == nil {
				t.Fatalf("accepted: timeline length %s", plan.Timeline.Duration)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "-2562047h") || strings.Contains(err.Error(), "must not be negative") {
				t.Errorf("error %q reports an overflowed duration", err)
			}
		})
	}
	// Within range it still scales: the launch rehearsal, and stretched to 25 days.
	for _, scale := range []float64{0.05, 600} {
		if _, err := Resolve("launch", scale); err != nil {
			t.Errorf("launch at %g: %v", scale, err)
		}
	}
}

// Stages long enough to overflow their sum are refused, not wrapped into a negative run.
func TestStagesThatOverflowTheirSum(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("name: long\nscenarios:\n  - executor: ramping-vus\n    journeys: {browse: 1}\n    stages:\n")
	for range 4000 {
		b.WriteString("      - {duration: 720h, target: 1}\n")
	}
	b.WriteString("slo: default\n")
	_, err := Parse("long.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "long.yaml:3: scenarios[0]: the scenario ends at 2562047h47m16.854775807s") {
		t.Fatalf("err %v, want the scenario's end refused", err)
	}
}

// VUs and arrival rates are bounded by an estimate of what the machine can hold, which the
// message states; --force (Force) or force_load: true lifts the bound.
func TestCapacity(t *testing.T) {
	t.Parallel()
	small := load.CapacityFor(1<<30, "available memory", 2) // 8192 VUs, 200000 starts/s
	if small.VUs != 8192 || small.Rate != 200000 {
		t.Fatalf("capacity %+v, want 8192 VUs and 200000 starts/s", small)
	}
	profile := func(extra, scenario string) []byte {
		return []byte("name: big\n" + extra + "scenarios:\n" + scenario + "slo: default\n")
	}
	vus := func(n int) string {
		return fmt.Sprintf("  - executor: constant-vus\n    vus: %d\n    duration: 1m\n    journeys: {browse: 1}\n", n)
	}
	rate := "  - executor: constant-arrival-rate\n    rate: 5000\n    timeUnit: 10ms\n    duration: 1m\n    preAllocatedVUs: 10\n    journeys: {browse: 1}\n"
	for _, tc := range []struct {
		name string
		data []byte
		opts []Option
		want string // "" accepts
	}{
		{"within", profile("", vus(8192)), []Option{WithCapacity(small)}, ""},
		{"too many VUs", profile("", vus(8193)), []Option{WithCapacity(small)},
			"x.yaml:4: scenarios[0].vus: 8193 VUs is more than this machine can hold: about 8192 (half of 1.0 GiB available memory at 64 KiB per VU); --force (or force_load: true in the profile) runs it anyway"},
		{"scenarios together", profile("", vus(5000)+strings.Replace(vus(5000), "constant-vus", "constant-vus\n    name: second", 1)), []Option{WithCapacity(small)},
			"x.yaml:2: scenarios: the scenarios together may hold VUs at once: 10000 VUs is more than this machine can hold: about 8192"},
		{"too fast", profile("", rate), []Option{WithCapacity(small)},
			"x.yaml:4: scenarios[0].rate: 500000 iterations per second is more than this machine can start: about 200000 (2 CPU(s) at 100000 iteration starts per second each)"},
		{"--force", profile("", vus(1_000_000)), []Option{WithCapacity(small), Force()}, ""},
		{"force_load", profile("force_load: true\n", vus(1_000_000)), []Option{WithCapacity(small)}, ""},
		{"beyond any count", profile("force_load: true\n", vus(1<<40)), nil, "x.yaml:5: scenarios[0].vus: 1099511627776 is more than 2147483647"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("x.yaml", tc.data, tc.opts...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
