package confidence_test

import (
	"math"
	"testing"

	"github.com/dailydoco/ddp-verify/confidence"
)

// Reference values: Newcombe's published Wilson intervals (1998, Statistics in Medicine 17:857,
// method 3: 81/263 and 15/148), Garwood's intervals of the standard exact-Poisson tables (0, 1,
// 2, 5, 10 and 20 events), and the rest computed independently from the definitions with
// mpmath at 30 digits (the Wilson formula; chi-square quantiles by root finding on the
// regularized incomplete gamma function), to the 4 decimals shown.
func TestWilsonReferenceValues(t *testing.T) {
	for _, tc := range []struct {
		k, n   float64
		lo, hi float64
	}{
		{0, 10, 0, 0.2775},  // 0 of n: the lower bound is exactly 0
		{10, 10, 0.7225, 1}, // n of n: the upper bound is exactly 1
		{5, 10, 0.2366, 0.7634},
		{81, 263, 0.2553, 0.3662}, // Newcombe's example
		{15, 148, 0.0624, 0.1605}, // Newcombe's example
		{0, 20, 0, 0.1611},
		{1, 29, 0.0061, 0.1718},
		{95, 100, 0.8882, 0.9785},
		{950, 1000, 0.9347, 0.9619},
	} {
		lo, hi := confidence.Wilson(tc.k, tc.n)
		if math.Abs(lo-tc.lo) > 6e-5 || math.Abs(hi-tc.hi) > 6e-5 {
			t.Errorf("Wilson(%g, %g) = [%.4f, %.4f], want [%.4f, %.4f]", tc.k, tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
	if lo, hi := confidence.Wilson(0, 0); lo != 0 || hi != 1 {
		t.Errorf("Wilson(0, 0) = [%g, %g], want [0, 1]: nothing is known", lo, hi)
	}
}

func TestPoissonCountReferenceValues(t *testing.T) {
	for _, tc := range []struct {
		k      int64
		lo, hi float64
	}{
		{0, 0, 3.6889}, // zero count: the lower bound is exactly 0
		{1, 0.0253, 5.5716},
		{2, 0.2422, 7.2247},
		{5, 1.6235, 11.6683},
		{10, 4.7954, 18.3904},
		{20, 12.2165, 30.8884},
		{50, 37.1110, 65.9188},
		{100, 81.3639, 121.6268},
	} {
		lo, hi := confidence.PoissonCount(tc.k)
		if math.Abs(lo-tc.lo) > 6e-4 || math.Abs(hi-tc.hi) > 6e-4 {
			t.Errorf("PoissonCount(%d) = [%.4f, %.4f], want [%.4f, %.4f]", tc.k, lo, hi, tc.lo, tc.hi)
		}
	}
}

// The intervals always hold their estimate, and narrow as the evidence grows.
func TestIntervalsHoldTheEstimateAndNarrow(t *testing.T) {
	prev := 2.0
	for _, n := range []float64{10, 100, 1000, 10000} {
		lo, hi := confidence.Wilson(0.9*n, n)
		if lo > 0.9 || hi < 0.9 || hi-lo >= prev {
			t.Errorf("n=%g: [%g, %g] (previous width %g)", n, lo, hi, prev)
		}
		prev = hi - lo
	}
	for _, k := range []int64{1, 3, 30, 300, 3000} {
		lo, hi := confidence.PoissonCount(k)
		if lo > float64(k) || hi < float64(k) {
			t.Errorf("k=%d: [%g, %g] does not hold k", k, lo, hi)
		}
	}
}
