package load_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/dailydoco/ddp-verify/load"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeRun starts the engine on a fake clock inside a synctest bubble; at(d) sets the clock to
// d after the start and returns once every goroutine is blocked again.
type fakeRun struct {
	t    *testing.T
	clk  *clocktesting.FakeClock
	eng  *load.Engine
	res  *load.Result
	done chan struct{}
	err  error
	cur  time.Duration
}

func startFake(t *testing.T, scs []load.ScenarioConfig, opts ...load.Option) *fakeRun {
	t.Helper()
	f := &fakeRun{t: t, clk: clocktesting.NewFakeClock(epoch), done: make(chan struct{})}
	eng, err := load.NewEngine(scs, append(opts, load.WithClock(f.clk))...)
	if err != nil {
		t.Fatal(err)
	}
	f.eng = eng
	go func() {
		defer close(f.done)
		f.res, f.err = eng.Run(context.Background())
	}()
	synctest.Wait()
	return f
}

func (f *fakeRun) at(d time.Duration) {
	f.clk.SetTime(epoch.Add(d))
	f.cur = d
	synctest.Wait()
}

// until steps the clock by step up to d.
func (f *fakeRun) until(d, step time.Duration) {
	for f.cur+step <= d {
		f.at(f.cur + step)
	}
	if f.cur < d {
		f.at(d)
	}
}

func (f *fakeRun) finished() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// blockForever is an iteration that only ends when interrupted.
var blockForever = load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
	<-ctx.Done()
	return ctx.Err()
})

func sleeper(d time.Duration) load.Scenario {
	return load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error { return vu.Sleep(ctx, d) })
}

func TestRampingVUsIntegerCrossing(t *testing.T) {
	cases := []struct {
		name    string
		start   int64
		stages  []load.Stage
		wantAt  []time.Duration // times the count changes
		wantVUs []int64         // the count from then on
	}{
		{"up 0 to 4 over 4s", 0, []load.Stage{{4 * time.Second, 4}},
			[]time.Duration{1 * time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}, []int64{1, 2, 3, 4}},
		{"up 0 to 3 over 1s, thirds", 0, []load.Stage{{time.Second, 3}},
			[]time.Duration{333333333, 666666666, time.Second}, []int64{1, 2, 3}},
		{"down 4 to 0 over 2s", 4, []load.Stage{{2 * time.Second, 0}},
			[]time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second}, []int64{3, 2, 1, 0}},
		{"up, hold, down", 0, []load.Stage{{2 * time.Second, 2}, {time.Second, 2}, {3 * time.Second, 5}, {time.Second, 0}},
			[]time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 6 * time.Second,
				6*time.Second + 200*time.Millisecond, 6*time.Second + 400*time.Millisecond, 6*time.Second + 600*time.Millisecond,
				6*time.Second + 800*time.Millisecond, 7 * time.Second},
			[]int64{1, 2, 3, 4, 5, 4, 3, 2, 1, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The pure schedule first.
			steps := load.RampingVUSteps(tc.start, tc.stages)
			var gotAt []time.Duration
			var gotVUs []int64
			for _, s := range steps[1:] {
				gotAt, gotVUs = append(gotAt, s.At), append(gotVUs, s.VUs)
			}
			if !slices.Equal(gotAt, tc.wantAt) || !slices.Equal(gotVUs, tc.wantVUs) {
				t.Fatalf("steps: at %v vus %v, want at %v vus %v", gotAt, gotVUs, tc.wantAt, tc.wantVUs)
			}
			// Then the executor on the fake clock: the count is the old one 1ns before each
			// crossing and the new one at it.
			synctest.Test(t, func(t *testing.T) {
				f := startFake(t, []load.ScenarioConfig{{Name: "r", Exec: blockForever, GracefulStop: load.NoGrace,
					Executor: load.RampingVUs{StartVUs: tc.start, Stages: tc.stages, GracefulRampDown: load.NoGrace}}})
				prev := tc.start
				if got := f.eng.Live().VUs; got != prev {
					t.Fatalf("at 0: %d VUs, want %d", got, prev)
				}
				for i, at := range tc.wantAt {
					f.at(at - 1)
					if got := f.eng.Live().VUs; got != prev {
						t.Fatalf("at %v: %d VUs, want %d", at-1, got, prev)
					}
					f.at(at)
					if got := f.eng.Live().VUs; got != tc.wantVUs[i] && !(i == len(tc.wantAt)-1 && f.finished()) {
						t.Fatalf("at %v: %d VUs, want %d", at, got, tc.wantVUs[i])
					}
					prev = tc.wantVUs[i]
				}
				f.until(f.cur+time.Second, 100*time.Millisecond)
				<-f.done
			})
		})
	}
}

func TestRampingVUsStopsNewestFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		running := map[int64]bool{}
		var started []int64
		exec := load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
			mu.Lock()
			if !running[vu.ID()] {
				started = append(started, vu.ID())
			}
			running[vu.ID()] = true
			mu.Unlock()
			<-ctx.Done()
			mu.Lock()
			delete(running, vu.ID())
			mu.Unlock()
			return nil
		})
		f := startFake(t, []load.ScenarioConfig{{Name: "r", Exec: exec, GracefulStop: load.NoGrace,
			Executor: load.RampingVUs{Stages: []load.Stage{{3 * time.Second, 3}, {2 * time.Second, 1}, {time.Second, 1}},
				GracefulRampDown: load.NoGrace}}})
		f.at(1 * time.Second)
		f.at(2 * time.Second)
		f.at(3 * time.Second)
		mu.Lock()
		order := slices.Clone(started)
		mu.Unlock()
		if len(order) != 3 {
			t.Fatalf("started %v, want 3 VUs", order)
		}
		f.at(4 * time.Second) // 3 -> 2: the newest stops
		mu.Lock()
		if running[order[2]] || !running[order[0]] || !running[order[1]] {
			t.Fatalf("at 4s running %v, want the first two of %v", running, order)
		}
		mu.Unlock()
		f.at(5 * time.Second) // 2 -> 1
		mu.Lock()
		if len(running) != 1 || !running[order[0]] {
			t.Fatalf("at 5s running %v, want only the first of %v", running, order)
		}
		mu.Unlock()
		f.until(7*time.Second, 100*time.Millisecond)
		<-f.done
	})
}

func TestGracefulRampDownAndGracefulStop(t *testing.T) {
	hold := []load.Stage{{0, 2}, {10 * time.Second, 2}, {0, 0}}
	cases := []struct {
		name            string
		exec            load.Executor
		gracefulStop    time.Duration
		wantCompleted   uint64
		wantInterrupted uint64
		wantEnd         time.Duration
	}{
		// Iterations of 7s: 0–7 complete; 7–14 is running when the VUs must stop at 10s.
		{"rampdown 3s interrupts", load.RampingVUs{Stages: hold, GracefulRampDown: 3 * time.Second}, 0, 2, 2, 13 * time.Second},
		{"rampdown 5s lets finish", load.RampingVUs{Stages: hold, GracefulRampDown: 5 * time.Second}, 0, 4, 0, 14 * time.Second},
		{"gracefulStop 3s interrupts", load.ConstantVUs{VUs: 2, Duration: 10 * time.Second}, 3 * time.Second, 2, 2, 13 * time.Second},
		{"gracefulStop 5s lets finish", load.ConstantVUs{VUs: 2, Duration: 10 * time.Second}, 5 * time.Second, 4, 0, 14 * time.Second},
		{"no gracefulStop", load.ConstantVUs{VUs: 2, Duration: 10 * time.Second}, load.NoGrace, 2, 2, 10 * time.Second},
		{"per-vu-iterations maxDuration", load.PerVUIterations{VUs: 2, Iterations: 5, MaxDuration: 10 * time.Second}, 3 * time.Second, 2, 2, 13 * time.Second},
		{"shared-iterations all done", load.SharedIterations{VUs: 2, Iterations: 3, MaxDuration: 30 * time.Second}, 0, 3, 0, 14 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := startFake(t, []load.ScenarioConfig{{Name: "g", Exec: sleeper(7 * time.Second), GracefulStop: tc.gracefulStop, Executor: tc.exec}})
				for !f.finished() && f.cur < time.Minute {
					f.at(f.cur + 100*time.Millisecond)
				}
				if !f.finished() {
					t.Fatal("run did not end")
				}
				sc := f.res.Snapshot.Scenarios[0]
				if sc.Iterations != tc.wantCompleted || sc.Interrupted != tc.wantInterrupted {
					t.Fatalf("completed %d interrupted %d, want %d and %d", sc.Iterations, sc.Interrupted, tc.wantCompleted, tc.wantInterrupted)
				}
				if f.res.Snapshot.Elapsed != tc.wantEnd {
					t.Fatalf("ended at %v, want %v", f.res.Snapshot.Elapsed, tc.wantEnd)
				}
			})
		})
	}
}

