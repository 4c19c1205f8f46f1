package run

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/verdict"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
)

// The service recovers when it is back within its steady-state objectives for 10 s and stays
// there to the end of the fault's recovery window: client errors under 1 %, 95 % of server
// requests within 100 ms, and the backlog at its pre-fault level.
func TestRecoveryTracker(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	ok := health{errorRate: 0, fastShare: 0.99, backlog: 3}
	with := func(f func(*health)) health { h := ok; f(&h); return h }
	errs := func(rate float64) health { return with(func(h *health) { h.errorRate = rate }) }
	slow := with(func(h *health) { h.fastShare = 0.6 })
	backlogged := with(func(h *health) { h.backlog = 40 })
	tests := []struct {
		name string
		// health per second from injection (index 0 = injection + 1 s)
		samples  []health
		want     time.Duration
		wantDone bool
	}{
		{"healthy throughout: recovered at once", repeat(ok, 11), 0, true},
		{"errors for 5 s then clean", append(repeat(errs(0.3), 5), repeat(ok, 11)...), 6 * time.Second, true},
		{"a good second inside a bad spell does not count", append(append(append(repeat(errs(0.3), 3), ok), repeat(errs(0.3), 3)...), repeat(ok, 11)...), 8 * time.Second, true},
		{"never recovers: time keeps growing", repeat(errs(0.5), 30), 30 * time.Second, false},
		{"under 1 % counts as good", repeat(errs(0.009), 11), 0, true},
		{"no errors but slow is not recovered", append(repeat(slow, 20), repeat(ok, 11)...), 21 * time.Second, true},
		{"no errors but a backlog is not recovered", append(repeat(backlogged, 15), repeat(ok, 11)...), 16 * time.Second, true},
		{"backlog unknown: judged on errors and latency", repeat(with(func(h *health) { h.backlog = math.NaN() }), 11), 0, true},
		{"latency unknown: judged on errors and backlog", repeat(with(func(h *health) { h.fastShare = math.NaN() }), 11), 0, true},
		// The first good spell is not the verdict: a pipeline that looks healthy for the first
		// seconds of a fault and then falls behind has not recovered.
		{"healthy at first, then falls behind: not recovered", append(repeat(ok, 15), repeat(backlogged, 20)...), 35 * time.Second, false},
		{"healthy, a bad spell, healthy again: recovered when the last spell began", append(append(repeat(ok, 15), repeat(errs(0.3), 5)...), repeat(ok, 11)...), 21 * time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newRecoveryTracker(t0, backlogLimit([]float64{2, 4, 3, math.NaN()}))
			var got time.Duration
			var done bool
			for i, h := range tc.samples {
				got, done = tr.observe(sec(i+1), h)
			}
			if got != tc.want || done != tc.wantDone {
				t.Errorf("got %s recovered=%v, want %s recovered=%v", got, done, tc.want, tc.wantDone)
			}
		})
	}
	// Samples after the end of the fault's recovery window are another fault's business.
	tr := newRecoveryTracker(t0, 7)
	tr.until = sec(20)
	for i := 1; i <= 40; i++ {
		h := ok
		if i > 20 {
			h = backlogged
		}
		tr.observe(sec(i), h)
	}
	if got, done := tr.observe(sec(41), backlogged); got != 0 || !done {
		t.Errorf("after the recovery window: got %s recovered=%v, want the window's verdict 0s recovered=true", got, done)
	}
	if l := backlogLimit([]float64{2, 4, 3}); l != 7 {
		t.Errorf("backlog limit after a peak of 4: %g, want 7 (4 x 1.2, rounded up, + 2)", l)
	}
	if l := backlogLimit(nil); !math.IsNaN(l) {
		t.Errorf("backlog limit with no history: %g, want none (NaN)", l)
	}
}

// The backlog a fault must return to is the highest of the five minutes before it: a queue's
// peak four minutes earlier still counts, one six minutes earlier no longer does.
func TestRecoveryWatchTakesTheBacklogOfFiveMinutes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := newRecoveryWatch(nil, newRecoveryGauges())
	feed := func(from int, backlogs []float64) {
		for i, b := range backlogs {
			w.observe(t0.Add(time.Duration(from+i)*time.Second), health{fastShare: 1, backlog: b}, nil)
		}
	}
	feed(0, append([]float64{10}, repeat(3.0, 240)...))
	if l := backlogLimit(w.backlog); l != 14 {
		t.Errorf("limit 4 minutes after a peak of 10: %g, want 14 (10 x 1.2 + 2)", l)
	}
	feed(241, repeat(3.0, 120))
	if l := backlogLimit(w.backlog); l != 6 {
		t.Errorf("limit 6 minutes after a peak of 10: %g, want 6 (3 x 1.2, rounded up, + 2)", l)
	}
	// A fault and its recovery window are not steady state: their backlog sets no bar.
	tr := newRecoveryTracker(t0.Add(361*time.Second), 6)
	tr.until = t0.Add(400 * time.Second)
	w.trackers["gpu-node"] = tr
	feed(361, repeat(30.0, 40))
	if l := backlogLimit(w.backlog); l != 6 {
		t.Errorf("limit after a fault's recovery window with a backlog of 30: %g, want still 6", l)
	}
	feed(401, []float64{8})
	if l := backlogLimit(w.backlog); l != 12 {
		t.Errorf("limit once the window is over and the backlog is 8: %g, want 12", l)
	}
}

