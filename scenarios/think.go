package scenarios

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/dailydoco/ddp-verify/profile"
)

// Think is a think-time distribution: the pause after each of a user's steps.
//
//   - "constant": always Mean;
//   - "uniform": uniform between Min and Max;
//   - "exponential" (also ""): exponential with mean Mean, clamped to [Min, Max] (Max zero
//     means no upper clamp). Clamping changes the mean, see [Think.Expected].
type Think struct {
	Distribution   string
	Mean, Min, Max time.Duration
}

// ThinkFromProfile converts a profile's think time.
func ThinkFromProfile(t profile.ThinkTime) Think {
	return Think{Distribution: t.Distribution, Mean: t.Mean.Duration, Min: t.Min.Duration, Max: t.Max.Duration}
}

// Validate reports a distribution that cannot be sampled.
func (t Think) Validate() error {
	switch t.Distribution {
	case "", "exponential", "constant", "uniform":
	default:
		return fmt.Errorf("think time: unknown distribution %q (constant, uniform or exponential)", t.Distribution)
	}
	if t.Mean < 0 || t.Min < 0 || t.Max < 0 || (t.Max > 0 && t.Min > t.Max) {
		return fmt.Errorf("think time: durations must be >= 0 and min <= max (mean %v, min %v, max %v)", t.Mean, t.Min, t.Max)
	}
	return nil
}

// Sample draws one pause from r.
func (t Think) Sample(r *rand.Rand) time.Duration {
	switch t.Distribution {
	case "constant":
		return t.Mean
	case "uniform":
		if t.Max <= t.Min {
			return t.Min
		}
		return t.Min + time.Duration(r.Int64N(int64(t.Max-t.Min)+1))
	}
	d := time.Duration(r.ExpFloat64() * float64(t.Mean))
	d = max(d, t.Min)
	if t.Max > 0 {
		d = min(d, t.Max)
	}
	return d
}

// Expected returns the distribution's exact mean. For the clamped exponential with mean μ on
// [a, b] it is a + μ·(e^(−a/μ) − e^(−b/μ)) (integrate the survival function from a to b).
func (t Think) Expected() time.Duration {
	switch t.Distribution {
	case "constant":
		return t.Mean
	case "uniform":
		if t.Max <= t.Min {
			return t.Min
		}
		return (t.Min + t.Max) / 2
	}
	mu, a := t.Mean.Seconds(), t.Min.Seconds()
	if mu == 0 {
		return t.Min
	}
	tail := 0.0
	if t.Max > 0 {
		tail = math.Exp(-t.Max.Seconds() / mu)
	}
	return time.Duration((a + mu*(math.Exp(-a/mu)-tail)) * float64(time.Second))
}
