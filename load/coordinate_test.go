package load_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/load/loadtest"
)

// workTrend is an iteration that records a duration drawn from its start offset (so that the
// whole test and its parts record the same samples) and fails every seventh check.
var workTrend = load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
	ms := vu.Now().Sub(epoch).Milliseconds()
	vu.Trend("work", "", time.Duration(ms*7919%400+1)*time.Millisecond)
	vu.Check("seventh", ms%7 != 0)
	return vu.Sleep(ctx, 50*time.Millisecond)
})

// segmentRun is one generator of a split run on the fake clock: its engine and what a
// coordinator collected from it every second.
type segmentRun struct {
	f       *fakeRun
	sent    int64 // seconds before it were sent
	seconds []load.WindowSecond
}

// collect takes the generator's newly closed seconds, as an agent does every second.
func (s *segmentRun) collect(t *testing.T) {
	ws, closed, err := s.f.eng.WindowSeconds(s.sent - 1)
	if err != nil {
		t.Fatal(err)
	}
	s.seconds = append(s.seconds, ws...)
	s.sent = closed
}

// The thresholds of a test split into segments, evaluated over the generators' merged
// seconds and snapshots, are those of one generator that ran the whole test: windowed ones
// (trend, rate and counter), whole-run ones, and the failing ones fail at the same second.
func TestMergedThresholdsEqualTheWholeTest(t *testing.T) {
	ths := mustThresholds(t,
		"work:p(95)<300 over 2s", "work:avg<250", "work:max<390 over 1s",
		"checks:rate>0.9 over 2s", "iterations:count>=20 over 2s", "iterations:count>100",
	)
	exec := load.RampingArrivalRate{Stages: []load.Stage{{2 * time.Second, 30}, {3 * time.Second, 30}, {time.Second, 0}}, PreAllocatedVUs: 8}
	scen := []load.ScenarioConfig{{Name: "s", Executor: exec, GracefulStop: load.NoGrace, Exec: workTrend}}
	segs := parts(t, "0,1/3,2/3,1", []string{"0:1/3", "1/3:2/3", "2/3:1"})

	synctest.Test(t, func(t *testing.T) {
		whole := startFake(t, scen, load.WithThresholds(ths...))
		var runs []*segmentRun
		for _, s := range segs {
			runs = append(runs, &segmentRun{f: startFake(t, scen, load.WithThresholds(ths...), load.WithSegment(s))})
		}
		merged := load.NewMergedThresholds(ths)
		for step := 1; !whole.finished(); step++ {
			at := time.Duration(step) * time.Millisecond
			whole.at(at)
			closed := int64(1 << 62)
			for _, r := range runs {
				r.f.at(at)
				if step%1000 == 0 || r.f.finished() {
					r.collect(t)
				}
				closed = min(closed, r.sent)
			}
			if step%1000 == 0 {
				for _, r := range runs {
					if err := merged.Add(r.seconds); err != nil {
						t.Fatal(err)
					}
					r.seconds = nil
				}
				if ab := merged.Advance(closed, at, func() *load.Snapshot { return nil }); ab != nil {
					t.Fatalf("no threshold aborts, got %+v", ab)
				}
			}
		}
		snap := &load.Snapshot{}
		for _, r := range runs {
			for !r.f.finished() {
				r.f.at(r.f.cur + time.Millisecond)
			}
			<-r.f.done
			r.collect(t)
			if err := merged.Add(r.seconds); err != nil {
				t.Fatal(err)
			}
			snap.Merge(r.f.res.Snapshot)
		}
		<-whole.done
		got := merged.Final(snap, whole.res.Snapshot.Elapsed)
		want := whole.res.Thresholds
		if len(got) != len(want) {
			t.Fatalf("%d results, want %d", len(got), len(want))
		}
		failing := 0
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("threshold %s:\n merged %+v\n whole  %+v", want[i].Source, got[i], want[i])
			}
			if !want[i].Pass {
				failing++
			}
		}
		if failing == 0 || failing == len(want) {
			t.Fatalf("%d of %d thresholds fail in the whole test: the comparison needs both kinds", failing, len(want))
		}
		if g, w := snap.TrendStats("work", nil), whole.res.Snapshot.TrendStats("work", nil); g != w {
			t.Errorf("merged work trend %+v, whole %+v", g, w)
		}
	})
}

// A coordinator refuses seconds it cannot merge exactly: of a threshold that has no window,
// or older than the windows it has evaluated.
func TestMergedThresholdsRefuseSecondsTheyCannotMerge(t *testing.T) {
	ths := mustThresholds(t, "work:p(95)<300 over 2s", "work:avg<250")
	m := load.NewMergedThresholds(ths)
	if err := m.Add([]load.WindowSecond{{Threshold: 1, Second: 0, Count: 1}}); err == nil {
		t.Error("seconds of a whole-run threshold were accepted")
	}
	if err := m.Add([]load.WindowSecond{{Threshold: 5, Second: 0, Count: 1}}); err == nil {
		t.Error("seconds of an unknown threshold were accepted")
	}
	m.Advance(10, 10*time.Second, func() *load.Snapshot { return &load.Snapshot{} })
	if err := m.Add([]load.WindowSecond{{Threshold: 0, Second: 9, Count: 1}}); err == nil {
		t.Error("a second older than the evaluated windows was accepted")
	}
	if err := m.Add([]load.WindowSecond{{Threshold: 0, Second: 10, Count: 1}}); err != nil {
		t.Errorf("the next second was refused: %v", err)
	}
}

func mustThresholds(t *testing.T, specs ...string) []load.Threshold {
	t.Helper()
	var out []load.Threshold
	for _, s := range specs {
		th, err := load.ParseThresholdSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, th)
	}
	return out
}

// The live view of a snapshot is the engine's own live view (requests, rates, p95), so a
// coordinator that shows its merged snapshots' view shows what one generator would.
func TestLiveOfASnapshotIsTheEnginesLiveView(t *testing.T) {
	tg := loadtest.NewTarget(t)
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer fail.Close()
	e, err := load.NewEngine([]load.ScenarioConfig{{Name: "web", Executor: load.ConstantArrivalRate{Rate: 50, Duration: 2500 * time.Millisecond, PreAllocatedVUs: 4},
		Exec: load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
			url := tg.URL
			if vu.Iteration()%5 == 0 {
				url = fail.URL
			}
			_, err := vu.HTTP().Get(ctx, "home", url)
			return err
		})}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := e.Live()
	got := load.LiveOf(e.Snapshot(), want.Elapsed)
	if got != want {
		t.Fatalf("LiveOf %+v\nLive   %+v", got, want)
	}
	if want.Requests == 0 || want.RPS == 0 || want.ErrorRate == 0 || want.P95 == 0 {
		t.Fatalf("the live view compared is empty: %+v", want)
	}
}
