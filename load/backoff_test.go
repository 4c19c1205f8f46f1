package load_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/load"
)

func TestFailureBackoffDelayAndWait(t *testing.T) {
	t.Parallel()
	s := time.Second
	b := load.FailureBackoff{Min: s, Max: 30 * s}
	for _, tc := range []struct {
		name     string
		b        load.FailureBackoff
		failures int
		ran      time.Duration
		delay    time.Duration
		wait     time.Duration
	}{
		{"no failure", b, 0, 0, 0, 0},
		{"first failure", b, 1, 0, s, s},
		{"doubles", b, 2, 0, 2 * s, 2 * s},
		{"doubles again", b, 5, 0, 16 * s, 16 * s},
		{"capped", b, 6, 0, 30 * s, 30 * s},
		{"stays capped", b, 1000, 0, 30 * s, 30 * s},
		{"the iteration's own time counts", b, 3, 1500 * time.Millisecond, 4 * s, 2500 * time.Millisecond},
		{"a slow failure waits nothing", b, 2, 5 * s, 2 * s, 0},
		{"min equals max", load.FailureBackoff{Min: 5 * s, Max: 5 * s}, 4, 0, 5 * s, 5 * s},
		{"off", load.FailureBackoff{}, 3, 0, 0, 0},
		{"default", load.DefaultFailureBackoff, 7, 0, 30 * s, 30 * s},
	} {
		if d := tc.b.Delay(tc.failures); d != tc.delay {
			t.Errorf("%s: Delay(%d) = %v, want %v", tc.name, tc.failures, d, tc.delay)
		}
		if w := tc.b.Wait(tc.failures, tc.ran); w != tc.wait {
			t.Errorf("%s: Wait(%d, %v) = %v, want %v", tc.name, tc.failures, tc.ran, w, tc.wait)
		}
	}
}

func TestFailureBackoffValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		b    load.FailureBackoff
		want string
	}{
		{load.FailureBackoff{Min: -time.Second, Max: time.Second}, "must not be negative"},
		{load.FailureBackoff{Max: time.Second}, "without min"},
		{load.FailureBackoff{Min: 2 * time.Second, Max: time.Second}, "shorter than min"},
	} {
		err := load.ScenarioConfig{Name: "s", Executor: load.ConstantVUs{Duration: time.Second}, Exec: sleeper(0), FailureBackoff: tc.b}.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", tc.b, err, tc.want)
		}
	}
}

// gathered returns the value of the one series of metric name that reg gathers.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no single series %s", name)
	return 0
}

// failing records when its iterations start and fails each one, after busy (on the engine
// clock) and from the (n+1)-th start on unless ok says otherwise.
type failing struct {
	mu     sync.Mutex
	starts []time.Duration
	busy   time.Duration
	ok     func(n int) bool // iteration n (from 0) succeeds
}

func (f *failing) Run(ctx context.Context, vu *load.VU) error {
	f.mu.Lock()
	n := len(f.starts)
	f.starts = append(f.starts, vu.Now().Sub(epoch))
	f.mu.Unlock()
	if err := vu.Sleep(ctx, f.busy); err != nil {
		return err
	}
	if f.ok != nil && f.ok(n) {
		return nil
	}
	return errors.New("refused")
}

func (f *failing) get() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.starts)
}

