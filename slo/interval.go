package slo

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/dailydoco/ddp-verify/confidence"
	"github.com/dailydoco/ddp-verify/verdict"
)

// Interval methods (IntervalSpec.Method); each is also the run.json record's interval method.
const (
	// IntervalWilson: the value is a share of the objective's sample count (min_samples).
	IntervalWilson = "wilson"
	// IntervalPoisson: the value is a count of events (Count) times Scale (a rate).
	IntervalPoisson = "poisson"
	// IntervalPoissonDenominator: the value is a total divided by a count of events (Count).
	IntervalPoissonDenominator = "poisson-denominator"
	// IntervalExact: the value is counted, not sampled (videos still in the pipeline).
	IntervalExact = "exact"
	// IntervalSingle: the value is one observation (a recovery time): no interval.
	IntervalSingle = "single"
)

// Decisions: how a profile turns a value and its interval into a status.
const (
	// DecisionPoint decides on the value; a result whose interval straddles the threshold is
	// flagged low-confidence.
	DecisionPoint = "point"
	// DecisionConfident passes only when the whole interval passes and fails only when the
	// whole interval fails; otherwise the result is INCONCLUSIVE, which fails the gate.
	DecisionConfident = "confident"
)

// IntervalSpec says how an objective's 95 % interval is computed (docs/slo.md).
type IntervalSpec struct {
	Method string `yaml:"method" json:"method"`
	// Count is the events behind the value (poisson, poisson-denominator), same placeholders.
	Count string `yaml:"count" json:"count,omitempty"`
	// Scale turns the count into the value for poisson (e.g. 3600 / ($END - $START) for a rate
	// per hour); default 1.
	Scale string `yaml:"scale" json:"scale,omitempty"`
}

// maxExtension bounds how much longer a window may be proposed to decide.
const maxExtension = 100

// interval computes r's 95 % interval from the evidence behind its value f, and the window
// length that would decide it when it straddles the threshold.
func interval(ctx context.Context, q Querier, obj *Objective, w Window, r *verdict.Objective, f float64) error {
	spec := obj.Interval
	if spec == nil {
		return nil
	}
	iv := &verdict.Interval{Method: spec.Method}
	r.Interval = iv
	var bounds func(factor float64) (lo, hi float64)
	switch spec.Method {
	case IntervalSingle:
		r.SampleCount = max(r.SampleCount, 1)
		return nil
	case IntervalExact:
		bounds = func(float64) (float64, float64) { return f, f }
	case IntervalWilson:
		n := float64(r.SampleCount)
		bounds = func(k float64) (float64, float64) { return confidence.Wilson(f*n*k, n*k) }
	case IntervalPoisson, IntervalPoissonDenominator:
		count, err := scalarQuery(ctx, q, Substitute(spec.Count, w), w.End)
		if err != nil {
			return fmt.Errorf("interval count query: %w", err)
		}
		scale := 1.0
		if spec.Scale != "" {
			if scale, err = scalarQuery(ctx, q, Substitute(spec.Scale, w), w.End); err != nil {
				return fmt.Errorf("interval scale query: %w", err)
			}
		}
		if r.SampleCount == 0 {
			// The events behind the value are its samples (unless min_samples counted them).
			r.SampleCount = roundCount(count)
		}
		bounds = poissonBounds(spec.Method, f, math.Round(count), scale)
	}
	lo, hi := bounds(1)
	iv.Low, iv.High = ptr(lo), ptr(hi)
	if straddles(r, lo, hi) {
		r.LowConfidence = true
		if k, ok := deciding(r, bounds); ok {
			secs := k * w.End.Sub(w.Start).Seconds()
			r.ExtendToSeconds = &secs
		}
	}
	return nil
}

// poissonBounds is the interval of a value proportional to a count (poisson: value = count x
// scale) or inversely so (poisson-denominator: value = total / count), as a function of how
// much longer the window is (factor: the count grows with it, the value stays).
func poissonBounds(method string, f, count, scale float64) func(factor float64) (float64, float64) {
	return func(factor float64) (float64, float64) {
		k := int64(math.Round(count * factor))
		lo, hi := confidence.PoissonCount(k)
		if method == IntervalPoisson {
			// The rate's scale shrinks as the window grows: value = count x scale either way.
			return lo * scale / factor, hi * scale / factor
		}
		if k == 0 || lo == 0 {
			return f * float64(k) / hi, math.Inf(1)
		}
		total := f * float64(k)
		return total / hi, total / lo
	}
}

// straddles reports whether [lo, hi] holds values that pass and values that fail r's
// criterion (its pass threshold and operator as judged).
func straddles(r *verdict.Objective, lo, hi float64) bool {
	if r.Op == "" || math.IsNaN(lo) || math.IsNaN(hi) {
		return false
	}
	return compare(lo, r.Op, r.Objective) != compare(hi, r.Op, r.Objective)
}

// deciding finds how many times longer the window would need to be, at the rate observed, for
// the interval to lie on one side of the threshold: the smallest power of two up to
// maxExtension, refined by bisection.
func deciding(r *verdict.Objective, bounds func(factor float64) (float64, float64)) (float64, bool) {
	decided := func(k float64) bool { lo, hi := bounds(k); return !straddles(r, lo, hi) }
	lo, hi := 1.0, 2.0
	for !decided(hi) {
		if hi >= maxExtension {
			return 0, false
		}
		lo, hi = hi, hi*2
	}
	for range 20 {
		mid := (lo + hi) / 2
		if decided(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}

// applyDecision applies the profile's decision to a judged result: under confident, a PASS,
// WARN or FAIL whose interval straddles the threshold is INCONCLUSIVE.
func applyDecision(r *verdict.Objective, decision string, w Window) {
	judged := r.Status == verdict.Pass || r.Status == verdict.Warn || r.Status == verdict.Fail
	if decision != DecisionConfident || !r.LowConfidence || !judged {
		return
	}
	r.Status = verdict.Inconclusive
	r.Error = "not enough evidence: the 95 % interval holds values on both sides of the threshold"
	if r.ExtendToSeconds != nil {
		r.Error += fmt.Sprintf("; extend %s to about %s", w.Name, (time.Duration(*r.ExtendToSeconds) * time.Second).Round(time.Second))
	} else {
		r.Error += fmt.Sprintf("; even %dx the window %s would not decide it at the rate observed", maxExtension, w.Name)
	}
}

// scalarQuery runs q at ts and returns its single finite value.
func scalarQuery(ctx context.Context, q Querier, query string, ts time.Time) (float64, error) {
	val, _, _, err := q.Query(ctx, query, ts)
	if err != nil {
		return 0, err
	}
	f, n, reason := single(val)
	switch {
	case reason != "" && n != 0:
		return 0, fmt.Errorf("%s", reason)
	case reason != "":
		return 0, nil
	case !finite(f):
		return 0, fmt.Errorf("the value is %s", formatValue(f))
	}
	return f, nil
}