// recordStarts is an iteration that notes its start offset.
type recordStarts struct {
	mu     sync.Mutex
	starts []time.Duration
	busy   time.Duration
}

func (r *recordStarts) Run(ctx context.Context, vu *load.VU) error {
	r.mu.Lock()
	r.starts = append(r.starts, vu.Now().Sub(epoch))
	r.mu.Unlock()
	if r.busy > 0 {
		return vu.Sleep(ctx, r.busy)
	}
	return nil
}

func (r *recordStarts) get() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.starts)
}

func TestArrivalRateStartsFollowTheScheduleExactly(t *testing.T) {
	ramp := []load.Stage{{2 * time.Second, 10}, {time.Second, 10}}
	cases := []struct {
		name  string
		exec  load.Executor
		sched load.Schedule
		start time.Duration
	}{
		{"constant 3/s", load.ConstantArrivalRate{Rate: 3, Duration: 2 * time.Second, PreAllocatedVUs: 2},
			load.ConstantSchedule{Rate: 3, TimeUnit: time.Second, Duration: 2 * time.Second}, 0},
		{"constant 7 per 2s, startTime 1s", load.ConstantArrivalRate{Rate: 7, TimeUnit: 2 * time.Second, Duration: 3 * time.Second, PreAllocatedVUs: 2},
			load.ConstantSchedule{Rate: 7, TimeUnit: 2 * time.Second, Duration: 3 * time.Second}, time.Second},
		{"ramping 0 to 10/s over 2s then 1s hold", load.RampingArrivalRate{Stages: ramp, PreAllocatedVUs: 2},
			load.NewRampingSchedule(0, time.Second, ramp), 0},
		{"poisson 20/s", load.ConstantArrivalRate{Rate: 20, Duration: 2 * time.Second, PreAllocatedVUs: 2, Poisson: true, Seed: 7},
			load.NewPoissonSchedule(7, 20, time.Second, 2*time.Second, nil), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want []time.Duration
			for n := uint64(0); ; n++ {
				at, ok := tc.sched.Start(n)
				if !ok {
					break
				}
				want = append(want, tc.start+at)
			}
			synctest.Test(t, func(t *testing.T) {
				rec := &recordStarts{}
				f := startFake(t, []load.ScenarioConfig{{Name: "a", Exec: rec, StartTime: tc.start, Executor: tc.exec}})
				for i, at := range want {
					if at > f.cur {
						f.at(at - 1)
						if got := len(rec.get()); got != i {
							t.Fatalf("%d starts before %v, want %d", got, at, i)
						}
						f.at(at)
					}
				}
				f.until(f.cur+2*time.Second, 100*time.Millisecond)
				<-f.done
				if got := rec.get(); !slices.Equal(got, want) {
					t.Fatalf("starts\n got %v\nwant %v", got, want)
				}
				if d := f.res.Snapshot.Scenarios[0].Dropped; d != 0 {
					t.Fatalf("dropped %d", d)
				}
			})
		})
	}
}

func TestRampingScheduleMatchesAnalyticArea(t *testing.T) {
	s := load.NewRampingSchedule(0, time.Second, []load.Stage{{2 * time.Second, 10}, {time.Second, 10}, {time.Second, 0}})
	for n := uint64(0); ; n++ {
		at, ok := s.Start(n)
		if !ok {
			if n != 10+10+5 {
				t.Fatalf("schedule has %d starts, want 25", n)
			}
			break
		}
		k := float64(n + 1)
		var want float64 // seconds
		switch {
		case k <= 10: // area 2.5 t²
			want = sqrt(k / 2.5)
		case k <= 20:
			want = 2 + (k-10)/10
		default: // area 20 + 10x − 5x²
			x := (10 - sqrt(100-20*(k-20))) / 10
			want = 3 + x
		}
		if d := at - time.Duration(want*1e9+0.5); d < -1 || d > 1 {
			t.Fatalf("start %d at %v, analytic %.9fs", n, at, want)
		}
	}
}

func sqrt(x float64) float64 {
	z := x
	for range 60 {
		if z == 0 {
			return 0
		}
		z -= (z*z - x) / (2 * z)
	}
	return z
}

