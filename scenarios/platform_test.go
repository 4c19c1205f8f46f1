package scenarios

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/profile"
)

// The journeys run against the real reference platform: the test binary re-executes itself as
// the platform's processes (gateway, data tier, nodes), so the generator and the platform do
// not share a process.
func TestMain(m *testing.M) { platformtest.Main(m) }

// fastTarget keeps media durations realistic but uploads them 50x faster than live and polls
// often, so that journeys finish in seconds on the test platform (whose model runs at
// platformtest.Speed). Each engine numbers its VUs from 1, so every subtest takes its own block
// of client addresses: otherwise the earlier subtests' uploads would count against the
// gateway's per-IP video limit (100/min), as they would for one real user.
func fastTarget(url, runID string, addrOffset int64, metrics *dailydoco.Metrics) Target {
	return Target{
		BaseURL: url, Metrics: metrics, UploadSpeed: 50, RunID: runID, AddrOffset: addrOffset,
		Poll:       dailydoco.Backoff{Initial: 100 * time.Millisecond, Max: 500 * time.Millisecond, Factor: 1.5, Deadline: time.Minute},
		ExportPoll: dailydoco.Backoff{Initial: 100 * time.Millisecond, Max: 500 * time.Millisecond, Factor: 1.5, Deadline: time.Minute},
	}
}

// stepStats returns requests and failed requests per step.
func stepStats(s *load.Snapshot) (count, failed map[string]uint64) {
	count, failed = map[string]uint64{}, map[string]uint64{}
	for _, se := range s.Series {
		if se.Metric == load.MetricReqDuration {
			count[se.Tags["step"]] += se.Count
			failed[se.Tags["step"]] += se.Failed
		}
	}
	return count, failed
}

// meanLatency is the mean http_req_duration of the requests whose step keep accepts.
func meanLatency(s *load.Snapshot, keep func(step string) bool) time.Duration {
	var sum int64
	var n uint64
	for _, se := range s.Series {
		if se.Metric == load.MetricReqDuration && keep(se.Tags["step"]) {
			sum += se.Sum
			n += se.Count
		}
	}
	if n == 0 {
		return 0
	}
	return time.Duration(sum / int64(n))
}

