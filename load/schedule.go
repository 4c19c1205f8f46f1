package load

import (
	"math"
	"math/rand/v2"
	"time"
)

// Stage is one segment of a piecewise-linear load profile: over Duration the target (VUs for
// ramping-vus, iterations per TimeUnit for ramping-arrival-rate) moves linearly from the previous
// stage's target (or the start value) to Target.
type Stage struct {
	Duration time.Duration `json:"duration"`
	Target   int64         `json:"target"`
}

// VUStep is a point in time at which a ramping-vus executor changes its VU count.
type VUStep struct {
	At  time.Duration // offset from the executor's start
	VUs int64         // the count from At on
}

// RampingVUSteps returns the raw VU steps of a ramping-vus executor, in k6's rule: inside a stage
// the count changes exactly when the linear stage line crosses an integer, so going from a to b
// over d the count becomes a±i at i·d/|b−a| (integer nanoseconds, rounded down). A zero-duration
// stage jumps at once. The first step is (0, startVUs). The result is a pure function of its
// arguments, which lets tests check the executor against it exactly.
func RampingVUSteps(startVUs int64, stages []Stage) []VUStep {
	steps := []VUStep{{At: 0, VUs: startVUs}}
	cur, off := startVUs, time.Duration(0)
	for _, st := range stages {
		delta := st.Target - cur
		switch {
		case delta == 0:
		case st.Duration == 0:
			steps = appendStep(steps, VUStep{At: off, VUs: st.Target})
		default:
			n := delta
			if n < 0 {
				n = -n
			}
			for i := int64(1); i <= n; i++ {
				at := off + time.Duration(mulDiv(int64(st.Duration), i, n))
				v := cur + i
				if delta < 0 {
					v = cur - i
				}
				steps = appendStep(steps, VUStep{At: at, VUs: v})
			}
		}
		cur = st.Target
		off += st.Duration
	}
	return steps
}

// appendStep collapses steps that happen at the same instant into the last one.
func appendStep(steps []VUStep, s VUStep) []VUStep {
	if last := &steps[len(steps)-1]; last.At == s.At {
		last.VUs = s.VUs
		return steps
	}
	return append(steps, s)
}

// VUsAt returns the ramping-vus target at elapsed, from the steps of [RampingVUSteps].
func VUsAt(steps []VUStep, elapsed time.Duration) int64 {
	v := int64(0)
	for _, s := range steps {
		if s.At > elapsed {
			break
		}
		v = s.VUs
	}
	return v
}

// mulDiv returns a*b/c without overflowing for the magnitudes used here (durations in ns times
// counts), falling back to float math only beyond int64.
func mulDiv(a, b, c int64) int64 {
	if b == 0 || a <= math.MaxInt64/b {
		return a * b / c
	}
	return int64(float64(a) * float64(b) / float64(c))
}

// Schedule gives the absolute start offsets of an arrival-rate executor's iterations: Start(n)
// is when iteration n (0-based) is due, measured from the executor's start, and ok is false once
// the schedule is over. Like vegeta's Pacer it is a function of its inputs, not of the time it is
// asked, so the executor's timer loop is a thin shell and tests compare it against the analytic
// values exactly. Calls must ask for n in increasing order for stateful schedules such as
// [PoissonSchedule]; the deterministic ones accept any order.
type Schedule interface {
	Start(n uint64) (at time.Duration, ok bool)
}

// ScheduleFunc adapts a function to [Schedule].
type ScheduleFunc func(n uint64) (time.Duration, bool)

// Start calls f(n).
func (f ScheduleFunc) Start(n uint64) (time.Duration, bool) { return f(n) }

var (
	_ Schedule = ScheduleFunc(nil)
	_ Schedule = ConstantSchedule{}
	_ Schedule = (*RampingSchedule)(nil)
	_ Schedule = (*PoissonSchedule)(nil)
)