// A VU whose iterations fail at once waits 1, 2, 4, ... 30 s before its next one instead of
// starting it at once; a success resets the wait; a failure slower than the wait is followed
// at once. Each wait is counted, with its length, in the snapshot and in Prometheus.
func TestFailingVUsBackOff(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name        string
		exec        *failing
		want        []time.Duration // iteration starts
		backoffs    uint64
		backoffSecs float64
	}{
		{"fails at once", &failing{}, []time.Duration{0, s, 3 * s, 7 * s, 15 * s, 31 * s, 61 * s, 91 * s},
			// the last wait (from 91 s) is cut short by the end at 120 s
			8, 1 + 2 + 4 + 8 + 16 + 30 + 30 + 29},
		{"a success resets", &failing{ok: func(n int) bool { return n == 3 }},
			[]time.Duration{0, s, 3 * s, 7 * s, 7 * s, 8 * s, 10 * s, 14 * s, 22 * s, 38 * s, 68 * s, 98 * s},
			11, 1 + 2 + 4 + 1 + 2 + 4 + 8 + 16 + 30 + 30 + 22},
		{"slow failures wait what is left", &failing{busy: 5 * s}, []time.Duration{0, 5 * s, 10 * s, 15 * s, 23 * s, 39 * s, 69 * s, 99 * s},
			// delays 1, 2, 4 are shorter than the 5 s iterations; then 8-5, 16-5, 30-5, 30-5, and
			// the last iteration (99-104 s) is followed by a wait cut short at 120 s
			5, 3 + 11 + 25 + 25 + 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := startFake(t, []load.ScenarioConfig{{Name: "b", Exec: tc.exec, GracefulStop: load.NoGrace,
					FailureBackoff: load.FailureBackoff{Min: s, Max: 30 * s}, Executor: load.ConstantVUs{VUs: 1, Duration: 120 * s}}})
				f.until(121*s, 500*time.Millisecond)
				<-f.done
				if got := tc.exec.get(); !slices.Equal(got, tc.want) {
					t.Errorf("starts\n got %v\nwant %v", got, tc.want)
				}
				sc := f.res.Snapshot.Scenarios[0]
				if sc.Backoffs != tc.backoffs || sc.BackoffSeconds != tc.backoffSecs {
					t.Errorf("snapshot: %d backoffs, %v s; want %d, %v s", sc.Backoffs, sc.BackoffSeconds, tc.backoffs, tc.backoffSecs)
				}
				reg := prometheus.NewRegistry()
				reg.MustRegister(f.eng.Collector())
				got, secs := gathered(t, reg, load.PromBackoffs), gathered(t, reg, load.PromBackoffSeconds)
				if got != float64(tc.backoffs) || secs != tc.backoffSecs {
					t.Errorf("prometheus: %v backoffs, %v s; want %d, %v", got, secs, tc.backoffs, tc.backoffSecs)
				}
			})
		})
	}
}

// Without a backoff (the zero value, k6's behaviour) failed iterations follow each other at
// once, and nothing is counted.
func TestNoFailureBackoffByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := &failing{}
		f := startFake(t, []load.ScenarioConfig{{Name: "b", Exec: exec, Executor: load.PerVUIterations{VUs: 1, Iterations: 5}}})
		<-f.done
		if got := exec.get(); !slices.Equal(got, []time.Duration{0, 0, 0, 0, 0}) {
			t.Errorf("starts %v, want five at 0", got)
		}
		if sc := f.res.Snapshot.Scenarios[0]; sc.Backoffs != 0 || sc.BackoffSeconds != 0 || sc.Failed != 5 {
			t.Errorf("%+v: want 5 failed, no backoff", sc)
		}
	})
}

// A VU waiting out a long backoff stops at once when it is told to: at a ramp-down and at the
// end of a per-vu-iterations scenario's maxDuration, not when its wait would have ended.
func TestBackoffEndsWhenTheVUStops(t *testing.T) {
	s := time.Second
	long := load.FailureBackoff{Min: time.Minute, Max: time.Minute}
	t.Run("ramp-down", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := startFake(t, []load.ScenarioConfig{{Name: "r", Exec: &failing{}, FailureBackoff: long,
				Executor: load.RampingVUs{StartVUs: 1, Stages: []load.Stage{{10 * s, 1}, {0, 0}, {10 * s, 0}}}}})
			f.at(5 * s)
			if v := f.eng.Live().VUs; v != 1 {
				t.Fatalf("at 5 s: %d VUs, want 1 (backing off)", v)
			}
			f.at(10 * s)
			if v := f.eng.Live().VUs; v != 0 {
				t.Fatalf("at the ramp-down: %d VUs, want 0 (the backoff ends with it)", v)
			}
			f.until(21*s, s)
			<-f.done
			if sc := f.res.Snapshot.Scenarios[0]; sc.Backoffs != 1 || sc.BackoffSeconds != 10 {
				t.Errorf("%d backoffs of %v s, want 1 of 10 s", sc.Backoffs, sc.BackoffSeconds)
			}
		})
	})
	t.Run("maxDuration", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := startFake(t, []load.ScenarioConfig{{Name: "p", Exec: &failing{}, FailureBackoff: long,
				Executor: load.PerVUIterations{VUs: 2, Iterations: 10, MaxDuration: 10 * s}}})
			f.at(10 * s)
			if !f.finished() {
				t.Fatal("the scenario still runs at its maxDuration: its VUs wait out their backoff")
			}
			<-f.done
			if sc := f.res.Snapshot.Scenarios[0]; sc.Backoffs != 2 || sc.BackoffSeconds != 20 || sc.Failed != 2 {
				t.Errorf("%+v: want 2 failed iterations and 2 backoffs of 10 s", sc)
			}
		})
	})
}
