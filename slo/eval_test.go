package slo_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/slo/slotest"
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
	return []slo.Window{{Name: "run", Start: s, End: e}, {Name: "plateau", Start: s, End: e}, {Name: "recovery-gpu-node", Start: s, End: e}}
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
	status slo.Status
	value  *float64 // nil: no value expected
	reason string   // substring of the reason, if set
}

func f(v float64) *float64 { return &v }

// expectedStatus holds the hand-computed expectations for testdata/status.yaml.
func expectedStatus() map[string]want {
	costPerHour := slotest.NodeHourlyCost + slotest.FixedHourlyCost
	return map[string]want{
		"p95_server_pass":       {slo.StatusPass, f((slotest.ServerFast + slotest.ServerErrors) / (slotest.ServerRequests + slotest.ServerErrors)), ""},
		"p95_client_warn":       {slo.StatusWarn, f(slotest.ClientFast / slotest.ClientRequests), ""},
		"p95_client_fail":       {slo.StatusFail, f(slotest.ClientFast / slotest.ClientRequests), ""},
		"realtime_le2":          {slo.StatusPass, f(slotest.RealtimeWithin2 / slotest.RealtimeVideos), ""},
		"cost_per_video":        {slo.StatusPass, f(costPerHour / (3600 * slotest.VideosSucceeded)), ""},
		"empty_no_data":         {slo.StatusNoData, nil, "no series"},
		"empty_zero":            {slo.StatusPass, f(0), ""},
		"multiple_series":       {slo.StatusError, nil, "returned 2 series"},
		"nan":                   {slo.StatusNoData, nil, "NaN"},
		"inf":                   {slo.StatusNoData, nil, "+Inf"},
		"too_few_samples":       {slo.StatusNoData, f(slotest.DashboardWithin3 / slotest.DashboardLoads), "too few samples: 60 < 1000"},
		"enough_samples":        {slo.StatusPass, f(slotest.DashboardWithin3 / slotest.DashboardLoads), ""},
		"mean_latency_relative": {slo.StatusNoBaseline, f((5 + 0.01) / (slotest.ServerRequests + slotest.ServerErrors)), "no baseline"},
		"quantile_warning":      {slo.StatusNoData, nil, "+Inf"},
		"query_error":           {slo.StatusError, nil, "query failed"},
		"recovery_ratio":        {slo.StatusPass, f(slotest.RecoverySeconds / slotest.RecoveryObjective), ""},
	}
}