// ConstantSchedule is constant-arrival-rate's schedule: iteration k starts at k·TimeUnit/Rate
// (integer nanoseconds, rounded down) for every start before Duration.
type ConstantSchedule struct {
	Rate     int64
	TimeUnit time.Duration
	Duration time.Duration
}

// Start implements [Schedule].
func (s ConstantSchedule) Start(n uint64) (time.Duration, bool) {
	if s.Rate <= 0 || n > math.MaxInt64/2 {
		return 0, false
	}
	at := time.Duration(mulDiv(int64(n), int64(s.TimeUnit), s.Rate))
	return at, at < s.Duration
}

// RampingSchedule is ramping-arrival-rate's schedule, in k6's rule: the rate (iterations per
// TimeUnit) moves linearly inside each stage, and iteration n (0-based) starts when the area
// under the rate curve reaches n+1. Start times are rounded to the nearest nanosecond.
type RampingSchedule struct {
	StartRate int64
	TimeUnit  time.Duration
	Stages    []Stage
}

// NewRampingSchedule returns the schedule; it is immutable and safe for concurrent use.
func NewRampingSchedule(startRate int64, timeUnit time.Duration, stages []Stage) *RampingSchedule {
	return &RampingSchedule{StartRate: startRate, TimeUnit: timeUnit, Stages: stages}
}

// Start implements [Schedule].
func (s *RampingSchedule) Start(n uint64) (time.Duration, bool) {
	return s.at(float64(n) + 1)
}

// at returns the offset at which the area under the rate curve reaches area.
func (s *RampingSchedule) at(area float64) (time.Duration, bool) {
	unit := float64(s.TimeUnit)
	if unit <= 0 {
		return 0, false
	}
	from := float64(s.StartRate) / unit // iterations per ns
	off, done := 0.0, 0.0
	for _, st := range s.Stages {
		to := float64(st.Target) / unit
		d := float64(st.Duration)
		stageArea := d * (from + to) / 2
		if done+stageArea >= area && stageArea > 0 {
			need := area - done
			var x float64
			if from == to {
				x = need / from
			} else {
				// need = from·x + (to−from)·x²/(2d); solve for x in [0, d] with the
				// numerically stable form of the quadratic root.
				a := (to - from) / (2 * d)
				disc := from*from + 4*a*need
				if disc < 0 {
					disc = 0
				}
				x = 2 * need / (from + math.Sqrt(disc))
			}
			if x > d {
				x = d
			}
			return time.Duration(math.Round(off + x)), true
		}
		done += stageArea
		off += d
		from = to
	}
	return 0, false
}

// PoissonSchedule spreads the starts of an underlying rate curve as a (non-homogeneous) Poisson
// process: iteration n starts when the area under the curve reaches the sum of n+1 unit
// exponential variates, so the mean rate follows the curve while gaps are random. It is seeded
// and therefore reproducible; Start must be called with n = 0, 1, 2, ... in order.
type PoissonSchedule struct {
	rng   *rand.Rand
	area  func(float64) (time.Duration, bool)
	n     uint64
	sum   float64
	valid bool
}

// NewPoissonSchedule returns a Poisson schedule over a constant rate for duration d, or over the
// ramping curve when stages is not empty (rate is then the start rate).
func NewPoissonSchedule(seed uint64, rate int64, timeUnit time.Duration, d time.Duration, stages []Stage) *PoissonSchedule {
	if len(stages) == 0 {
		stages = []Stage{{Duration: d, Target: rate}}
	}
	rs := NewRampingSchedule(rate, timeUnit, stages)
	return &PoissonSchedule{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), area: rs.at}
}

// Start implements [Schedule].
func (s *PoissonSchedule) Start(n uint64) (time.Duration, bool) {
	for !s.valid || s.n < n {
		if s.valid {
			s.n++
		}
		s.valid = true
		s.sum += s.rng.ExpFloat64()
	}
	return s.area(s.sum)
}
