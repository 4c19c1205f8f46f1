package load

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Scenario is what a VU runs, once per iteration. ctx is cancelled when the executor interrupts
// the iteration (gracefulStop or gracefulRampDown ran out, or the run was aborted); an
// iteration that returns after that is counted as interrupted, not completed. A non-nil error
// marks the iteration failed (counted in iterations_failed) but does not stop the VU.
type Scenario interface {
	Run(ctx context.Context, vu *VU) error
}

// ScenarioFunc adapts a function to [Scenario].
type ScenarioFunc func(ctx context.Context, vu *VU) error

// Run calls f(ctx, vu).
func (f ScenarioFunc) Run(ctx context.Context, vu *VU) error { return f(ctx, vu) }

// Defaults, as in k6.
const (
	DefaultGracefulStop     = 30 * time.Second
	DefaultGracefulRampDown = 30 * time.Second
	DefaultTimeUnit         = time.Second
	DefaultMaxDuration      = 10 * time.Minute
)

// NoGrace, set as a GracefulStop or GracefulRampDown, means zero: interrupt at once. (The zero
// value means the k6 default of 30s.)
const NoGrace time.Duration = -1

// ScenarioConfig is one k6 scenario: a name, an executor with its parameters, when it starts,
// how long its last iterations may run on, and what its VUs execute.
type ScenarioConfig struct {
	Name      string        // tag "scenario" on every sample; required, unique
	Executor  Executor      // one of the executor configs of this package
	StartTime time.Duration // offset from the engine's start
	// GracefulStop is how long iterations still running when the executor ends may finish
	// before they are interrupted. Zero means 30s, NoGrace means none.
	GracefulStop time.Duration
	// FailureBackoff makes VUs whose iterations fail wait before their next one (see
	// [FailureBackoff]); the zero value is off, as in k6.
	FailureBackoff FailureBackoff
	Exec           Scenario
}

func (c ScenarioConfig) gracefulStop() time.Duration {
	return grace(c.GracefulStop, DefaultGracefulStop)
}

func grace(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// Executor is one of [ConstantVUs], [RampingVUs], [PerVUIterations], [SharedIterations],
// [ConstantArrivalRate], [RampingArrivalRate]. The set is closed; the names and parameters are
// k6's.
type Executor interface {
	// Name returns the k6 executor name, e.g. "ramping-vus".
	Name() string
	// TotalDuration returns how long the executor schedules work, without StartTime or
	// grace periods (for the iteration executors: their MaxDuration).
	TotalDuration() time.Duration
	// PeakVUs returns the most VUs the executor may use at once.
	PeakVUs() int64
	validate() error
	scale(f float64) Executor
}

// ConstantVUs runs VUs VUs in a closed loop for Duration. VUs defaults to 1.
type ConstantVUs struct {
	VUs      int64
	Duration time.Duration
}

// RampingVUs moves the number of looping VUs along Stages, starting from StartVUs; VUs over
// the target (the newest first) finish their iteration within GracefulRampDown (zero means
// 30s, NoGrace none) and are otherwise interrupted.
type RampingVUs struct {
	StartVUs         int64
	Stages           []Stage
	GracefulRampDown time.Duration
}

// PerVUIterations makes each of VUs VUs run Iterations iterations, within MaxDuration.
// Zero values mean 1, 1 and 10m.
type PerVUIterations struct {
	VUs         int64
	Iterations  int64
	MaxDuration time.Duration
}

// SharedIterations shares Iterations iterations among VUs VUs, within MaxDuration.
// Zero values mean 1, 1 and 10m.
type SharedIterations struct {
	VUs         int64
	Iterations  int64
	MaxDuration time.Duration
}

// ConstantArrivalRate starts Rate iterations per TimeUnit (default 1s) for Duration, at
// k·TimeUnit/Rate (or as a Poisson process of that rate when Poisson is set). A start that finds
// no idle VU is dropped and counted; VUs beyond PreAllocatedVUs are initialised one at a time up
// to MaxVUs (default PreAllocatedVUs).
type ConstantArrivalRate struct {
	Rate            int64
	TimeUnit        time.Duration
	Duration        time.Duration
	PreAllocatedVUs int64
	MaxVUs          int64
	Poisson         bool
	Seed            uint64 // for Poisson arrivals
}

// RampingArrivalRate moves the iteration rate linearly along Stages from StartRate; iteration n
// starts when the area under the rate curve reaches n+1 (k6's rule). Otherwise as
// [ConstantArrivalRate].
type RampingArrivalRate struct {
	StartRate       int64
	TimeUnit        time.Duration
	Stages          []Stage
	PreAllocatedVUs int64
	MaxVUs          int64
	Poisson         bool
	Seed            uint64
}

var (
	_ Executor = ConstantVUs{}
	_ Executor = RampingVUs{}
	_ Executor = PerVUIterations{}
	_ Executor = SharedIterations{}
	_ Executor = ConstantArrivalRate{}
	_ Executor = RampingArrivalRate{}
)

func orOne(v int64) int64 {
	if v == 0 {
		return 1
	}
	return v
}

func orDur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func stagesDuration(st []Stage) time.Duration {
	var d time.Duration
	for _, s := range st {
		d += s.Duration
	}
	return d
}

func scaleDur(d time.Duration, f float64) time.Duration { return time.Duration(float64(d) * f) }

func scaleStages(st []Stage, f float64) []Stage {
	out := make([]Stage, len(st))
	for i, s := range st {
		out[i] = Stage{Duration: scaleDur(s.Duration, f), Target: s.Target}
	}
	return out
}

func validateStages(st []Stage) error {
	if len(st) == 0 {
		return errors.New("stages: at least one stage is required")
	}
	var errs []error
	for i, s := range st {
		if s.Duration < 0 {
			errs = append(errs, fmt.Errorf("stages[%d].duration: %v is negative", i, s.Duration))
		}
		if s.Target < 0 {
			errs = append(errs, fmt.Errorf("stages[%d].target: %d is negative", i, s.Target))
		}
	}
	return errors.Join(errs...)
}

func (ConstantVUs) Name() string                   { return "constant-vus" }
func (e ConstantVUs) TotalDuration() time.Duration { return e.Duration }
func (e ConstantVUs) PeakVUs() int64               { return orOne(e.VUs) }
func (e ConstantVUs) scale(f float64) Executor {
	e.Duration = scaleDur(e.Duration, f)
	return e
}
func (e ConstantVUs) validate() error {
	var errs []error
	if e.VUs < 0 {
		errs = append(errs, fmt.Errorf("vus: %d is negative", e.VUs))
	}
	if e.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration: %v must be positive", e.Duration))
	}
	return errors.Join(errs...)
}