func checkResults(t *testing.T, rep *slo.Report, exp map[string]want, window string) {
	t.Helper()
	seen := 0
	for _, r := range rep.Results {
		if r.Window.Name != window {
			continue
		}
		w, ok := exp[r.ID]
		if !ok {
			continue
		}
		seen++
		require.Equal(t, w.status, r.Status, "%s: %s", r.ID, r.Reason)
		if w.value == nil {
			require.Nil(t, r.Value, r.ID)
		} else {
			require.NotNil(t, r.Value, r.ID)
			require.InDelta(t, *w.value, *r.Value, 1e-9, r.ID)
		}
		if w.reason != "" {
			require.Contains(t, r.Reason, w.reason, r.ID)
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

	byID := map[string]slo.Result{}
	for _, r := range rep.Results {
		byID[r.ID] = r
	}
	// The exact fraction decides; the interpolated p95 is evidence beside it.
	ev := byID["p95_server_pass"].Evidence
	require.Len(t, ev, 1)
	require.NotNil(t, ev[0].Value)
	require.Greater(t, *ev[0].Value, 0.05)
	require.LessOrEqual(t, *ev[0].Value, 0.1)
	// Query text is recorded after substitution.
	require.Contains(t, byID["p95_server_pass"].Query, "[60s]")
	require.Equal(t, fixed, byID["p95_server_pass"].EvaluatedAt)
	// Targets carry violated flags.
	require.Equal(t, []slo.Target{{Kind: "pass", Criterion: ">= 0.95", Threshold: f(0.95), Violated: true},
		{Kind: "warning", Criterion: ">= 0.85", Threshold: f(0.85), Violated: false}}, byID["p95_client_warn"].Targets)
	require.Equal(t, 60.0, *byID["too_few_samples"].SampleCount)
	require.Equal(t, 60.0, *byID["enough_samples"].SampleCount)
	require.Equal(t, "NaN", byID["nan"].RawValue)
	// Prometheus's warnings are kept.
	require.NotEmpty(t, byID["quantile_warning"].Warnings)
	require.Contains(t, byID["quantile_warning"].Warnings[0], "quantile value should be between 0 and 1")
	require.Equal(t, 2, byID["multiple_series"].SeriesReturned)

	// Missing data and errors fail the gate, whatever the score.
	require.Equal(t, slo.StatusFail, rep.Gate)
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
		status   slo.Status
	}{
		{"no baseline", nil, slo.StatusNoBaseline},
		{"baseline of another window", &slo.Baseline{Values: map[string]float64{slo.BaselineKey("mean_latency_relative", "plateau"): 0.05}}, slo.StatusNoBaseline},
		{"NaN baseline", &slo.Baseline{Values: map[string]float64{slo.BaselineKey("mean_latency_relative", "run"): math.NaN()}}, slo.StatusNoBaseline},
		{"within +10%", &slo.Baseline{Values: map[string]float64{slo.BaselineKey("mean_latency_relative", "run"): 0.05}}, slo.StatusPass},
		{"above +10%", &slo.Baseline{Values: map[string]float64{slo.BaselineKey("mean_latency_relative", "run"): 0.04}}, slo.StatusFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := slo.Evaluate(context.Background(), q, only, windows(base)[:1], slo.Options{Baseline: tc.baseline})
			require.Len(t, rep.Results, 1)
			r := rep.Results[0]
			require.Equal(t, tc.status, r.Status, r.Reason)
			require.InDelta(t, mean, *r.Value, 1e-12)
			if tc.status == slo.StatusNoBaseline {
				require.Nil(t, r.Targets[0].Threshold)
				require.NotEqual(t, slo.StatusPass, rep.Gate, "NO_BASELINE never passes")
			} else {
				require.InDelta(t, *r.Baseline*1.1, *r.Targets[0].Threshold, 1e-15)
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
	require.Equal(t, slo.StatusPass, rep.Results[0].Status, "equal to its own baseline")
	require.Equal(t, "run-1", rep.BaselineRunID)
}

func TestZeroObjectivesIsError(t *testing.T) {
	q := appended(t, slotest.Frames(testBase(), 3, time.Second, 1))
	for name, spec := range map[string]*slo.Spec{
		"empty spec": {File: "x.yaml", TotalScore: slo.TotalScore{Pass: 90, Warning: 75}},
		"nil spec":   nil,
	} {
		rep := slo.Evaluate(context.Background(), q, spec, windows(testBase()), slo.Options{})
		require.Equal(t, slo.StatusError, rep.Gate, name)
		require.False(t, rep.Passed(), name)
		require.Empty(t, rep.Results, name)
	}
	// Objectives whose windows match nothing evaluate nothing: ERROR as well, and reported.
	spec, err := slo.Parse("w.yaml", []byte("objectives:\n  - id: a\n    query: vector(1)\n    op: '>'\n    value: 0\n    windows: [stage-*]\n"))
	require.NoError(t, err)
	rep := slo.Evaluate(context.Background(), q, spec, windows(testBase()), slo.Options{})
	require.Equal(t, slo.StatusError, rep.Gate)
	require.Equal(t, []slo.Skip{{ID: "a", Reason: "no window matches [stage-*]"}}, rep.Skipped)
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
	require.Equal(t, slo.StatusError, rep.Gate)
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
	require.Equal(t, []string{"video_processing_p95_realtime", "throughput_videos_per_hour"}, marked)
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
	require.Equal(t, slo.StatusWarn, rep.Gate, rep.GateReasons)
	require.True(t, rep.Passed())

	rep = slo.Evaluate(context.Background(), q, mk(true), windows(base)[:1], slo.Options{})
	require.Equal(t, 62.5, rep.Score)
	require.Equal(t, slo.StatusFail, rep.Gate)
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
	require.Empty(t, rep.Skipped)
	// availability is key and fails (1 % of responses are 503), so the gate fails.
	require.Equal(t, slo.StatusFail, rep.Gate)
}

func expectedDefault() map[string]want {
	cost := slotest.NodeHourlyCost + slotest.FixedHourlyCost
	all := slotest.ServerRequests + slotest.ServerErrors
	return map[string]want{
		"api_latency_p95":               {slo.StatusPass, f((slotest.ServerFast + slotest.ServerErrors) / all), ""},
		"api_latency_p95_client":        {slo.StatusWarn, f(slotest.ClientFast / slotest.ClientRequests), ""},
		"error_rate":                    {slo.StatusPass, f(slotest.ClientErrors / slotest.ClientRequests), ""},
		"availability":                  {slo.StatusFail, f(1 - slotest.ServerErrors/all), ""},
		"video_processing_p95_realtime": {slo.StatusPass, f(slotest.RealtimeWithin2 / slotest.RealtimeVideos), ""},
		"cost_per_video":                {slo.StatusPass, f(cost / (3600 * slotest.VideosSucceeded)), ""},
		"monthly_cost_projection":       {slo.StatusPass, f(cost * 730), ""},
		"dashboard_load_p95":            {slo.StatusPass, f(slotest.DashboardWithin3 / slotest.DashboardLoads), ""},
		"videos_lost":                   {slo.StatusPass, f(0), ""},
		"request_count_crosscheck":      {slo.StatusPass, f(math.Abs(1 - slotest.ClientRequests/all)), ""},
	}
}