func TestArrivalRateDropsWhenNoVUIsIdle(t *testing.T) {
	cases := []struct {
		name             string
		pre, max         int64
		wantDone, wantDr uint64
	}{
		// 10/s for 1s, iterations of 250ms, one VU: starts at 0, 300, 600, 900 ms run.
		{"one VU", 1, 1, 4, 6},
		// A second VU is initialised after the first drop (at 100ms) and serves from 200ms.
		{"maxVUs 2", 1, 2, 7, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &recordStarts{busy: 250 * time.Millisecond}
				f := startFake(t, []load.ScenarioConfig{{Name: "d", Exec: rec,
					Executor: load.ConstantArrivalRate{Rate: 10, Duration: time.Second, PreAllocatedVUs: tc.pre, MaxVUs: tc.max}}})
				f.until(3*time.Second, 50*time.Millisecond)
				<-f.done
				sc := f.res.Snapshot.Scenarios[0]
				if sc.Iterations != tc.wantDone || sc.Dropped != tc.wantDr {
					t.Fatalf("done %d dropped %d (starts %v), want %d and %d", sc.Iterations, sc.Dropped, rec.get(), tc.wantDone, tc.wantDr)
				}
			})
		})
	}
}

func TestSeveralScenariosWithStartTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := &recordStarts{}, &recordStarts{}
		f := startFake(t, []load.ScenarioConfig{
			{Name: "a", Exec: a, Executor: load.PerVUIterations{VUs: 1, Iterations: 2}},
			{Name: "b", Exec: b, StartTime: 5 * time.Second, Executor: load.SharedIterations{VUs: 2, Iterations: 4}},
		})
		f.until(6*time.Second, time.Second)
		<-f.done
		if got := a.get(); !slices.Equal(got, []time.Duration{0, 0}) {
			t.Fatalf("a started at %v", got)
		}
		if got := b.get(); len(got) != 4 || got[0] != 5*time.Second {
			t.Fatalf("b started at %v", got)
		}
	})
}

// TestArrivalLatenessIsStartMinusSchedule: every arrival-rate start records one
// iteration_lateness sample, actual start − scheduled start. The fake clock jumps 250 ms at a
// time over a 10/s schedule, so starts fall due between ticks and run late by a known amount;
// the starts after a late one keep their own schedule (it is absolute: lateness never carries
// over), which is why the lateness pattern repeats. How late starts are on the real clock is a
// benchmark figure (BenchmarkArrivalLatenessRealClock), since it depends on the machine.
func TestArrivalLatenessIsStartMinusSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recordStarts{}
		f := startFake(t, []load.ScenarioConfig{{Name: "a", Exec: rec,
			Executor: load.ConstantArrivalRate{Rate: 10, Duration: time.Second, PreAllocatedVUs: 10}}})
		f.until(2*time.Second, 250*time.Millisecond)
		<-f.done
		ms := time.Millisecond
		// Scheduled at 0, 100, ..., 900 ms; the clock shows 0, 250, 500, 750, 1000 ms.
		want := []time.Duration{0, 250 * ms, 250 * ms, 500 * ms, 500 * ms, 500 * ms, 750 * ms, 750 * ms, time.Second, time.Second}
		if got := rec.get(); !slices.Equal(got, want) {
			t.Fatalf("starts\n got %v\nwant %v", got, want)
		}
		var sum time.Duration
		for i, at := range want {
			sum += at - time.Duration(i)*100*ms
		}
		sc := f.res.Snapshot.Scenarios[0]
		h, n, sumNs := f.res.Snapshot.Trend(load.MetricIterLateness, nil)
		if sc.Iterations != 10 || sc.Dropped != 0 || n != 10 {
			t.Fatalf("iterations %d dropped %d lateness samples %d, want 10, 0, 10", sc.Iterations, sc.Dropped, n)
		}
		// Lateness 0, 150, 50, 200, 100, 0, 150, 50, 200, 100 ms: the sum is exact, min and
		// max come from the HDR histogram (microseconds).
		if time.Duration(sumNs) != sum || h.Min() != 0 || !h.ValuesAreEquivalent(h.Max(), 200_000) {
			t.Fatalf("lateness sum %v min %dµs max %dµs, want %v, 0, 200ms", time.Duration(sumNs), h.Min(), h.Max(), sum)
		}
	})
}
