package load

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"
)

// maxSegmentPeriod bounds the stripe pattern of a segment sequence (the least common
// denominator of its parts): a sequence as fine as 1/1000000 is a typo, not a test plan.
// maxSegmentWork bounds the pattern's length times the number of parts, the cost of dealing it.
const (
	maxSegmentPeriod = 1 << 20
	maxSegmentWork   = 1 << 26
)

// Segment is one load generator's share of a test split among several, in k6's notation and
// with its guarantees (execution segments; which units a part gets is dealt by our own
// striping, not k6's): the sequence 0 = s0 < s1 < ... < sn = 1 cuts the test into parts, and
// the segment (s(i-1), s(i)] runs its part of every scenario. The units of a scenario (its VUs
// in the order they start, its iterations, its arrivals) are numbered 0, 1, 2, ... and dealt to
// the parts in a pattern that repeats every Period units, each part getting its fraction of
// every period, spread evenly over it. So the parts never overlap and never leave a gap: at any
// VU count v, the parts' VU counts add up to v exactly, and every arrival of the unsegmented
// schedule starts in exactly one part, at the same instant.
//
// The zero Segment is the whole test.
type Segment struct {
	from, to *big.Rat
	// period is the pattern's length; owned are the pattern's positions this segment owns,
	// increasing.
	period int64
	owned  []int64
}

// Whole reports whether s is the whole test (no split).
func (s Segment) Whole() bool { return s.period == 0 }

// String is the segment as k6 writes it ("1/4:1/2"), or "0:1" for the whole test.
func (s Segment) String() string {
	if s.Whole() {
		return "0:1"
	}
	return s.from.RatString() + ":" + s.to.RatString()
}

// Share is how many of the first v units (v VUs, v iterations) belong to s.
func (s Segment) Share(v int64) int64 {
	if s.Whole() || v <= 0 {
		return max(v, 0)
	}
	full, rest := v/s.period, v%s.period
	return full*int64(len(s.owned)) + int64(sort.Search(len(s.owned), func(i int) bool { return s.owned[i] >= rest }))
}

// Index is the unit number of s's n-th unit (0-based).
func (s Segment) Index(n uint64) uint64 {
	if s.Whole() {
		return n
	}
	m := uint64(len(s.owned))
	return n/m*uint64(s.period) + uint64(s.owned[n%m])
}

// NewSegment returns segment i (1-based) of the sequence of fractions, each in (0, 1) and
// increasing; 0 and 1 are implied. NewSegment(1, nil) is the whole test.
func NewSegment(i int, cuts []*big.Rat) (Segment, error) {
	points := []*big.Rat{new(big.Rat)}
	for _, c := range cuts {
		if c.Sign() <= 0 || c.Cmp(big.NewRat(1, 1)) >= 0 || c.Cmp(points[len(points)-1]) <= 0 {
			return Segment{}, fmt.Errorf("execution segment sequence: %s is not between 0 and 1 after %s", c.RatString(), points[len(points)-1].RatString())
		}
		points = append(points, c)
	}
	points = append(points, big.NewRat(1, 1))
	if i < 1 || i >= len(points) {
		return Segment{}, fmt.Errorf("execution segment %d of a sequence of %d", i, len(points)-1)
	}
	if len(points) == 2 {
		return Segment{}, nil
	}
	period, counts, err := stripeCounts(points)
	if err != nil {
		return Segment{}, err
	}
	return Segment{from: points[i-1], to: points[i], period: period, owned: stripes(period, counts)[i-1]}, nil
}

// EqualSegment returns segment i (1-based) of n equal parts.
func EqualSegment(i, n int) (Segment, error) {
	if n < 1 {
		return Segment{}, fmt.Errorf("execution segments: %d parts", n)
	}
	cuts := make([]*big.Rat, 0, n-1)
	for k := 1; k < n; k++ {
		cuts = append(cuts, big.NewRat(int64(k), int64(n)))
	}
	return NewSegment(i, cuts)
}

// ParseSegment reads a segment in k6's notation, "FROM:TO" with each a fraction ("1/4"), a
// decimal ("0.25") or a percentage ("25%"), within the sequence (k6's
// executionSegmentSequence, "0,1/4,1/2,1"; empty for the sequence 0, FROM, TO, 1). All the
// generators of one test must use the same sequence, as in k6.
func ParseSegment(segment, sequence string) (Segment, error) {
	from, to, ok := strings.Cut(segment, ":")
	if !ok {
		return Segment{}, fmt.Errorf("execution segment %q: want FROM:TO, such as 1/4:1/2", segment)
	}
	lo, err := parseFraction(from)
	if err != nil {
		return Segment{}, fmt.Errorf("execution segment %q: %w", segment, err)
	}
	hi, err := parseFraction(to)
	if err != nil {
		return Segment{}, fmt.Errorf("execution segment %q: %w", segment, err)
	}
	if lo.Cmp(hi) >= 0 {
		return Segment{}, fmt.Errorf("execution segment %q: FROM must be below TO", segment)
	}
	points := []*big.Rat{lo, hi}
	if sequence != "" {
		if points, err = parseSequence(sequence); err != nil {
			return Segment{}, err
		}
	}
	cuts := interior(points)
	full := append(append([]*big.Rat{new(big.Rat)}, cuts...), big.NewRat(1, 1))
	for k := 1; k < len(full); k++ {
		if full[k-1].Cmp(lo) == 0 && full[k].Cmp(hi) == 0 {
			return NewSegment(k, cuts)
		}
	}
	return Segment{}, fmt.Errorf("execution segment %q is not one part of the sequence %q", segment, sequence)
}

