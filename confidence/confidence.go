// Package confidence computes the 95 % intervals the SLO evaluator puts beside each value, so
// that a verdict says how sure it is:
//
//   - [Wilson] for a share (k of n requests within 100 ms, videos within 2x realtime): the
//     Wilson score interval, which stays inside [0, 1] and behaves at 0 of n and n of n, where
//     the normal ("Wald") interval collapses to a point.
//   - [PoissonCount] for a count of events in a window (videos completed): Garwood's exact
//     interval, from the chi-square quantiles of the Poisson distribution; a rate is the count's
//     interval scaled by the same factor as the count.
//
// Both assume independent samples: requests, videos and their outcomes independent of each
// other given the window's conditions. Requests of one user are not quite independent (a slow
// node slows a user's next request too), so the intervals are somewhat too narrow when the
// platform is in trouble; docs/slo.md says how to read them.
//
// It imports nothing but the standard library.
package confidence

import "math"

// Z95 is the standard normal quantile of a two-sided 95 % interval.
const Z95 = 1.959963984540054

// Level is the confidence level of every interval here.
const Level = 0.95

// Wilson is the 95 % Wilson score interval of a share of k successes in n trials. n = 0 gives
// [0, 1]: nothing is known. k is clamped to [0, n].
func Wilson(k, n float64) (lo, hi float64) {
	if !(n > 0) {
		return 0, 1
	}
	k = math.Min(math.Max(k, 0), n)
	p := k / n
	z2 := Z95 * Z95
	den := 1 + z2/n
	center := (p + z2/(2*n)) / den
	half := Z95 / den * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	lo, hi = center-half, center+half
	// At 0 of n and n of n the bound is exactly 0 or 1; rounding must not say otherwise.
	if k == 0 {
		lo = 0
	}
	if k == n {
		hi = 1
	}
	return math.Max(lo, 0), math.Min(hi, 1)
}

// PoissonCount is Garwood's exact 95 % interval for the mean of a Poisson count observed as k:
// lo = chi2(0.025; 2k)/2 (0 when k is 0) and hi = chi2(0.975; 2k+2)/2.
func PoissonCount(k int64) (lo, hi float64) {
	if k < 0 {
		k = 0
	}
	alpha := 1 - Level
	if k > 0 {
		lo = gammaQuantile(alpha/2, float64(k))
	}
	hi = gammaQuantile(1-alpha/2, float64(k+1))
	return lo, hi
}

// gammaQuantile is x such that P(a, x) = p for the regularized lower incomplete gamma
// function P (chi2(p; 2a) / 2), found by bisection: P is increasing in x.
func gammaQuantile(p, a float64) float64 {
	lo, hi := 0.0, math.Max(1, a)
	for lowerGamma(a, hi) < p {
		hi *= 2
	}
	for range 200 {
		mid := (lo + hi) / 2
		if lowerGamma(a, mid) < p {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo <= 1e-12*math.Max(1, hi) {
			break
		}
	}
	return (lo + hi) / 2
}

// lowerGamma is the regularized lower incomplete gamma function P(a, x) for a > 0, x >= 0:
// by its power series below a+1, and as 1 - Q(a, x) from Q's continued fraction above.
func lowerGamma(a, x float64) float64 {
	if x <= 0 {
		return 0
	}
	lg, _ := math.Lgamma(a)
	front := math.Exp(a*math.Log(x) - x - lg)
	if x < a+1 {
		// P(a, x) = x^a e^-x / Γ(a) · Σ x^n / (a (a+1) ... (a+n))
		term := 1 / a
		sum := term
		for n := 1; n < 1000; n++ {
			term *= x / (a + float64(n))
			sum += term
			if term < sum*1e-16 {
				break
			}
		}
		return front * sum
	}
	// Q(a, x) = x^a e^-x / Γ(a) · 1 / (x + 1 - a - 1·(1-a) / (x + 3 - a - 2·(2-a) / ...)),
	// evaluated by the modified Lentz method.
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 1000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		delta := d * c
		h *= delta
		if math.Abs(delta-1) < 1e-16 {
			break
		}
	}
	return 1 - front*h
}
