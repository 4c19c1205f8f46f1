package slo_test

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dailydoco/ddp-verify/confidence"
	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/slo/slotest"
	"github.com/dailydoco/ddp-verify/verdict"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
	)
}

// The test data: frames 1 s apart from base; the window covers frames 31..90 and its bounds
// fall between frames, so Prometheus 2 (closed ranges) and 3 (left-open ranges) select the
// same samples. Over such a window increase() of a counter rising r per second is r·60 exactly
// (60 samples, 59 s sampled, extrapolated by 0.5 s at each end), up to float rounding.
const (
	nFrames = 100
	winFrom = 30500 * time.Millisecond
	winTo   = 90500 * time.Millisecond
)

func testBase() time.Time { return time.Now().Add(-3 * time.Minute).Truncate(time.Second) }

func windows(base time.Time) []slo.Window {
	s, e := base.Add(winFrom), base.Add(winTo)
	return []slo.Window{{Name: "run", Start: s, End: e}, {Name: "steady", Start: s, End: e}, {Name: "plateau", Start: s, End: e},
		{Name: "fault-gpu-node", Start: s, End: e, Fault: "gpu-node"}, {Name: "recovery-gpu-node", Start: s, End: e, Fault: "gpu-node"}}
}

func client(t testing.TB, u string) v1.API {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: u})
	require.NoError(t, err)
	return v1.NewAPI(c)
}