// journeyCount returns the Prometheus count of ddp_journey_duration_seconds{journey=name}.
func journeyCount(t *testing.T, m *dailydoco.Metrics, name string) uint64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != dailydoco.MetricJourneyDuration {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "journey" && l.GetValue() == name {
					return mt.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// Each journey runs on the reference platform and produces its step metrics: 2 VUs run 2
// iterations of a mix of that journey alone (a VU's first iteration registers it).
func TestJourneysOnPlatform(t *testing.T) {
	c := platformtest.Start(t, nil)
	model := RateModel{DashboardAssets: 2}.Costs()
	for i, tc := range []struct {
		journey string
		steps   []string // steps of the journey that must appear
		trend   string   // journey-level timing it must record
	}{
		{JourneyRegistration, []string{"register", "login", "dashboard_page", "dashboard_asset", "dashboard_me", "dashboard_videos"}, dailydoco.TrendDashboardLoad},
		{JourneyBrowse, []string{"dashboard_page", "dashboard_asset", "dashboard_me", "dashboard_videos", "videos_list", "me"}, dailydoco.TrendDashboardLoad},
		{JourneyCapture, []string{"capture_start", "capture_chunk", "capture_finish"}, ""},
		{JourneyPipeline, []string{"capture_start", "capture_chunk", "capture_finish", "video_poll", "ai_results"}, dailydoco.TrendFinishToReady},
		{JourneyExport, []string{"videos_list", "capture_start", "capture_chunk", "capture_finish", "video_poll", "export_request", "export_download"}, dailydoco.TrendExportReady},
	} {
		t.Run(tc.journey, func(t *testing.T) {
			metrics := dailydoco.NewMetrics()
			mix, err := NewMix(map[string]float64{tc.journey: 1}, Think{Distribution: "constant", Mean: 20 * time.Millisecond}, fastTarget(c.GatewayURL(), tc.journey, int64(100*i), metrics))
			if err != nil {
				t.Fatal(err)
			}
			eng, err := load.NewEngine([]load.ScenarioConfig{{Name: "journeys", Exec: mix,
				Executor: load.PerVUIterations{VUs: 2, Iterations: 2, MaxDuration: time.Minute}}}, load.WithSeed(7))
			if err != nil {
				t.Fatal(err)
			}
			res, err := eng.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			snap := res.Snapshot
			count, failed := stepStats(snap)
			t.Logf("steps: %v", count)
			if it := snap.Counter(load.MetricIterations, nil); it != 4 {
				t.Errorf("iterations %v, want 4", it)
			}
			if f := snap.Counter(load.MetricIterFailed, nil); f != 0 {
				t.Errorf("%v failed iterations", f)
			}
			for _, st := range tc.steps {
				full := tc.journey + "." + st
				if count[full] == 0 {
					t.Errorf("no requests of step %s", full)
				}
				if failed[full] != 0 {
					t.Errorf("step %s: %d failed requests", full, failed[full])
				}
			}
			checks, bad := snap.Rate(load.MetricChecks, nil)
			if checks == 0 || bad != 0 {
				t.Errorf("checks: %d, %d failed", checks, bad)
			}
			stats := mix.Stats()[tc.journey]
			runs := 2
			if tc.journey == JourneyRegistration {
				runs = 4
			}
			if stats.Runs != runs || stats.Failed != 0 {
				t.Errorf("journey stats %+v, want %d runs without failures", stats, runs)
			}
			perRun := float64(stats.Requests) / float64(stats.Runs)
			switch tc.journey {
			case JourneyRegistration, JourneyBrowse:
				// Fixed request counts: the rate model must agree exactly.
				if perRun != model[tc.journey].Requests {
					t.Errorf("%s sends %.1f requests per run, the rate model says %.1f", tc.journey, perRun, model[tc.journey].Requests)
				}
			case JourneyCapture:
				chunks := count["capture.capture_chunk"]
				if uint64(stats.Requests) != 2*2+chunks {
					t.Errorf("capture: %d requests, want start+finish+%d chunks per run", stats.Requests, chunks)
				}
			case JourneyPipeline:
				want := 2*3 + count["pipeline.capture_chunk"] + count["pipeline.video_poll"]
				if uint64(stats.Requests) != want {
					t.Errorf("pipeline: %d requests, want %d (start, finish, ai, chunks, polls)", stats.Requests, want)
				}
			}
			if tc.trend != "" {
				if _, n, _ := snap.Trend(tc.trend, load.Filter{"step": tc.journey}); n == 0 {
					t.Errorf("no %s trend", tc.trend)
				}
				// Prometheus has no journey-of-origin label, so compare against all journeys.
				_, n, _ := snap.Trend(tc.trend, nil)
				if pc := journeyCount(t, metrics, tc.trend); pc != n {
					t.Errorf("%s: Prometheus count %d, engine trend count %d", tc.trend, pc, n)
				}
			}
			if tc.journey == JourneyExport && count["export.export_download"] != 2 {
				t.Errorf("%d downloads, want 2", count["export.export_download"])
			}
			if stats.Videos != map[string]int{JourneyCapture: 2, JourneyPipeline: 2, JourneyExport: 2}[tc.journey] {
				t.Errorf("%d videos finished", stats.Videos)
			}
		})
	}
}

// The launch mix, measured on the reference platform and compared with the model. A user's
// request rate is estimated by renewal-reward over completed journeys (requests / journey
// seconds, the start-up pause excluded): it does not depend on where users were in their
// journeys when the run started, unlike requests counted in a time window, which a short run
// cannot free from the start-up transient (every user registers first, and registration puts
// its heavy dashboard step last). Journeys must not be cut off either (the long ones would be
// left out), so the run lets every started journey finish, and for that it compresses time:
// think pauses are a quarter of the profile's (mean 3.5 s instead of 14 s) and uploads run 10x
// live. The model is given exactly the same settings, then extrapolates to 1000 users; the
// journey weights, request counts and media mix are the profile's. It is also given the run's
// own mean request latency (upload chunks left out: they leave on the recording's schedule,
// so their time is the upload's, which the model has): latency is the one part of a journey's
// time that depends on how busy the machine is, and with it in the model a slower machine
// slows the prediction as much as the measurement.
//
// Tolerance: ~550 journeys, 97% of them three think pauses long (coefficient of variation of
// their duration ~0.5), give a standard error of ~2%; the few video journeys (~4 expected,
// 4-5x the requests of a browse) add ~1.5%. 10% is about three standard errors.
func TestRequestRateMeasuredMatchesModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 150 users for about a minute")
	}
	p, err := profile.Load("launch")
	if err != nil {
		t.Fatal(err)
	}
	sc := p.Scenarios[0]
	c := platformtest.Start(t, nil)
	target := Target{BaseURL: c.GatewayURL(), UploadSpeed: 10, RunID: "rate"}
	think := ThinkFromProfile(sc.ThinkTime)
	think.Mean, think.Min, think.Max = think.Mean/4, think.Min/4, think.Max/4
	mix, err := NewMix(sc.Journeys, think, target)
	if err != nil {
		t.Fatal(err)
	}
	const users = 150
	eng, err := load.NewEngine([]load.ScenarioConfig{{Name: "users", Exec: mix, GracefulStop: 40 * time.Second,
		Executor: load.ConstantVUs{VUs: users, Duration: 30 * time.Second}}}, load.WithSeed(11))
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total, failed := res.Snapshot.Requests()
	if total == 0 || float64(failed) > 0.01*float64(total) {
		t.Fatalf("%d requests, %d failed: the platform did not carry the load", total, failed)
	}
	var req int
	var secs float64
	var runs int
	for name, st := range mix.Stats() {
		t.Logf("%-12s runs %4d failed %d requests %5d seconds %8.1f videos %d", name, st.Runs, st.Failed, st.Requests, st.Seconds, st.Videos)
		req += st.Requests
		secs += st.Seconds
		runs += st.Runs
	}
	measured := 1000 * 60 * float64(req) / secs

	if in := res.Snapshot.Counter(load.MetricIterInterrupted, nil); in > 0 {
		t.Errorf("%v journeys interrupted: the estimate would leave out the longest", in)
	}
	latency := meanLatency(res.Snapshot, func(step string) bool { return !strings.HasSuffix(step, ".capture_chunk") })
	m := RateModel{Weights: sc.Journeys, Think: think, DashboardAssets: 2, UploadSpeed: 10,
		ReadyRatio: 0.5 / platformtest.Speed, ExportSeconds: 1.0 / platformtest.Speed, RequestLatency: latency}
	r, err := m.Rates(1000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d journeys: measured %.0f requests/min for 1000 users (extrapolated from %d), model %.0f at the measured mean request latency %v",
		runs, measured, users, r.RequestsPerMinute, latency)
	full, err := RateModel{Weights: sc.Journeys, Think: ThinkFromProfile(sc.ThinkTime), DashboardAssets: 2}.Rates(1000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("at the profile's think time and live upload the model gives 1000 users %.0f requests/min; measured/model %.3f puts it at %.0f",
		full.RequestsPerMinute, measured/r.RequestsPerMinute, full.RequestsPerMinute*measured/r.RequestsPerMinute)
	if runs < 400 {
		t.Errorf("only %d journeys completed; the estimate needs more", runs)
	}
	if d := math.Abs(measured-r.RequestsPerMinute) / r.RequestsPerMinute; d > 0.10 {
		t.Errorf("measured %.0f requests/min, model %.0f: %.1f%% apart, want <= 10%%", measured, r.RequestsPerMinute, 100*d)
	}
	// Every request was sent under a journey's step name.
	count, _ := stepStats(res.Snapshot)
	for step := range count {
		if _, ok := Lookup(strings.SplitN(step, ".", 2)[0]); !ok {
			t.Errorf("step %q is not under a journey", step)
		}
	}
}

// Under an arrival-rate executor every arrival offers what its journey does: a VU without an
// account registers and then captures in the same iteration, so N arrivals start N captures
// (the capacity objective counts captures offered), the VUs' first iterations included.
func TestArrivalsEachOfferTheirJourney(t *testing.T) {
	c := platformtest.Start(t, nil)
	plan, err := profile.Parse("arrivals.yaml", []byte(`name: arrivals
scenarios:
  - name: captures
    executor: constant-arrival-rate
    rate: 2
    duration: 4s
    preAllocatedVUs: 3
    maxVUs: 12
    gracefulStop: 1m
    journeys: {capture: 1}
    thinkTime: {distribution: constant, mean: 20ms}
    media:
      - {resolution: 720p, min: 2s, max: 3s, share: 1}
slo: default
`))
	if err != nil {
		t.Fatal(err)
	}
	res := runPlan(t, plan, fastTarget(c.GatewayURL(), "arrivals", 900, dailydoco.NewMetrics()))
	count, failed := stepStats(res.Snapshot)
	started := res.Snapshot.Counter(load.MetricIterations, nil)
	t.Logf("iterations %v, steps %v", started, count)
	if started != 8 || count["capture.capture_start"] != 8 || count["capture.capture_finish"] != 8 {
		t.Errorf("%v iterations started %d captures and finished %d, want 8 and 8", started, count["capture.capture_start"], count["capture.capture_finish"])
	}
	if n := count["registration.register"]; n == 0 || n > 12 {
		t.Errorf("%d registrations, want one per VU used (1 to 12)", n)
	}
	for step, n := range failed {
		if n > 0 {
			t.Errorf("%d failed requests of %s", n, step)
		}
	}
}

// A profile's scenario can run the launch journeys' script (examples/k6/launch.js) instead of
// the Go journeys: its k6/x/dailydoco clients are the target's (fast uploads, its address, its
// journey metrics), so its journey timings reach ddp_journey_duration_seconds for the SLOs.
func TestProfileScriptDrivesTheDailyDocoClient(t *testing.T) {
	c := platformtest.Start(t, nil)
	t.Setenv("THINK", "0.02") // the script's constant think time, from the process environment
	plan, err := profile.Parse("scripted.yaml", []byte(`name: scripted
scenarios:
  - name: captures
    executor: constant-arrival-rate
    rate: 2
    duration: 3s
    preAllocatedVUs: 3
    maxVUs: 12
    gracefulStop: 1m
    script: ../examples/k6/launch.js
    exec: captures
slo: default
`))
	if err != nil {
		t.Fatal(err)
	}
	metrics := dailydoco.NewMetrics()
	res := runPlan(t, plan, fastTarget(c.GatewayURL(), "scripted", 1100, metrics))
	count, failed := stepStats(res.Snapshot)
	t.Logf("steps %v", count)
	if count["capture.capture_start"] != 6 || count["capture.capture_finish"] != 6 {
		t.Errorf("%d captures started, %d finished; want the 6 arrivals'", count["capture.capture_start"], count["capture.capture_finish"])
	}
	regs := count["registration.register"]
	if regs == 0 {
		t.Error("no registration")
	}
	if n := journeyCount(t, metrics, dailydoco.TrendDashboardLoad); n != regs {
		t.Errorf("ddp_journey_duration_seconds{journey=dashboard_load}: %d, want one per registration (%d)", n, regs)
	}
	for step, n := range failed {
		if n > 0 {
			t.Errorf("%d failed requests of %s", n, step)
		}
	}
}

// runPlan runs a parsed profile's scenarios against target (seed 3) and returns the result.
func runPlan(t *testing.T, plan *profile.Profile, target Target) *load.Result {
	t.Helper()
	p, err := plan.Plan()
	if err != nil {
		t.Fatal(err)
	}
	scs, err := FromPlan(p, target)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := load.NewEngine(scs, load.WithSeed(3))
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}