func (RampingVUs) Name() string                   { return "ramping-vus" }
func (e RampingVUs) TotalDuration() time.Duration { return stagesDuration(e.Stages) }
func (e RampingVUs) PeakVUs() int64 {
	m := e.StartVUs
	for _, s := range e.Stages {
		m = max(m, s.Target)
	}
	return m
}
func (e RampingVUs) scale(f float64) Executor {
	e.Stages = scaleStages(e.Stages, f)
	return e
}
func (e RampingVUs) validate() error {
	var errs []error
	if e.StartVUs < 0 {
		errs = append(errs, fmt.Errorf("startVUs: %d is negative", e.StartVUs))
	}
	errs = append(errs, validateStages(e.Stages))
	if e.PeakVUs() == 0 && len(e.Stages) > 0 {
		errs = append(errs, errors.New("stages: every target is 0, so no VU would ever run"))
	}
	return errors.Join(errs...)
}

func (PerVUIterations) Name() string { return "per-vu-iterations" }
func (e PerVUIterations) TotalDuration() time.Duration {
	return orDur(e.MaxDuration, DefaultMaxDuration)
}
func (e PerVUIterations) PeakVUs() int64 { return orOne(e.VUs) }
func (e PerVUIterations) scale(f float64) Executor {
	e.MaxDuration = scaleDur(e.TotalDuration(), f)
	return e
}
func (e PerVUIterations) validate() error { return validateIters(e.VUs, e.Iterations, e.MaxDuration) }

func (SharedIterations) Name() string { return "shared-iterations" }
func (e SharedIterations) TotalDuration() time.Duration {
	return orDur(e.MaxDuration, DefaultMaxDuration)
}
func (e SharedIterations) PeakVUs() int64 { return min(orOne(e.VUs), orOne(e.Iterations)) }
func (e SharedIterations) scale(f float64) Executor {
	e.MaxDuration = scaleDur(e.TotalDuration(), f)
	return e
}
func (e SharedIterations) validate() error {
	return validateIters(e.VUs, e.Iterations, e.MaxDuration)
}

func validateIters(vus, iters int64, maxd time.Duration) error {
	var errs []error
	if vus < 0 {
		errs = append(errs, fmt.Errorf("vus: %d is negative", vus))
	}
	if iters < 0 {
		errs = append(errs, fmt.Errorf("iterations: %d is negative", iters))
	}
	if maxd < 0 {
		errs = append(errs, fmt.Errorf("maxDuration: %v is negative", maxd))
	}
	return errors.Join(errs...)
}

