package scenarios

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
)

// FromProfile builds the load engine's scenarios from a profile: each profile scenario keeps
// its name, k6 executor and parameters, and runs a [Mix] of its journeys and think time
// against target. Every problem in every scenario is reported, each prefixed with
// "scenarios[i]". Time scaling is the engine's job (load.WithTimeScale), not done here.
func FromProfile(p *profile.Profile, target Target) ([]load.ScenarioConfig, error) {
	var out []load.ScenarioConfig
	var errs []error
	for i, s := range p.Scenarios {
		at := fmt.Sprintf("scenarios[%d] (%s)", i, s.Name)
		ex, err := executor(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
		}
		t := target
		if len(s.Media) > 0 {
			t.Media = mediaFromProfile(s.Media)
		}
		mix, err := NewMix(s.Journeys, ThinkFromProfile(s.ThinkTime), t)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
		}
		if len(errs) > 0 {
			continue
		}
		cfg := load.ScenarioConfig{Name: s.Name, Executor: ex, StartTime: s.StartTime.Duration, GracefulStop: grace(s.GracefulStop), Exec: mix}
		if err := cfg.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
			continue
		}
		out = append(out, cfg)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// grace maps the profile's optional grace period to the engine's: unset is the k6 default,
// an explicit zero is no grace at all.
func grace(d *profile.Duration) time.Duration {
	switch {
	case d == nil:
		return 0
	case d.Duration == 0:
		return load.NoGrace
	}
	return d.Duration
}

// count converts a profile number to the engine's integer, refusing fractions rather than
// rounding them silently.
func count(field string, v float64) (int64, error) {
	if v < 0 || v != math.Trunc(v) || v > math.MaxInt32 {
		return 0, fmt.Errorf("%s: %v must be a whole number (use timeUnit for fractional rates)", field, v)
	}
	return int64(v), nil
}

func stages(in []profile.Stage) ([]load.Stage, error) {
	out := make([]load.Stage, len(in))
	var errs []error
	for i, st := range in {
		t, err := count(fmt.Sprintf("stages[%d].target", i), st.Target)
		errs = append(errs, err)
		out[i] = load.Stage{Duration: st.Duration.Duration, Target: t}
	}
	return out, errors.Join(errs...)
}

func executor(s profile.Scenario) (load.Executor, error) {
	switch s.Executor {
	case "constant-vus":
		return load.ConstantVUs{VUs: int64(s.VUs), Duration: s.Duration.Duration}, nil
	case "ramping-vus":
		st, err := stages(s.Stages)
		return load.RampingVUs{StartVUs: int64(s.StartVUs), Stages: st, GracefulRampDown: grace(s.GracefulRampDown)}, err
	case "per-vu-iterations":
		return load.PerVUIterations{VUs: int64(s.VUs), Iterations: int64(s.Iterations), MaxDuration: s.MaxDuration.Duration}, nil
	case "shared-iterations":
		return load.SharedIterations{VUs: int64(s.VUs), Iterations: int64(s.Iterations), MaxDuration: s.MaxDuration.Duration}, nil
	case "constant-arrival-rate":
		r, err := count("rate", s.Rate)
		return load.ConstantArrivalRate{Rate: r, TimeUnit: s.TimeUnit.Duration, Duration: s.Duration.Duration,
			PreAllocatedVUs: int64(s.PreAllocatedVUs), MaxVUs: int64(s.MaxVUs)}, err
	case "ramping-arrival-rate":
		r, err := count("startRate", s.StartRate)
		st, serr := stages(s.Stages)
		return load.RampingArrivalRate{StartRate: r, TimeUnit: s.TimeUnit.Duration, Stages: st,
			PreAllocatedVUs: int64(s.PreAllocatedVUs), MaxVUs: int64(s.MaxVUs)}, errors.Join(err, serr)
	}
	return nil, fmt.Errorf("executor: unknown executor %q (known: %v)", s.Executor, profile.Executors)
}

// mediaFromProfile converts a profile's capture mix.
func mediaFromProfile(classes []profile.MediaClass) MediaMix {
	out := make(MediaMix, 0, len(classes))
	for i, c := range classes {
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("%s-%d", c.Resolution, i+1)
		}
		out = append(out, MediaClass{Name: name, Resolution: dailydoco.Resolution(c.Resolution),
			MinSeconds: c.Min.Seconds(), MaxSeconds: c.Max.Seconds(), Share: c.Share})
	}
	return out
}