// interior drops 0 and 1 from points.
func interior(points []*big.Rat) []*big.Rat {
	var cuts []*big.Rat
	for _, p := range points {
		if p.Sign() > 0 && p.Cmp(big.NewRat(1, 1)) < 0 {
			cuts = append(cuts, p)
		}
	}
	return cuts
}

func parseSequence(sequence string) ([]*big.Rat, error) {
	var points []*big.Rat
	for _, f := range strings.Split(sequence, ",") {
		p, err := parseFraction(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("execution segment sequence %q: %w", sequence, err)
		}
		if len(points) > 0 && p.Cmp(points[len(points)-1]) <= 0 {
			return nil, fmt.Errorf("execution segment sequence %q: %s does not come after %s", sequence, f, points[len(points)-1].RatString())
		}
		points = append(points, p)
	}
	return points, nil
}

// parseFraction reads "1/4", "0.25" or "25%" as a number in [0, 1].
func parseFraction(s string) (*big.Rat, error) {
	r, pct := new(big.Rat), strings.HasSuffix(s, "%")
	if _, ok := r.SetString(strings.TrimSuffix(s, "%")); !ok || s == "" {
		return nil, fmt.Errorf("%q is not a fraction (1/4, 0.25 or 25%%)", s)
	}
	if pct {
		r.Quo(r, big.NewRat(100, 1))
	}
	if r.Sign() < 0 || r.Cmp(big.NewRat(1, 1)) > 0 {
		return nil, fmt.Errorf("%s is not between 0 and 1", s)
	}
	return r, nil
}

// stripeCounts returns the pattern's period (the least common denominator of the parts'
// sizes) and how many of its positions each part gets.
func stripeCounts(points []*big.Rat) (int64, []int64, error) {
	lcd := big.NewInt(1)
	sizes := make([]*big.Rat, len(points)-1)
	for k := range sizes {
		sizes[k] = new(big.Rat).Sub(points[k+1], points[k])
		d := sizes[k].Denom()
		g := new(big.Int).GCD(nil, nil, lcd, d)
		lcd.Mul(lcd, new(big.Int).Quo(d, g))
		if !lcd.IsInt64() || lcd.Int64() > maxSegmentPeriod {
			return 0, nil, fmt.Errorf("execution segment sequence: its parts repeat only every %s units or more (at most %d)", lcd, maxSegmentPeriod)
		}
	}
	if lcd.Int64()*int64(len(sizes)) > maxSegmentWork {
		return 0, nil, fmt.Errorf("execution segment sequence: %d parts repeating every %s units is too fine a split", len(sizes), lcd)
	}
	counts := make([]int64, len(sizes))
	for k, size := range sizes {
		counts[k] = new(big.Rat).Mul(size, new(big.Rat).SetInt(lcd)).Num().Int64()
	}
	return lcd.Int64(), counts, nil
}

// stripes deals the period's positions to the parts by smooth weighted round robin: at each
// position every part gains its count, the part furthest ahead (the earliest on a tie) takes
// the position and pays the period back. Each part gets exactly its count, spread evenly.
func stripes(period int64, counts []int64) [][]int64 {
	owned := make([][]int64, len(counts))
	credit := make([]int64, len(counts))
	for pos := range period {
		best := 0
		for k, c := range counts {
			credit[k] += c
			if credit[k] > credit[best] {
				best = k
			}
		}
		credit[best] -= period
		owned[best] = append(owned[best], pos)
	}
	return owned
}

// VUSteps is the segment's part of a ramping-vus executor's steps: at every step its count is
// its share of the whole count, and a step that leaves it unchanged is dropped.
func (s Segment) VUSteps(steps []VUStep) []VUStep {
	if s.Whole() {
		return steps
	}
	out := make([]VUStep, 0, len(steps))
	for _, st := range steps {
		v := s.Share(st.VUs)
		if len(out) > 0 && out[len(out)-1].VUs == v {
			continue
		}
		out = append(out, VUStep{At: st.At, VUs: v})
	}
	return out
}

// Schedule is the segment's part of an arrival-rate schedule: its n-th iteration starts when
// the whole schedule's iteration Index(n) does.
func (s Segment) Schedule(whole Schedule) Schedule {
	if s.Whole() {
		return whole
	}
	return ScheduleFunc(func(n uint64) (time.Duration, bool) { return whole.Start(s.Index(n)) })
}

// covers checks that the segment can run its share of sc: a part that gets iterations or
// arrivals must get a VU to run them, or the split would leave a gap.
func (s Segment) covers(sc ScenarioConfig) error {
	if s.Whole() {
		return nil
	}
	var vus, work int64
	var unit string
	switch x := sc.Executor.(type) {
	case SharedIterations:
		vus, work, unit = s.Share(x.PeakVUs()), s.Share(orOne(x.Iterations)), "iterations"
	case ConstantArrivalRate:
		vus, work, unit = s.Share(x.PeakVUs()), 1, "arrivals"
	case RampingArrivalRate:
		vus, work, unit = s.Share(x.PeakVUs()), 1, "arrivals"
	default:
		return nil
	}
	if work > 0 && vus == 0 {
		return fmt.Errorf("scenario %q: execution segment %s gets %s but no VU to run them: give the scenario at least as many VUs as there are segments, or use fewer", sc.Name, s, unit)
	}
	return nil
}