func (ConstantArrivalRate) Name() string                   { return "constant-arrival-rate" }
func (e ConstantArrivalRate) TotalDuration() time.Duration { return e.Duration }
func (e ConstantArrivalRate) PeakVUs() int64               { return max(e.MaxVUs, e.PreAllocatedVUs) }
func (e ConstantArrivalRate) scale(f float64) Executor {
	e.Duration = scaleDur(e.Duration, f)
	return e
}
func (e ConstantArrivalRate) validate() error {
	var errs []error
	if e.Rate <= 0 {
		errs = append(errs, fmt.Errorf("rate: %d must be positive", e.Rate))
	}
	if e.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration: %v must be positive", e.Duration))
	}
	return errors.Join(append(errs, validateArrivalVUs(e.TimeUnit, e.PreAllocatedVUs, e.MaxVUs))...)
}

// schedule returns the executor's start schedule.
func (e ConstantArrivalRate) schedule() Schedule {
	tu := orDur(e.TimeUnit, DefaultTimeUnit)
	if e.Poisson {
		return NewPoissonSchedule(e.Seed, e.Rate, tu, e.Duration, nil)
	}
	return ConstantSchedule{Rate: e.Rate, TimeUnit: tu, Duration: e.Duration}
}

func (RampingArrivalRate) Name() string                   { return "ramping-arrival-rate" }
func (e RampingArrivalRate) TotalDuration() time.Duration { return stagesDuration(e.Stages) }
func (e RampingArrivalRate) PeakVUs() int64               { return max(e.MaxVUs, e.PreAllocatedVUs) }
func (e RampingArrivalRate) scale(f float64) Executor {
	e.Stages = scaleStages(e.Stages, f)
	return e
}
func (e RampingArrivalRate) validate() error {
	var errs []error
	if e.StartRate < 0 {
		errs = append(errs, fmt.Errorf("startRate: %d is negative", e.StartRate))
	}
	errs = append(errs, validateStages(e.Stages))
	return errors.Join(append(errs, validateArrivalVUs(e.TimeUnit, e.PreAllocatedVUs, e.MaxVUs))...)
}

func (e RampingArrivalRate) schedule() Schedule {
	tu := orDur(e.TimeUnit, DefaultTimeUnit)
	if e.Poisson {
		return NewPoissonSchedule(e.Seed, e.StartRate, tu, 0, e.Stages)
	}
	return NewRampingSchedule(e.StartRate, tu, e.Stages)
}

func validateArrivalVUs(tu time.Duration, pre, maxVUs int64) error {
	var errs []error
	if tu < 0 {
		errs = append(errs, fmt.Errorf("timeUnit: %v is negative", tu))
	}
	if pre <= 0 {
		errs = append(errs, fmt.Errorf("preAllocatedVUs: %d must be positive", pre))
	}
	if maxVUs != 0 && maxVUs < pre {
		errs = append(errs, fmt.Errorf("maxVUs: %d is below preAllocatedVUs %d", maxVUs, pre))
	}
	return errors.Join(errs...)
}

// Scaled returns a copy whose StartTime and stage, duration and maxDuration values are
// multiplied by f (the run's --time-scale); TimeUnit, rates, VU counts and grace periods are
// per-user behaviour and stay as they are.
func (c ScenarioConfig) Scaled(f float64) ScenarioConfig {
	if f == 1 || f <= 0 {
		return c
	}
	c.StartTime = scaleDur(c.StartTime, f)
	if c.Executor != nil {
		c.Executor = c.Executor.scale(f)
	}
	return c
}

// Validate checks the scenario and returns every problem found, each prefixed with
// "scenario NAME".
// CheckExecutor reports every problem with an executor's parameters, each as "field: message"
// with k6's field names (for example "stages[1].duration: -5s is negative"), joined with
// errors.Join. Profiles use it so that the engine's rules are the only ones.
func CheckExecutor(ex Executor) error { return ex.validate() }

func (c ScenarioConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if c.Executor == nil {
		errs = append(errs, errors.New("executor is required"))
	} else if err := c.Executor.validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", c.Executor.Name(), err))
	}
	if c.Exec == nil {
		errs = append(errs, errors.New("exec is required"))
	}
	if c.StartTime < 0 {
		errs = append(errs, fmt.Errorf("startTime: %v is negative", c.StartTime))
	}
	if err := c.FailureBackoff.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scenario %q: %w", c.Name, err)
	}
	return nil
}
