package profile

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/load"
)

// Plan is a profile resolved for one run: every rule checked (the load model, the chaos rules
// of package chaos, windows, thresholds) and everything converted once into the models the
// engine and the chaos scheduler take. Downstream code consumes the plan and never re-parses or
// re-validates. A Plan is built by [Load] or [Profile.Scaled] and only read afterwards; share
// it freely, never modify it.
type Plan struct {
	// Profile is the (scaled) profile the plan was resolved from: run.json records it.
	Profile *Profile
	// Timeline is the schedule: stages, faults and windows as offsets from the start.
	Timeline Timeline
	// Scenarios are the load model, one per profile scenario, in order.
	Scenarios []ScenarioPlan
	// Faults are the chaos schedule, validated by [chaos.Fault.Validate].
	Faults []chaos.Fault
	// Thresholds are the profile's k6 thresholds, parsed.
	Thresholds []load.Threshold
}

// ScenarioPlan is one scenario of the load model.
type ScenarioPlan struct {
	// Load is the engine's scenario without its Exec (name, executor and its parameters, start
	// time, graceful stop); the workload that runs the journeys sets Exec.
	Load load.ScenarioConfig
	// Journeys, ThinkTime and Media are what its users do (package scenarios turns them into
	// the journey mix).
	Journeys  map[string]float64
	ThinkTime ThinkTime
	Media     []MediaClass
	// Script, instead of the journeys, is the k6 script the users run (its path resolved
	// against the profile's directory) and Exec its function ("default" when not named).
	Script string
	Exec   string
}

// Name is the profile's name.
func (p *Plan) Name() string { return p.Profile.Name }

// TimeScale is the factor the schedule was scaled by; 1 when it was not.
func (p *Plan) TimeScale() float64 { return p.Profile.TimeScale() }

// Decision is the profile's decision policy: DecisionPoint unless it says DecisionConfident.
func (p *Plan) Decision() string {
	if p.Profile.Decision == "" {
		return DecisionPoint
	}
	return p.Profile.Decision
}

// Decision policies (docs/slo.md): on the value, or confidently on its 95 % interval.
const (
	DecisionPoint     = "point"
	DecisionConfident = "confident"
)

// Arrival spacings of the arrival-rate executors.
const (
	ArrivalsEven    = "even"
	ArrivalsPoisson = "poisson"
)

// WithoutFaults is the plan of a run with --no-chaos: the same load, no fault, and so no
// fault or recovery window.
func (p *Plan) WithoutFaults() *Plan {
	q := *p
	prof := *p.Profile
	prof.Chaos = nil
	q.Profile = &prof
	q.Timeline = prof.Timeline()
	q.Faults = nil
	return &q
}

// Resolve loads a built-in profile or a profile file, scales its schedule by timeScale (1
// leaves it as written) and returns its plan. Every problem is reported with file, line and
// field.
func Resolve(nameOrPath string, timeScale float64, opts ...Option) (*Plan, error) {
	p, err := Load(nameOrPath, opts...)
	if err != nil {
		return nil, err
	}
	if timeScale != 1 {
		if p, err = p.Scaled(timeScale); err != nil {
			return nil, err
		}
	}
	return p.Plan()
}

// Plan returns the profile's resolved plan. It fails only for a profile that was not built by
// [Load], [Parse] or [Profile.Scaled], whose rules were never checked.
func (p *Profile) Plan() (*Plan, error) {
	if p.plan == nil {
		return nil, errors.New("profile " + p.Name + " was not loaded through profile.Parse: it has no resolved plan")
	}
	return p.plan, nil
}

// resolve builds the plan of a profile whose own rules passed, reporting what only the
// conversion can find (fractional counts, the engine's and the chaos engine's own rules).
func (v *validator) resolve(p *Profile) *Plan {
	plan := &Plan{Profile: p, Timeline: p.Timeline()}
	for i, s := range p.Scenarios {
		at := fmt.Sprintf("scenarios[%d]", i)
		ex := v.executor(at, s)
		cfg := load.ScenarioConfig{Name: s.Name, Executor: ex, StartTime: s.StartTime.Duration, GracefulStop: grace(s.GracefulStop),
			FailureBackoff: s.FailureBackoff.engine()}
		if ex != nil {
			v.loadRules(at, load.CheckExecutor(ex))
		}
		sp := ScenarioPlan{Load: cfg, Journeys: s.Journeys, ThinkTime: s.ThinkTime, Media: s.Media}
		if s.Script != "" {
			sp.Script, sp.Exec = p.scriptPath(s.Script), s.Exec
			if sp.Exec == "" {
				sp.Exec = "default"
			}
		}
		plan.Scenarios = append(plan.Scenarios, sp)
	}
	for _, f := range p.Chaos {
		plan.Faults = append(plan.Faults, f.Chaos())
	}
	for i, th := range p.Thresholds {
		t, err := load.ParseThresholdSpec(th)
		if err != nil {
			v.Fail(fmt.Sprintf("thresholds[%d]", i), "%v", err)
			continue
		}
		plan.Thresholds = append(plan.Thresholds, t)
	}
	return plan
}

