package load_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dailydoco/ddp-verify/load"
)

// sequences are the splits the segment tests try: equal ones, uneven ones, and k6's notations.
var sequences = []struct {
	name     string
	sequence string
	parts    []string
}{
	{"whole", "", []string{"0:1"}},
	{"two", "0,1/2,1", []string{"0:1/2", "1/2:1"}},
	{"three", "0,1/3,2/3,1", []string{"0:1/3", "1/3:2/3", "2/3:1"}},
	{"four, decimals", "0,0.25,0.5,0.75,1", []string{"0:0.25", "0.25:0.5", "0.5:0.75", "0.75:1"}},
	{"uneven", "0,1/3,1/2,1", []string{"0:1/3", "1/3:1/2", "1/2:1"}},
	{"percentages, 0 and 1 implied", "10%,35%", []string{"0:10%", "10%:35%", "35%:1"}},
	{"seven", "1/7,2/7,3/7,4/7,5/7,6/7", []string{"0:1/7", "1/7:2/7", "2/7:3/7", "3/7:4/7", "4/7:5/7", "5/7:6/7", "6/7:1"}},
}

func parts(t *testing.T, sequence string, specs []string) []load.Segment {
	t.Helper()
	var segs []load.Segment
	for _, p := range specs {
		s, err := load.ParseSegment(p, sequence)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s)
	}
	return segs
}

// Shares add up: at every count v the parts' shares sum to v, each share grows by 0 or 1 as v
// does (so a part's VU count follows the whole one's integer crossings), stays within one unit
// of its fraction, and the parts' unit numbers (Index) are each unit exactly once.
func TestSegmentSharesAddUp(t *testing.T) {
	for _, sq := range sequences {
		t.Run(sq.name, func(t *testing.T) {
			segs := parts(t, sq.sequence, sq.parts)
			const n = 2000
			prev := make([]int64, len(segs))
			for v := int64(1); v <= n; v++ {
				var sum int64
				for i, s := range segs {
					got := s.Share(v)
					if d := got - prev[i]; d != 0 && d != 1 {
						t.Fatalf("part %s: share %d at %d after %d at %d", s, got, v, prev[i], v-1)
					}
					prev[i], sum = got, sum+got
				}
				if sum != v {
					t.Fatalf("at %d units the parts hold %d", v, sum)
				}
			}
			seen := make([]int, n)
			for _, s := range segs {
				frac := fraction(t, s)
				if dev := math.Abs(float64(s.Share(n)) - frac*n); dev >= 1 {
					t.Errorf("part %s holds %d of %d units, %.3f from its fraction", s, s.Share(n), n, dev)
				}
				for k := range uint64(s.Share(n)) {
					seen[s.Index(k)]++
				}
			}
			for k, c := range seen {
				if c != 1 {
					t.Fatalf("unit %d belongs to %d parts", k, c)
				}
			}
		})
	}
}

// fraction is the part's size, read from its String.
func fraction(t *testing.T, s load.Segment) float64 {
	from, to, _ := strings.Cut(s.String(), ":")
	return ratio(t, to) - ratio(t, from)
}

func ratio(t *testing.T, s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	var a, b float64 = 0, 1
	if _, err := fmt.Sscan(num, &a); err != nil {
		t.Fatal(err)
	}
	if ok {
		if _, err := fmt.Sscan(den, &b); err != nil {
			t.Fatal(err)
		}
	}
	return a / b
}

// The parts of a ramping-vus executor add up to the whole at every instant, and each part's
// count changes only where the whole one crosses an integer (the steps are a subset).
func TestSegmentVUStepsAddUp(t *testing.T) {
	stages := []load.Stage{{10 * time.Second, 7}, {5 * time.Second, 7}, {3 * time.Second, 23}, {4 * time.Second, 2}, {0, 11}, {2 * time.Second, 0}}
	whole := load.RampingVUSteps(3, stages)
	for _, sq := range sequences {
		t.Run(sq.name, func(t *testing.T) {
			segs := parts(t, sq.sequence, sq.parts)
			steps := make([][]load.VUStep, len(segs))
			for i, s := range segs {
				steps[i] = s.VUSteps(whole)
				for _, st := range steps[i] {
					if !slices.ContainsFunc(whole, func(w load.VUStep) bool { return w.At == st.At }) {
						t.Fatalf("part %s changes at %v, where the whole does not", s, st.At)
					}
				}
			}
			for _, w := range whole {
				for _, at := range []time.Duration{w.At - 1, w.At} {
					var sum int64
					for i := range segs {
						sum += load.VUsAt(steps[i], at)
					}
					if want := load.VUsAt(whole, at); sum != want {
						t.Fatalf("at %v the parts run %d VUs, the whole %d", at, sum, want)
					}
				}
			}
		})
	}
}