// The backlog is held against the bar as its mean over 30 s. A pipeline that keeps up nearer its
// capacity swings above the bar for a second at a time and has recovered; one that falls behind
// has not, however its backlog swings.
func TestRecoveryWatchSmoothsTheBacklog(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Five steady minutes: the backlog cycles 2..9, so the bar is 13 (9 x 1.2, rounded up, + 2).
	steady := make([]float64, 300)
	for i := range steady {
		steady[i] = float64(2 + i%8)
	}
	for _, tc := range []struct {
		name    string
		backlog func(s int) float64 // s: seconds since the injection
		want    time.Duration
		ok      bool
	}{
		{"keeps up, a second above the bar every 40 s, the last 20 s before the window ends", func(s int) float64 {
			if s%40 == 20 {
				return 15
			}
			return float64(4 + s%6)
		}, 0, true},
		{"falls behind: a video more every 6 s", func(s int) float64 {
			return float64(6 + s/6 + s%3)
		}, 300 * time.Second, false},
		// 6 to 25 for two minutes, then 5: the mean of the last 30 s is 13.4 at 2 min 16 s,
		// 12.8 from 2 min 17 s on.
		{"falls behind for two minutes, then catches up", func(s int) float64 {
			if s < 120 {
				return float64(6 + s/6)
			}
			return 5
		}, 137 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newRecoveryWatch(nil, newRecoveryGauges())
			for i, b := range steady {
				w.observe(t0.Add(time.Duration(i)*time.Second), health{fastShare: 1, backlog: b}, nil)
			}
			if l := backlogLimit(w.backlog); l != 13 {
				t.Fatalf("bar %g, want 13", l)
			}
			injected := t0.Add(300 * time.Second)
			tr := newRecoveryTracker(injected, backlogLimit(w.backlog))
			tr.until = injected.Add(300 * time.Second)
			w.trackers["gpu-node"] = tr
			for s := 0; s <= 300; s++ {
				w.observe(injected.Add(time.Duration(s)*time.Second), health{fastShare: 1, backlog: tc.backlog(s)}, nil)
			}
			got, ok := tr.latest, tr.recovered
			if ok != tc.ok || got != tc.want {
				t.Errorf("recovery %v recovered=%v, want %v recovered=%v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func repeat[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestCheckWindowsRefusesObjectivesWithoutWindows(t *testing.T) {
	spec, err := slo.Parse("test.yaml", []byte(`
objectives:
  - id: a
    query: vector(1)
    op: ">"
    value: 0
    windows: [run, plateau]
  - id: b
    query: vector(1)
    op: ">"
    value: 0
    windows: ["recovery-*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"smoke", "soak"} { // soak has no fault: recovery-* matches nothing
		p, err := profile.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkWindows(spec, p.Timeline()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	short, err := profile.Load("testdata/short.yaml") // declares no plateau
	if err != nil {
		t.Fatal(err)
	}
	err = checkWindows(spec, short.Timeline())
	if err == nil || !strings.Contains(err.Error(), `objective a: the profile has no window "plateau"`) {
		t.Errorf("got %v", err)
	}
}

func TestRunWindowReachesTheEndOfTheDrain(t *testing.T) {
	p, err := profile.Load("smoke")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	loadEnd := t0.Add(2 * time.Minute)
	end := loadEnd.Add(40 * time.Second)
	ws := runWindows(p.Timeline(), t0, loadEnd, end)
	got := map[string]slo.Window{}
	for _, w := range ws {
		got[w.Name] = w
	}
	if w := got["run"]; !w.Start.Equal(t0) || !w.End.Equal(end) {
		t.Errorf("run window %v..%v, want %v..%v", w.Start, w.End, t0, end)
	}
	if w := got["fault-general-node"]; !w.Start.Equal(t0.Add(40*time.Second)) || !w.End.Equal(t0.Add(70*time.Second)) {
		t.Errorf("fault window %v..%v", w.Start, w.End)
	}
	// An interrupted run: windows that had not begun are left out, running ones are cut.
	cut := runWindows(p.Timeline(), t0, t0.Add(50*time.Second), t0.Add(55*time.Second))
	for _, w := range cut {
		if w.Name == "recovery-general-node" || w.Name == "stage-ramp-down" {
			t.Errorf("window %s had not started but was kept", w.Name)
		}
		if w.Name == "fault-general-node" && !w.End.Equal(t0.Add(50*time.Second)) {
			t.Errorf("fault window not cut at the interruption: %v", w.End)
		}
	}
}

func TestDecide(t *testing.T) {
	pass := &slo.Report{Gate: verdict.Pass, Score: 100, Results: []verdict.Objective{{ID: "x", Status: verdict.Pass}}}
	fail := &slo.Report{Gate: verdict.Fail, Score: 40, GateReasons: []string{"x failed"}, Results: []verdict.Objective{{ID: "x", Status: verdict.Fail}}}
	empty := &slo.Report{Gate: verdict.Error}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	gpu := chaos.Fault{ID: "gpu"}
	confirmed := reports.ChaosResult{Fault: "gpu", InjectedAt: &at, RecoveredAt: &at}
	oldest := 190.0
	tests := []struct {
		name     string
		rep      *slo.Report
		res      *load.Result
		aborted  bool
		chaosErr error
		videos   reports.Videos
		planned  []chaos.Fault
		chaos    []reports.ChaosResult
		want     verdict.Verdict
		reason   string
	}{
		{name: "all pass", rep: pass, want: verdict.Go},
		{name: "all pass with the planned fault confirmed", rep: pass, planned: []chaos.Fault{gpu}, chaos: []reports.ChaosResult{confirmed}, want: verdict.Go},
		{name: "an SLO fails", rep: fail, want: verdict.NoGo, reason: "x failed"},
		{name: "nothing evaluated", rep: empty, want: verdict.NoGo, reason: "no objective was evaluated"},
		{name: "threshold abort", rep: pass, res: &load.Result{Aborted: &load.ThresholdResult{Source: "http_req_failed:rate<0.2"}}, want: verdict.NoGo, reason: "load stopped early"},
		{name: "interrupted", rep: pass, aborted: true, want: verdict.Aborted, reason: "interrupted"},
		{name: "video lost", rep: pass, videos: reports.Videos{Lost: 2}, want: verdict.NoGo, reason: "2 accepted videos were lost"},
		{name: "videos unfinished", rep: pass, videos: reports.Videos{Unfinished: 16, OldestUnfinishedSeconds: &oldest, Drain: reports.DrainTimedOut}, want: verdict.NoGo,
			reason: "16 accepted videos never finished (the oldest had waited 3m10s); drain timed out"},
		{name: "fault error", rep: pass, planned: []chaos.Fault{gpu}, chaos: []reports.ChaosResult{{Fault: "gpu", Error: "refused"}}, want: verdict.NoGo, reason: "fault gpu: refused"},
		{name: "fault left behind", rep: pass, chaosErr: &chaos.LeftoverError{}, want: verdict.NoGo, reason: "faults left in force"},
		{name: "planned fault never ran", rep: pass, planned: []chaos.Fault{gpu}, want: verdict.NoGo, reason: "fault gpu was planned but never ran"},
		{name: "fault never confirmed injected", rep: pass, planned: []chaos.Fault{gpu}, chaos: []reports.ChaosResult{{Fault: "gpu"}}, want: verdict.NoGo, reason: "fault gpu was never confirmed injected"},
		{name: "fault never confirmed undone", rep: pass, planned: []chaos.Fault{gpu}, chaos: []reports.ChaosResult{{Fault: "gpu", InjectedAt: &at}}, want: verdict.NoGo, reason: "fault gpu was never confirmed undone"},
		{name: "interrupted before the fault: not blamed for it", rep: pass, aborted: true, planned: []chaos.Fault{gpu}, want: verdict.Aborted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &reports.Run{Videos: tc.videos, Chaos: tc.chaos}
			decide(r, tc.rep, &execution{load: tc.res, aborted: tc.aborted, chaosErr: tc.chaosErr}, tc.planned)
			if r.Verdict != tc.want {
				t.Errorf("verdict %s, want %s (reasons %q)", r.Verdict, tc.want, r.Reasons)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(r.Reasons, "\n"), tc.reason) {
				t.Errorf("reasons %q lack %q", r.Reasons, tc.reason)
			}
			if tc.name == "interrupted before the fault: not blamed for it" && len(r.Reasons) != 1 {
				t.Errorf("reasons %q, want only the interruption", r.Reasons)
			}
		})
	}
}

// A baseline from a run at another time scale is refused before anything starts: its windows
// had other lengths. An older run.json without time_scale counts as full length.
func TestBaselineAtAnotherTimeScaleIsBadInput(t *testing.T) {
	p, err := profile.Resolve("smoke", 1)
	if err != nil {
		t.Fatal(err)
	}
	scaled, err := profile.Resolve("smoke", 0.5)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := slo.Default()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(t.Context(), Options{Plan: scaled, SLO: spec, Target: &LocalTarget{}, OutDir: t.TempDir(), Baseline: &reports.Run{RunID: "night-1"}})
	if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "night-1 ran at time scale 1 and this run is at 0.5") {
		t.Fatalf("err %v, want bad input naming both time scales", err)
	}
	for _, tc := range []struct {
		base float64
		p    *profile.Plan
	}{{0, p}, {1, p}, {0.5, scaled}} {
		if err := checkBaselineScale(&reports.Run{TimeScale: tc.base}, tc.p); err != nil {
			t.Errorf("baseline at %g, run at %g: %v", tc.base, tc.p.TimeScale(), err)
		}
	}
}