// loadRules reports the engine's own objections to an executor ("vus: -1 is negative"), each
// on the field it names.
func (v *validator) loadRules(at string, err error) {
	for _, e := range unjoin(err) {
		field, msg, ok := strings.Cut(e.Error(), ": ")
		if !ok || strings.ContainsAny(field, " ") {
			v.Fail(at, "%s", e.Error())
			continue
		}
		v.Fail(at+"."+field, "%s", msg)
	}
}

// executor converts a scenario's executor parameters to the engine's, refusing fractions.
func (v *validator) executor(at string, s Scenario) load.Executor {
	switch s.Executor {
	case "constant-vus":
		return load.ConstantVUs{VUs: int64(s.VUs), Duration: s.Duration.Duration}
	case "ramping-vus":
		return load.RampingVUs{StartVUs: int64(s.StartVUs), Stages: v.stages(at, s.Stages), GracefulRampDown: grace(s.GracefulRampDown)}
	case "per-vu-iterations":
		return load.PerVUIterations{VUs: int64(s.VUs), Iterations: int64(s.Iterations), MaxDuration: s.MaxDuration.Duration}
	case "shared-iterations":
		return load.SharedIterations{VUs: int64(s.VUs), Iterations: int64(s.Iterations), MaxDuration: s.MaxDuration.Duration}
	case "constant-arrival-rate":
		return load.ConstantArrivalRate{Rate: v.count(at+".rate", s.Rate), TimeUnit: s.TimeUnit.Duration, Duration: s.Duration.Duration,
			PreAllocatedVUs: int64(s.PreAllocatedVUs), MaxVUs: int64(s.MaxVUs), Poisson: s.Arrivals == ArrivalsPoisson}
	case "ramping-arrival-rate":
		return load.RampingArrivalRate{StartRate: v.count(at+".startRate", s.StartRate), TimeUnit: s.TimeUnit.Duration, Stages: v.stages(at, s.Stages),
			PreAllocatedVUs: int64(s.PreAllocatedVUs), MaxVUs: int64(s.MaxVUs), Poisson: s.Arrivals == ArrivalsPoisson}
	}
	return nil // an unknown executor was reported by the scenario's own rules
}

func (v *validator) stages(at string, in []Stage) []load.Stage {
	out := make([]load.Stage, len(in))
	for i, st := range in {
		out[i] = load.Stage{Duration: st.Duration.Duration, Target: v.count(fmt.Sprintf("%s.stages[%d].target", at, i), st.Target)}
	}
	return out
}

// count converts a profile number to the engine's integer, refusing fractions rather than
// rounding them silently.
func (v *validator) count(field string, x float64) int64 {
	if x < 0 || x != math.Trunc(x) || x > math.MaxInt32 {
		v.Fail(field, "%v must be a whole number from 0 to %d (use timeUnit for fractional rates)", x, math.MaxInt32)
		return 0
	}
	return int64(x)
}

// grace maps the profile's optional grace period to the engine's: unset is the k6 default,
// an explicit zero is no grace at all.
func grace(d *Duration) time.Duration {
	switch {
	case d == nil:
		return 0
	case d.Duration == 0:
		return load.NoGrace
	}
	return d.Duration
}

// Chaos is the fault in the chaos engine's model.
func (f Fault) Chaos() chaos.Fault {
	return chaos.Fault{
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
	}
}

// chaosField maps a field of the chaos model to the profile's field of the same fault.
func chaosField(field string) string {
	switch field {
	case "id":
		return "name"
	case "target.mode":
		return "mode"
	case "target.latency":
		return "latency"
	}
	return field
}

// chaosRules reports the chaos engine's rules for fault i (package chaos is the one rule set
// for what a fault may be), each on the profile's field.
func (v *validator) chaosRules(i int, f Fault) {
	for _, e := range unjoin(f.Chaos().Validate()) {
		var fe *chaos.FieldError
		if errors.As(e, &fe) && fe.Field == "id" && f.Name == "" {
			continue // reported as required by the profile's own rule
		}
		if errors.As(e, &fe) {
			v.Fail(fmt.Sprintf("chaos[%d].%s", i, chaosField(fe.Field)), "%s", fe.Msg)
			continue
		}
		v.Fail(fmt.Sprintf("chaos[%d]", i), "%v", e)
	}
}

// unjoin flattens errors joined with errors.Join, at any depth.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}

// scriptPath resolves a scenario's script against the directory of the profile's file (a
// built-in profile's against the working directory).
func (p *Profile) scriptPath(script string) string {
	if filepath.IsAbs(script) || strings.HasPrefix(p.source, "builtin:") || p.source == "" {
		return script
	}
	return filepath.Join(filepath.Dir(p.source), script)
}