// appended starts an embedded Prometheus holding frames appended directly (no scraping).
func appended(t testing.TB, frames []slotest.Frame) v1.API {
	t.Helper()
	srv, err := prom.New(context.Background(), prom.Options{Dir: filepath.Join(t.TempDir(), "tsdb")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	require.NoError(t, slotest.Append(srv.Appender(context.Background()), frames, "job", "direct", "instance", "exporter"))
	return client(t, srv.URL())
}

type want struct {
	status verdict.Status
	value  *float64 // nil: no value expected
	reason string   // substring of the reason, if set
}

func f(v float64) *float64 { return &v }

// expectedStatus holds the hand-computed expectations for testdata/status.yaml.
func expectedStatus() map[string]want {
	costPerHour := slotest.NodeHourlyCost + slotest.FixedHourlyCost
	return map[string]want{
		"p95_server_pass":       {verdict.Pass, f((slotest.ServerFast + slotest.ServerErrors) / (slotest.ServerRequests + slotest.ServerErrors)), ""},
		"p95_client_warn":       {verdict.Warn, f(slotest.ClientFast / slotest.ClientRequests), ""},
		"p95_client_fail":       {verdict.Fail, f(slotest.ClientFast / slotest.ClientRequests), ""},
		"realtime_le2":          {verdict.Pass, f(slotest.RealtimeWithin2 / slotest.RealtimeVideos), ""},
		"cost_per_video":        {verdict.Pass, f(costPerHour / (3600 * slotest.VideosSucceeded)), ""},
		"empty_no_data":         {verdict.NoData, nil, "no series"},
		"empty_zero":            {verdict.Pass, f(0), ""},
		"multiple_series":       {verdict.Error, nil, "returned 2 series"},
		"nan":                   {verdict.NoData, nil, "NaN"},
		"inf":                   {verdict.NoData, nil, "+Inf"},
		"too_few_samples":       {verdict.NoData, f(slotest.DashboardWithin3 / slotest.DashboardLoads), "too few samples: 60 < 1000"},
		"enough_samples":        {verdict.Pass, f(slotest.DashboardWithin3 / slotest.DashboardLoads), ""},
		"mean_latency_relative": {verdict.NoBaseline, f((5 + 0.01) / (slotest.ServerRequests + slotest.ServerErrors)), "no baseline"},
		"quantile_warning":      {verdict.NoData, nil, "+Inf"},
		"query_error":           {verdict.Error, nil, "query failed"},
		"recovery_ratio":        {verdict.Pass, f(slotest.RecoverySeconds / slotest.RecoveryObjective), ""},
	}
}

func checkResults(t *testing.T, rep *slo.Report, exp map[string]want, window string) {
	t.Helper()
	seen := 0
	for _, r := range rep.Results {
		if r.Window != window {
			continue
		}
		w, ok := exp[r.ID]
		if !ok {
			continue
		}
		seen++
		require.Equal(t, w.status, r.Status, "%s: %s", r.ID, r.Error)
		if w.value == nil {
			require.Nil(t, r.Value, r.ID)
		} else {
			require.NotNil(t, r.Value, r.ID)
			require.InDelta(t, *w.value, *r.Value, 1e-9, r.ID)
		}
		if w.reason != "" {
			require.Contains(t, r.Error, w.reason, r.ID)
		}
	}
	require.Equal(t, len(exp), seen, "every expected objective was evaluated")
}

func TestStatusPaths(t *testing.T) {
	base := testBase()
	q := appended(t, slotest.Frames(base, nFrames, time.Second, 1))
	spec, err := slo.Load("testdata/status.yaml")
	require.NoError(t, err)
	ws := windows(base)[:1]
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	rep := slo.Evaluate(context.Background(), q, spec, ws, slo.Options{Now: func() time.Time { return fixed }})
	checkResults(t, rep, expectedStatus(), "run")

	byID := map[string]verdict.Objective{}
	for _, r := range rep.Results {
		byID[r.ID] = r
	}
	// The exact fraction decides; the interpolated p95 is evidence beside it.
	ev := byID["p95_server_pass"].Evidence
	require.Len(t, ev, 1)
	require.Greater(t, ev[0].Value, 0.05)
	require.LessOrEqual(t, ev[0].Value, 0.1)
	// Query text is recorded after substitution.
	require.Contains(t, byID["p95_server_pass"].Query, "[60s]")
	require.Equal(t, fixed, rep.EvaluatedAt)
	// The record carries the criterion it was judged by.
	warn := byID["p95_client_warn"]
	require.Equal(t, ">=", warn.Op)
	require.Equal(t, 0.95, warn.Objective)
	require.Equal(t, f(0.85), warn.Warning)
	require.Equal(t, ">= 0.95 (warn >= 0.85)", slo.Criterion(warn))
	require.Equal(t, int64(60), byID["too_few_samples"].SampleCount)
	require.Equal(t, int64(60), byID["enough_samples"].SampleCount)
	require.Contains(t, byID["nan"].Error, "the value is NaN")
	// Prometheus's warnings are kept.
	require.NotEmpty(t, byID["quantile_warning"].Warnings)
	require.Contains(t, byID["quantile_warning"].Warnings[0], "quantile value should be between 0 and 1")

	// Missing data and errors fail the gate, whatever the score.
	require.Equal(t, verdict.Fail, rep.Gate)
	require.False(t, rep.Passed())
	require.NotEmpty(t, rep.GateReasons)
}

func TestRelativeCriteria(t *testing.T) {
	base := testBase()
	q := appended(t, slotest.Frames(base, nFrames, time.Second, 1))
	spec, err := slo.Load("testdata/status.yaml")
	require.NoError(t, err)
	only := &slo.Spec{File: spec.File, TotalScore: spec.TotalScore}
	for _, o := range spec.Objectives {
		if o.ID == "mean_latency_relative" {
			only.Objectives = append(only.Objectives, o)
		}
	}
	mean := (5 + 0.01) / (slotest.ServerRequests + slotest.ServerErrors) // 0.0496...
	for _, tc := range []struct {
		name     string
		baseline *slo.Baseline
		status   verdict.Status
	}{
		{"no baseline", nil, verdict.NoBaseline},
		{"baseline of another window", &slo.Baseline{Values: map[string]float64{slo.BaselineKey("mean_latency_relative", "plateau"): 0.05}}, verdict.NoBaseline},
		{"NaN baseline", &slo.Baseline{Values: map[string]float64{slo.BaselineKey("mean_latency_relative", "run"): math.NaN()}}, verdict.NoBaseline},
		{"within +10%", &slo.Baseline{Values: map[string]float64{slo.BaselineKey("mean_latency_relative", "run"): 0.05}}, verdict.Pass},
		{"above +10%", &slo.Baseline{Values: map[string]float64{slo.BaselineKey("mean_latency_relative", "run"): 0.04}}, verdict.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := slo.Evaluate(context.Background(), q, only, windows(base)[:1], slo.Options{Baseline: tc.baseline})
			require.Len(t, rep.Results, 1)
			r := rep.Results[0]
			require.Equal(t, tc.status, r.Status, r.Error)
			require.InDelta(t, mean, *r.Value, 1e-12)
			if tc.status == verdict.NoBaseline {
				require.Zero(t, r.Objective, "no threshold without a baseline")
				require.NotEqual(t, verdict.Pass, rep.Gate, "NO_BASELINE never passes")
			} else {
				require.InDelta(t, *r.Baseline*1.1, r.Objective, 1e-15)
			}
		})
	}
	// A baseline built from earlier results uses only trustworthy values.
	prev := slo.Evaluate(context.Background(), q, spec, windows(base)[:1], slo.Options{})
	b := slo.NewBaseline("run-1", prev.Results)
	_, ok := b.Lookup("p95_server_pass", "run")
	require.True(t, ok)
	_, ok = b.Lookup("too_few_samples", "run")
	require.False(t, ok, "a NO_DATA value is no baseline")
	rep := slo.Evaluate(context.Background(), q, only, windows(base)[:1], slo.Options{Baseline: b})
	require.Equal(t, verdict.Pass, rep.Results[0].Status, "equal to its own baseline")
	require.Equal(t, "run-1", rep.BaselineRunID)
}

func TestZeroObjectivesIsError(t *testing.T) {
	q := appended(t, slotest.Frames(testBase(), 3, time.Second, 1))
	for name, spec := range map[string]*slo.Spec{
		"empty spec": {File: "x.yaml", TotalScore: slo.TotalScore{Pass: 90, Warning: 75}},
		"nil spec":   nil,
	} {
		rep := slo.Evaluate(context.Background(), q, spec, windows(testBase()), slo.Options{})
		require.Equal(t, verdict.Error, rep.Gate, name)
		require.False(t, rep.Passed(), name)
		require.Empty(t, rep.Results, name)
	}
	// Objectives whose windows match nothing evaluate nothing: ERROR as well, and reported.
	spec, err := slo.Parse("w.yaml", []byte("objectives:\n  - id: a\n    query: vector(1)\n    op: '>'\n    value: 0\n    windows: [stage-*]\n"))
	require.NoError(t, err)
	rep := slo.Evaluate(context.Background(), q, spec, windows(testBase()), slo.Options{})
	require.Equal(t, verdict.Error, rep.Gate)
	require.Equal(t, []verdict.NotEvaluated{{ID: "a", Reason: "no window matches [stage-*]"}}, rep.Skipped)
}

// A time-scaled run skips the objectives that need full-length windows, says why, and
// evaluates them at any scale of 1 or more; the scale never turns a skip into a pass.
func TestFullLengthOnlySkippedWhenTimeScaled(t *testing.T) {
	q := appended(t, slotest.Frames(testBase(), 3, time.Second, 1))
	spec, err := slo.Parse("fl.yaml", []byte(`objectives:
  - id: rate
    display_name: A rate at full length
    query: vector(1)
    op: '>'
    value: 0
    key: true
    full_length_only: true
  - id: plain
    query: vector(1)
    op: '>'
    value: 0
`))
	require.NoError(t, err)
	ids := func(rep *slo.Report) (got []string) {
		for _, r := range rep.Results {
			got = append(got, r.ID)
		}
		return got
	}
	for _, scale := range []float64{0, 1, 2} {
		rep := slo.Evaluate(context.Background(), q, spec, windows(testBase())[:1], slo.Options{TimeScale: scale})
		require.Equal(t, []string{"rate", "plain"}, ids(rep), "time scale %g", scale)
		require.Empty(t, rep.Skipped, "time scale %g", scale)
	}
	rep := slo.Evaluate(context.Background(), q, spec, windows(testBase())[:1], slo.Options{TimeScale: 0.05})
	require.Equal(t, []string{"plain"}, ids(rep))
	require.Len(t, rep.Skipped, 1)
	sk := rep.Skipped[0]
	require.Equal(t, "rate", sk.ID)
	require.Equal(t, "A rate at full length", sk.DisplayName)
	require.True(t, sk.Key)
	require.Contains(t, sk.Reason, "time-scaled (x0.05)")

	// Nothing left to evaluate is still an error, never a pass.
	only, err := slo.Parse("fl.yaml", []byte("objectives:\n  - id: rate\n    query: vector(1)\n    op: '>'\n    value: 0\n    full_length_only: true\n"))
	require.NoError(t, err)
	rep = slo.Evaluate(context.Background(), q, only, windows(testBase())[:1], slo.Options{TimeScale: 0.5})
	require.Equal(t, verdict.Error, rep.Gate)
	require.False(t, rep.Passed())

	// The default set marks the plateau throughput and the realtime ratio (sample count sized
	// for the whole run) as full-length only, and nothing else.
	def, err := slo.Default()
	require.NoError(t, err)
	var marked []string
	for _, o := range def.Objectives {
		if o.FullLengthOnly {
			marked = append(marked, o.ID)
		}
	}
	require.Equal(t, []string{"video_processing_p95_realtime", "throughput_videos_per_hour", "plateau_backlog_growth"}, marked)
}

func TestScoreAndGate(t *testing.T) {
	base := testBase()
	q := appended(t, slotest.Frames(base, nFrames, time.Second, 1))
	mk := func(failKey bool) *slo.Spec {
		key := "false"
		if failKey {
			key = "true"
		}
		s, err := slo.Parse("score.yaml", []byte(`total_score: {pass: 90, warning: 60}
objectives:
  - id: pass
    query: sum(increase(http_server_request_duration_seconds_bucket{le="0.1"}[$WINDOW])) / sum(increase(http_server_request_duration_seconds_count[$WINDOW]))
    op: ">="
    value: 0.95
    weight: 2
    key: true
  - id: warn
    query: sum(increase(ddp_client_request_duration_seconds_bucket{le="0.1"}[$WINDOW])) / sum(increase(ddp_client_request_duration_seconds_count[$WINDOW]))
    op: ">="
    value: 0.95
    warning: 0.85
  - id: fail
    query: sum(increase(ddp_client_request_duration_seconds_bucket{le="0.1"}[$WINDOW])) / sum(increase(ddp_client_request_duration_seconds_count[$WINDOW]))
    op: ">="
    value: 0.95
    key: `+key+`
`))
		require.NoError(t, err)
		return s
	}
	rep := slo.Evaluate(context.Background(), q, mk(false), windows(base)[:1], slo.Options{})
	require.Equal(t, 2.5, rep.Achieved)
	require.Equal(t, 4.0, rep.Achievable)
	require.Equal(t, 62.5, rep.Score)
	require.Equal(t, verdict.Warn, rep.Gate, rep.GateReasons)
	require.True(t, rep.Passed())

	rep = slo.Evaluate(context.Background(), q, mk(true), windows(base)[:1], slo.Options{})
	require.Equal(t, 62.5, rep.Score)
	require.Equal(t, verdict.Fail, rep.Gate)
	require.Contains(t, rep.GateReasons[0], "key objective fail")
}

// TestDefaultSet evaluates the shipped SLO set over the generated DailyDoco data.
func TestDefaultSet(t *testing.T) {
	base := testBase()
	q := appended(t, slotest.Frames(base, nFrames, time.Second, 1))
	spec, err := slo.Default()
	require.NoError(t, err)
	rep := slo.Evaluate(context.Background(), q, spec, windows(base), slo.Options{})
	checkResults(t, rep, expectedDefault(), "run")
	checkResults(t, rep, expectedDuringFault(), "fault-gpu-node")
	require.Empty(t, rep.Skipped)
	// availability is key and fails (1 % of responses are 503), so the gate fails.
	require.Equal(t, verdict.Fail, rep.Gate)
}

func expectedDefault() map[string]want {
	cost := slotest.NodeHourlyCost + slotest.FixedHourlyCost
	all := slotest.ServerRequests + slotest.ServerErrors
	return map[string]want{
		"api_latency_p95":               {verdict.Pass, f((slotest.ServerFast + slotest.ServerErrors) / all), ""},
		"api_latency_p95_client":        {verdict.Warn, f(slotest.ClientFast / slotest.ClientRequests), ""},
		"error_rate":                    {verdict.Pass, f(slotest.ClientErrors / slotest.ClientRequests), ""},
		"availability":                  {verdict.Fail, f(1 - slotest.ServerErrors/all), ""},
		"video_processing_p95_realtime": {verdict.Pass, f(slotest.RealtimeWithin2 / slotest.VideosAccepted), ""},
		"video_success":                 {verdict.Fail, f(slotest.VideosSucceeded / slotest.VideosAccepted), "misses the criterion"},
		"videos_unfinished":             {verdict.Fail, f(slotest.QueueDepth), "misses the criterion"},
		"cost_per_video":                {verdict.Pass, f(cost / (3600 * slotest.VideosSucceeded)), ""},
		"monthly_cost_projection":       {verdict.Pass, f(cost * 730), ""},
		"dashboard_load_p95":            {verdict.Pass, f(slotest.DashboardWithin3 / slotest.DashboardLoads), ""},
		"videos_lost":                   {verdict.Pass, f(0), ""},
		"request_count_crosscheck":      {verdict.Pass, f(math.Abs(1 - slotest.ClientRequests/all)), ""},
	}
}

// expectedDuringFault holds the default set's fault-window objectives on the same data: 1 % of
// responses are 503 (availability 0.990, just within the 99 % allowed during a fault).
func expectedDuringFault() map[string]want {
	all := slotest.ServerRequests + slotest.ServerErrors
	return map[string]want{
		"availability_during_faults": {verdict.Pass, f(1 - slotest.ServerErrors/all), ""},
		"error_rate_during_faults":   {verdict.Pass, f(slotest.ClientErrors / slotest.ClientRequests), ""},
		"api_latency_during_faults":  {verdict.Pass, f((slotest.ServerFast + slotest.ServerErrors) / all), ""},
	}
}

// An objective's required series decide whether it can be evaluated at all: without one, it
// is NO_DATA naming the series and the hint, never a value computed without it (the default
// set's cost objectives require both cost sources).
func TestRequiredSeries(t *testing.T) {
	base := testBase()
	q := appended(t, slotest.Frames(base, nFrames, time.Second, 1))
	spec, err := slo.Parse("requires.yaml", []byte(`objectives:
  - id: cost_without_fixed
    query: sum(avg_over_time(node_total_hourly_cost[$WINDOW]))
    op: "<"
    value: 100
    requires:
      - metric: node_total_hourly_cost
      - metric: dailydoco_fixed_hourly_cost{component="cdn"}
        hint: declare the CDN's monthly cost
  - id: cost_with_both
    query: sum(avg_over_time(node_total_hourly_cost[$WINDOW]))
    op: "<"
    value: 100
    requires:
      - metric: node_total_hourly_cost
      - metric: dailydoco_fixed_hourly_cost{component="postgres"}
`))
	require.NoError(t, err)
	rep := slo.Evaluate(context.Background(), q, spec, windows(base)[:1], slo.Options{})
	require.Len(t, rep.Results, 2)
	missing, present := rep.Results[0], rep.Results[1]
	require.Equal(t, verdict.NoData, missing.Status)
	require.Nil(t, missing.Value)
	require.Equal(t, `no dailydoco_fixed_hourly_cost{component="cdn"} series in the window: declare the CDN's monthly cost`, missing.Error)
	require.Equal(t, verdict.Pass, present.Status, present.Error)

	_, err = slo.Parse("bad.yaml", []byte(`objectives:
  - id: a
    query: vector(1)
    op: ">"
    value: 0
    requires:
      - metric: "sum(x)"
`))
	require.ErrorContains(t, err, "bad.yaml:7: objectives[0] (a).requires[0].metric")
}

// The default set's cost objectives fail closed: on data without the managed services' fixed
// cost they are NO_DATA saying what to declare, where `or vector(0)` used to count that half
// of the plan's month as free.
func TestDefaultCostNeedsTheFixedCost(t *testing.T) {
	base := testBase()
	var frames []slotest.Frame
	for _, f := range slotest.Frames(base, nFrames, time.Second, 1) {
		kept := f.Series[:0:0]
		for _, s := range f.Series {
			if s.Labels.Get("__name__") != "dailydoco_fixed_hourly_cost" {
				kept = append(kept, s)
			}
		}
		frames = append(frames, slotest.Frame{T: f.T, Series: kept})
	}
	q := appended(t, frames)
	spec, err := slo.Default()
	require.NoError(t, err)
	rep := slo.Evaluate(context.Background(), q, spec, windows(base)[:1], slo.Options{})
	for _, id := range []string{"cost_per_video", "monthly_cost_projection"} {
		i := slices.IndexFunc(rep.Results, func(r verdict.Objective) bool { return r.ID == id })
		require.GreaterOrEqual(t, i, 0, id)
		r := rep.Results[i]
		require.Equal(t, verdict.NoData, r.Status, id)
		require.Contains(t, r.Error, "no dailydoco_fixed_hourly_cost series in the window", id)
		require.Contains(t, r.Error, "fixed_costs:", id)
	}
}

// Every interval method against the evidence behind the value: Wilson on the sample count for
// a share, Garwood on the count for a rate (scaled) and for a total per counted event, the value
// itself for an exact count, none for a single observation. A threshold inside the interval
// flags the result low-confidence with the window that would decide it; under decision:
// confident it is INCONCLUSIVE, saying how long the window would need to be.
func TestIntervals(t *testing.T) {
	base := testBase()
	q := appended(t, slotest.Frames(base, nFrames, time.Second, 1))
	spec, err := slo.Load("testdata/intervals.yaml")
	require.NoError(t, err)
	// The close objective's threshold sits just under the share, inside its interval.
	share := slotest.RealtimeWithin2 / slotest.RealtimeVideos
	spec.Objectives[1].Value = f(share - 0.01)
	ws := windows(base)[:1]
	byID := func(rep *slo.Report) map[string]verdict.Objective {
		m := map[string]verdict.Objective{}
		for _, r := range rep.Results {
			m[r.ID] = r
		}
		return m
	}
	point := byID(slo.Evaluate(context.Background(), q, spec, ws, slo.Options{}))

	n := slotest.RealtimeVideos * 60
	lo, hi := confidence.Wilson(share*n, n)
	r := point["realtime_share"]
	require.Equal(t, verdict.Pass, r.Status, r.Error)
	require.Equal(t, slo.IntervalWilson, r.Interval.Method)
	require.InDelta(t, lo, *r.Interval.Low, 1e-9)
	require.InDelta(t, hi, *r.Interval.High, 1e-9)
	require.False(t, r.LowConfidence)

	close := point["realtime_share_close"]
	require.Equal(t, verdict.Pass, close.Status, "point decision: decided on the value")
	require.True(t, close.LowConfidence)
	require.NotNil(t, close.ExtendToSeconds)
	// At the extended length the interval no longer holds the threshold, and not long before.
	k := *close.ExtendToSeconds / 60
	extLo, _ := confidence.Wilson(share*n*k, n*k)
	require.Greater(t, extLo, share-0.01)
	shortLo, _ := confidence.Wilson(share*n*k*0.9, n*k*0.9)
	require.LessOrEqual(t, shortLo, share-0.01)

	videos := slotest.VideosSucceeded * 60
	clo, chi := confidence.PoissonCount(int64(videos))
	tp := point["throughput"]
	require.InDelta(t, clo*60, *tp.Interval.Low, 1e-6) // per hour: x 3600 / 60 s
	require.InDelta(t, chi*60, *tp.Interval.High, 1e-6)
	require.Equal(t, int64(videos), tp.SampleCount, "a rate's samples are the events it counts")
	cost := point["cost_per_video"]
	total := *cost.Value * videos
	require.InDelta(t, total/chi, *cost.Interval.Low, 1e-9)
	require.InDelta(t, total/clo, *cost.Interval.High, 1e-9)
	require.Equal(t, int64(videos), cost.SampleCount, "a cost per video's samples are the videos")
	b := point["backlog"]
	require.Equal(t, *b.Value, *b.Interval.Low)
	require.Equal(t, *b.Value, *b.Interval.High)
	rec := point["recovery"]
	require.Equal(t, slo.IntervalSingle, rec.Interval.Method)
	require.Nil(t, rec.Interval.Low)
	require.Equal(t, int64(1), rec.SampleCount, "one observation")

	confident := byID(slo.Evaluate(context.Background(), q, spec, ws, slo.Options{Decision: slo.DecisionConfident}))
	require.Equal(t, verdict.Pass, confident["realtime_share"].Status)
	c := confident["realtime_share_close"]
	require.Equal(t, verdict.Inconclusive, c.Status)
	require.Contains(t, c.Error, "not enough evidence")
	require.Contains(t, c.Error, "extend run to about")
	require.True(t, c.Status.Failing(), "INCONCLUSIVE fails the gate")
}

func TestBadIntervalSpecs(t *testing.T) {
	_, err := slo.Parse("bad.yaml", []byte(`objectives:
  - id: a
    query: vector(1)
    op: ">"
    value: 0
    interval: {method: wilson}
  - id: b
    query: vector(1)
    op: ">"
    value: 0
    interval: {method: poisson}
  - id: c
    query: vector(1)
    op: ">"
    value: 0
    interval: {method: bootstrap, scale: "1"}
`))
	require.Error(t, err)
	for _, want := range []string{
		"bad.yaml:6: objectives[0] (a).interval.method: wilson needs min_samples",
		"objectives[1] (b).interval.count: required",
		`objectives[2] (c).interval.method: "bootstrap" is not one of`,
		"objectives[2] (c).interval.scale: only poisson takes a scale",
	} {
		require.ErrorContains(t, err, want)
	}
}

// Each recovery window judges its own fault: after a slow recovery from one fault (264 s
// against 60 s) and an instant one from the next, the second fault's window passes. (Both
// faults' gauges stay exported, so a query over every fault judged each window by the
// slowest fault of the run: the full-length launch reported zone-a's instant recovery FAIL.)
func TestRecoveryWindowsJudgeTheirOwnFault(t *testing.T) {
	srv, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	base := testBase()
	app := srv.Appender(context.Background())
	for s := 0; s <= 600; s += 5 {
		ts := base.Add(time.Duration(s) * time.Second).UnixMilli()
		for fault, secs := range map[string]float64{"gpu-node": 264, "zone-a": 0} {
			_, err := app.Append(0, labels.FromStrings("__name__", "ddp_fault_recovery_seconds", "fault", fault), ts, secs)
			require.NoError(t, err)
			_, err = app.Append(0, labels.FromStrings("__name__", "ddp_fault_recovery_objective_seconds", "fault", fault), ts, 60)
			require.NoError(t, err)
		}
	}
	require.NoError(t, app.Commit())
	spec, err := slo.Default()
	require.NoError(t, err)
	ws := []slo.Window{
		{Name: "recovery-gpu-node", Fault: "gpu-node", Start: base.Add(100 * time.Second), End: base.Add(300 * time.Second)},
		{Name: "recovery-zone-a", Fault: "zone-a", Start: base.Add(400 * time.Second), End: base.Add(600 * time.Second)},
	}
	rep := slo.Evaluate(context.Background(), client(t, srv.URL()), spec, ws, slo.Options{})
	got := map[string]verdict.Status{}
	for _, r := range rep.Results {
		if r.ID == "recovery_time" {
			got[r.Window] = r.Status
		}
	}
	require.Equal(t, map[string]verdict.Status{"recovery-gpu-node": verdict.Fail, "recovery-zone-a": verdict.Pass}, got)
}