// Every executor, split three ways and run on the fake clock part by part, does the whole
// test's work: the same iteration starts at the same instants (shared-iterations, whose
// iterations go to whichever VU is free, the same number of them), and for the VU executors
// the same peak VU count.
func TestSegmentedExecutorsDoTheWholeWork(t *testing.T) {
	ramp := []load.Stage{{2 * time.Second, 10}, {time.Second, 10}, {time.Second, 0}}
	cases := []struct {
		name       string
		exec       load.Executor
		countsOnly bool
		peak       bool
	}{
		{"constant-vus", load.ConstantVUs{VUs: 5, Duration: 2 * time.Second}, false, true},
		{"ramping-vus", load.RampingVUs{Stages: ramp, GracefulRampDown: load.NoGrace}, false, true},
		{"per-vu-iterations", load.PerVUIterations{VUs: 4, Iterations: 3}, false, true},
		{"shared-iterations", load.SharedIterations{VUs: 4, Iterations: 17}, true, false},
		{"constant-arrival-rate", load.ConstantArrivalRate{Rate: 7, Duration: 2 * time.Second, PreAllocatedVUs: 6}, false, false},
		{"ramping-arrival-rate", load.RampingArrivalRate{Stages: ramp, PreAllocatedVUs: 6}, false, false},
		{"poisson arrivals", load.ConstantArrivalRate{Rate: 20, Duration: 2 * time.Second, PreAllocatedVUs: 6, Poisson: true, Seed: 7}, false, false},
	}
	segs := parts(t, "0,1/3,2/3,1", []string{"0:1/3", "1/3:2/3", "2/3:1"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			whole := runRecorded(t, tc.exec, load.Segment{})
			var merged recording
			for _, s := range segs {
				part := runRecorded(t, tc.exec, s)
				merged.starts = append(merged.starts, part.starts...)
				merged.peak += part.peak
			}
			slices.Sort(merged.starts)
			switch {
			case len(whole.starts) == 0:
				t.Fatal("the whole test started no iteration")
			case tc.countsOnly && len(merged.starts) != len(whole.starts):
				t.Fatalf("the parts started %d iterations, the whole %d", len(merged.starts), len(whole.starts))
			case !tc.countsOnly && !slices.Equal(merged.starts, whole.starts):
				t.Fatalf("iteration starts\n parts %v\n whole %v", merged.starts, whole.starts)
			}
			if tc.peak && merged.peak != whole.peak {
				t.Fatalf("the parts' peak VUs add up to %d, the whole's is %d", merged.peak, whole.peak)
			}
		})
	}
}

// recording is what a fake-clock run did: its iterations' start offsets and its peak VUs.
type recording struct {
	starts []time.Duration
	peak   int64
}

// runRecorded runs one scenario of ex on the fake clock, in 1 ms steps, as segment s. Its
// iterations take 73 ms, so that no start falls on an instant where a VU stops (a ramp's
// crossing, the end): which of two events at one instant comes first is not the split's doing.
func runRecorded(t *testing.T, ex load.Executor, s load.Segment) recording {
	t.Helper()
	var rec recording
	synctest.Test(t, func(t *testing.T) {
		starts := &recordStarts{busy: 73 * time.Millisecond}
		f := startFake(t, []load.ScenarioConfig{{Name: "s", Executor: ex, GracefulStop: load.NoGrace, Exec: starts}}, load.WithSegment(s))
		for !f.finished() {
			rec.peak = max(rec.peak, f.eng.Live().VUs)
			f.at(f.cur + time.Millisecond)
		}
		rec.starts = starts.get()
	})
	return rec
}

// A part that would get iterations or arrivals but no VU to run them is refused when the
// engine is built: the split would leave a gap.
func TestSegmentWithWorkButNoVUIsRefused(t *testing.T) {
	s, err := load.ParseSegment("1/2:1", "0,1/2,1")
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range []load.Executor{
		load.SharedIterations{VUs: 1, Iterations: 10},
		load.ConstantArrivalRate{Rate: 5, Duration: time.Second, PreAllocatedVUs: 1},
	} {
		_, err := load.NewEngine([]load.ScenarioConfig{{Name: "s", Executor: ex, Exec: sleeper(time.Millisecond)}}, load.WithSegment(s))
		if err == nil || !strings.Contains(err.Error(), "no VU") || !strings.Contains(err.Error(), "1/2:1") {
			t.Errorf("%s: %v, want a refusal naming the segment", ex.Name(), err)
		}
	}
}

// Bad segments and sequences are refused with the reason, in k6's notation.
func TestParseSegmentErrors(t *testing.T) {
	for _, tc := range []struct{ segment, sequence, want string }{
		{"1/4", "", "want FROM:TO"},
		{"1/2:1/4", "", "FROM must be below TO"},
		{"1/3:1/3", "", "FROM must be below TO"},
		{"0:1/3", "0,1/2,1", "not one part of the sequence"},
		{"0:x", "", `"x" is not a fraction`},
		{"0:3/2", "", "not between 0 and 1"},
		{"0:1/2", "0,1/2,1/3,1", "does not come after"},
		{"0:1/1048583", "", "repeat only every"},
	} {
		if _, err := load.ParseSegment(tc.segment, tc.sequence); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSegment(%q, %q) = %v, want an error with %q", tc.segment, tc.sequence, err, tc.want)
		}
	}
	var fine []string
	for k := 1; k < 100; k++ {
		fine = append(fine, fmt.Sprintf("%d/1048576", k))
	}
	if _, err := load.ParseSegment("0:1/1048576", strings.Join(fine, ",")); err == nil || !strings.Contains(err.Error(), "too fine a split") {
		t.Errorf("100 parts of a 2^20 pattern: %v, want a refusal", err)
	}
	if s, err := load.EqualSegment(2, 4); err != nil || s.String() != "1/4:1/2" {
		t.Errorf("EqualSegment(2, 4) = %s, %v", s, err)
	}
}
