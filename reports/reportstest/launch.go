// Package reportstest builds realistic [reports.Run] values for tests and for the example
// report in docs/: a 60-minute launch profile with a GPU node failure and an availability-zone
// outage during the 1000-user plateau, and a dozen objectives with a mix of statuses. The data
// is synthetic but deterministic, so rendered reports are stable byte for byte.
package reportstest

import (
	"encoding/json"
	"math"
	"time"

	"github.com/dailydoco/ddp-verify/verdict"

	"github.com/dailydoco/ddp-verify/reports"
)

// Start is the fixed start time of the fixture runs.
var Start = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

func at(min float64) time.Time { return Start.Add(time.Duration(min * float64(time.Minute))) }
func ptr[T any](v T) *T        { return &v }

// stage is one stage of the launch ramp: the user count goes linearly from the previous
// stage's target to this one's.
type stage struct {
	name     string
	minutes  float64
	target   int
	startMin float64
}

// launchStages is the seed's 60-minute ramp (DESIGN 4.4).
func launchStages() []stage {
	raw := []struct {
		name   string
		min    float64
		target int
	}{
		{"ramp to 100", 5, 100}, {"hold 100", 10, 100}, {"ramp to 500", 5, 500}, {"hold 500", 10, 500},
		{"ramp to 1000", 5, 1000}, {"hold 1000", 20, 1000}, {"ramp down", 5, 0},
	}
	out := make([]stage, len(raw))
	t := 0.0
	for i, s := range raw {
		out[i] = stage{s.name, s.min, s.target, t}
		t += s.min
	}
	return out
}

// users is the target user count m minutes into the run.
func users(m float64) float64 {
	prev := 0.0
	for _, s := range launchStages() {
		if m < s.startMin+s.minutes {
			return prev + (float64(s.target)-prev)*(m-s.startMin)/s.minutes
		}
		prev = float64(s.target)
	}
	return 0
}

// noise is a deterministic pseudo-random number in [-1, 1] (splitmix64 of i and salt).
func noise(i int, salt uint64) float64 {
	z := uint64(i)*0x9e3779b97f4a7c15 + salt*0xbf58476d1ce4e5b9
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11)/float64(1<<52) - 1
}

// Fault windows of the fixture, in minutes from the start.
const (
	gpuFaultStart, gpuFaultEnd = 38.0, 42.0
	gpuRecoveredAt             = 43.2
	azFaultStart, azFaultEnd   = 46.0, 51.0
	azRecoveredAt              = 52.6
)

// bump is 1 inside [from, to) and decays exponentially after it with time constant tau minutes.
func bump(m, from, to, tau float64) float64 {
	switch {
	case m < from:
		return 0
	case m < to:
		return 1
	default:
		return math.Exp(-(m - to) / tau)
	}
}

// Launch returns the realistic NO-GO launch run with a series sampled every step.
func Launch(step time.Duration) *reports.Run {
	r := &reports.Run{
		Schema:    reports.Schema,
		RunID:     "20260314T090000Z-launch-7f3a",
		Profile:   "launch",
		Target:    "local",
		Versions:  map[string]string{"ddp-verify": "v0.4.0", "platform": "reference-2026.03", "prometheus": "v0.316.0"},
		StartedAt: Start,
		EndedAt:   at(60),
		Verdict:   verdict.NoGo,
		Score:     71.4,
		Reasons: []string{
			"api-latency-p95 [chaos]: 142 ms, objective < 100 ms (key objective failed)",
			"video-realtime-ratio [chaos]: 2.31x, objective < 2x (key objective failed)",
			"dashboard-load-p95 [steady]: no data (0 samples); missing data never passes",
		},
	}
	r.Config = launchConfig()
	for _, s := range launchStages() {
		r.Timeline = append(r.Timeline, reports.Event{Kind: reports.EventStage, Name: s.name, Start: at(s.startMin), End: at(s.startMin + s.minutes), Detail: "ramping-vus"})
	}
	r.Timeline = append(r.Timeline,
		reports.Event{Kind: reports.EventWindow, Name: "steady", Start: at(25), End: at(35)},
		reports.Event{Kind: reports.EventFault, Name: "gpu-node-failure", Start: at(gpuFaultStart), End: at(gpuFaultEnd), Detail: "node-failure gpu-1b-2"},
		reports.Event{Kind: reports.EventWindow, Name: "chaos", Start: at(gpuFaultStart), End: at(azFaultEnd)},
		reports.Event{Kind: reports.EventFault, Name: "az-outage", Start: at(azFaultStart), End: at(azFaultEnd), Detail: "zone-outage power-loss us-east-1b"},
		reports.Event{Kind: reports.EventWindow, Name: "recovery", Start: at(azFaultEnd), End: at(55)},
	)
	r.Load = launchLoad()
	r.Series = launchSeries(step)
	r.SLOs = launchSLOs()
	r.Chaos = []reports.ChaosResult{
		{Fault: "gpu-node-failure", Kind: "node-failure", Mode: "kill", Targets: []string{"gpu-1b-2"},
			PlannedAt: ptr(at(gpuFaultStart)), InjectedAt: ptr(at(gpuFaultStart).Add(1200 * time.Millisecond)),
			BackendInjectedAt: ptr(at(gpuFaultStart).Add(time.Second)),
			RecoveredAt:       ptr(at(gpuRecoveredAt)), BackendRecoveredAt: ptr(at(gpuRecoveredAt).Add(-time.Second)),
			UndoSeconds: ptr(72.0), ServiceRecoverySeconds: ptr(14.0)},
		{Fault: "az-outage", Kind: "zone-outage", Mode: "power-loss", Targets: []string{"us-east-1b"},
			PlannedAt: ptr(at(azFaultStart)), InjectedAt: ptr(at(azFaultStart).Add(2100 * time.Millisecond)),
			BackendInjectedAt: ptr(at(azFaultStart).Add(2 * time.Second)),
			RecoveredAt:       ptr(at(azRecoveredAt)), BackendRecoveredAt: ptr(at(azRecoveredAt).Add(-time.Second)),
			UndoSeconds: ptr(96.0), ServiceRecoverySeconds: ptr(38.0)},
	}
	r.Videos = reports.Videos{Accepted: 9412, Processed: 9377, Failed: 35, Unfinished: 0, Lost: 0, Drain: reports.DrainEmpty}
	r.Cost = reports.Cost{Currency: "USD", Total: 18.62, PerVideo: ptr(0.00199), ProjectedMonthly: 15890, MonthlyBudget: 16000}
	return r
}

func launchConfig() json.RawMessage {
	cfg := map[string]any{
		"name":        "launch",
		"description": "Launch rehearsal: 100 -> 500 -> 1000 users, GPU node failure and AZ outage at peak",
		"executor":    "ramping-vus",
		"stages": []map[string]any{
			{"duration": "5m", "target": 100}, {"duration": "10m", "target": 100}, {"duration": "5m", "target": 500},
			{"duration": "10m", "target": 500}, {"duration": "5m", "target": 1000}, {"duration": "20m", "target": 1000},
			{"duration": "5m", "target": 0},
		},
		"gracefulRampDown": "30s",
		"journeys":         map[string]any{"registration": 10, "capture": 45, "dashboard": 30, "export": 15},
		"chaos": []map[string]any{
			{"at": "38m", "duration": "4m", "fault": "node-failure", "target": "pool=gpu"},
			{"at": "46m", "duration": "5m", "fault": "zone-outage", "mode": "power-loss", "target": "us-east-1b"},
		},
		"slo_file": "slo/default.yaml",
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(err) // a map of plain values always marshals
	}
	return b
}

func lat(avg, p50, p90, p95, p99, max float64) reports.Latency {
	return reports.Latency{Avg: avg, P50: p50, P90: p90, P95: p95, P99: p99, Max: max}
}

func stats(count, failures int64, seconds float64, resp reports.Latency) reports.Stats {
	svc := resp
	// Service time excludes the generator's own queueing, a few per cent below response time.
	for _, p := range []*float64{&svc.Avg, &svc.P50, &svc.P90, &svc.P95, &svc.P99, &svc.Max} {
		*p = math.Round(*p*0.96*10) / 10
	}
	return reports.Stats{
		Count: count, Failures: failures, RPS: math.Round(float64(count)/seconds*10) / 10,
		ErrorRate: math.Round(float64(failures)/float64(count)*1e5) / 1e5,
		Response:  resp, Service: svc,
	}
}

func launchLoad() reports.Load {
	const sec = 3600
	steps := []reports.StepStats{
		{Scenario: "registration", Step: "POST /v1/signup", Stats: stats(41210, 38, sec, lat(48.2, 41, 72, 88, 151, 912))},
		{Scenario: "registration", Step: "POST /v1/login", Stats: stats(41180, 29, sec, lat(31.5, 27, 49, 61, 118, 744))},
		{Scenario: "capture", Step: "POST /v1/captures", Stats: stats(185320, 402, sec, lat(44.1, 37, 70, 91, 176, 1480))},
		{Scenario: "capture", Step: "PUT /v1/captures/{id}/upload", Stats: stats(185102, 611, sec, lat(212.4, 188, 341, 402, 688, 4210))},
		{Scenario: "capture", Step: "POST /v1/captures/{id}/complete", Stats: stats(184980, 377, sec, lat(39.7, 33, 64, 84, 160, 1320))},
		{Scenario: "capture", Step: "GET /v1/videos/{id}", Stats: stats(512400, 903, sec, lat(18.9, 15, 31, 42, 96, 1105))},
		{Scenario: "dashboard", Step: "GET /v1/dashboard", Stats: stats(308400, 511, sec, lat(57.3, 49, 88, 109, 204, 2210))},
		{Scenario: "export", Step: "POST /v1/exports", Stats: stats(61730, 140, sec, lat(66.8, 58, 101, 127, 231, 1890))},
		{Scenario: "export", Step: "GET /v1/exports/{id}/download", Stats: stats(61620, 96, sec, lat(143.2, 121, 240, 301, 522, 3305))},
	}
	var total reports.Stats
	for _, s := range steps {
		total.Count += s.Count
		total.Failures += s.Failures
	}
	total = stats(total.Count, total.Failures, sec, lat(57.6, 34, 118, 162, 402, 4210))
	var stages []reports.StageStats
	for i, s := range launchStages() {
		avgUsers := (users(s.startMin) + users(s.startMin+s.minutes-0.001)) / 2
		sec := s.minutes * 60
		count := int64(avgUsers * 0.92 * sec)
		failRate := 0.0009
		p95 := 62 + avgUsers*0.028
		if s.name == "hold 1000" {
			failRate, p95 = 0.0061, 131
		}
		stages = append(stages, reports.StageStats{
			Stage: s.name, Start: at(s.startMin), End: at(s.startMin + s.minutes), TargetVUs: s.target,
			Stats: stats(count, int64(float64(count)*failRate), sec,
				lat(math.Round(p95*0.42), math.Round(p95*0.38), math.Round(p95*0.8), math.Round(p95), math.Round(p95*1.9), math.Round(p95*9+float64(i)*37))),
		})
	}
	// A few hundred users saw a journey fail at once during the faults and backed off.
	backoffs := []reports.Backoff{{Scenario: "users", Count: 186, Seconds: 402.5}}
	return reports.Load{Total: total, Steps: steps, Stages: stages, Backoffs: backoffs}
}

func launchSeries(step time.Duration) reports.Series {
	n := int(60 * time.Minute / step)
	s := reports.Series{Start: Start, IntervalSeconds: step.Seconds()}
	for i := 0; i < n; i++ {
		m := float64(i) * step.Minutes()
		u := users(m)
		gpu := bump(m, gpuFaultStart, gpuFaultEnd, 0.8)
		az := bump(m, azFaultStart, azFaultEnd, 0.9)
		r2 := func(x float64) float64 { return math.Round(x*100) / 100 }
		rps := u*0.92*(1-0.25*az) + 4*noise(i, 1)
		if rps < 0 {
			rps = 0
		}
		p50 := 26 + u*0.011 + 25*az + 2*noise(i, 2)
		p95 := 58 + u*0.029 + 85*az + 12*gpu + 6*noise(i, 3)
		p99 := p95*1.85 + 90*az + 10*noise(i, 4)
		errs := rps * (0.0008 + 0.035*az + 0.004*gpu) * (1 + 0.3*noise(i, 5))
		total := 24.0
		if m >= gpuFaultStart && m < gpuRecoveredAt {
			total -= 4
		}
		if m >= azFaultStart && m < azRecoveredAt {
			total -= 8
		}
		inUse := math.Min(total, math.Round(u*0.019+1+1.5*noise(i, 6)))
		queue := math.Max(0, u*0.004+140*gpu+95*az+3*noise(i, 7))
		ratio := 1.08 + u*0.00032 + 1.25*gpu + 0.9*az + 0.05*noise(i, 8)
		cost := 13.4 + u*0.0085 - 1.1*az - 0.7*gpu + 0.2*noise(i, 9)
		s.LatencyP50MS = append(s.LatencyP50MS, r2(p50))
		s.LatencyP95MS = append(s.LatencyP95MS, r2(p95))
		s.LatencyP99MS = append(s.LatencyP99MS, r2(p99))
		s.RPS = append(s.RPS, r2(rps))
		s.ErrorsPerSecond = append(s.ErrorsPerSecond, r2(math.Max(0, errs)))
		s.ActiveUsers = append(s.ActiveUsers, math.Round(u))
		s.GPUSlotsInUse = append(s.GPUSlotsInUse, math.Max(0, inUse))
		s.GPUSlotsTotal = append(s.GPUSlotsTotal, total)
		s.QueueDepth = append(s.QueueDepth, math.Round(queue))
		s.CostPerHour = append(s.CostPerHour, r2(cost))
		// The realtime ratio only exists once videos finish; the first two minutes have none.
		if m < 2 {
			s.RealtimeRatio = append(s.RealtimeRatio, math.NaN())
		} else {
			s.RealtimeRatio = append(s.RealtimeRatio, r2(ratio))
		}
	}
	return s
}

func launchSLOs() []verdict.Objective {
	type w struct {
		name       string
		start, end float64
	}
	steady, chaos, recovery, whole := w{"steady", 25, 35}, w{"chaos", gpuFaultStart, azFaultEnd}, w{"recovery", azFaultEnd, 55}, w{"run", 0, 60}
	mk := func(id, name string, win w, query string, value *float64, unit, op string, objective float64, warning *float64, status verdict.Status, samples int64, key bool, weight float64, ev ...verdict.Evidence) verdict.Objective {
		return verdict.Objective{
			ID: id, DisplayName: name, Window: win.name, WindowStart: at(win.start), WindowEnd: at(win.end),
			Query: query, Value: value, Unit: unit, Op: op, Objective: objective, Warning: warning,
			Status: status, SampleCount: samples, Key: key, Weight: weight, Evidence: ev,
		}
	}
	const latQ = `sum(rate(http_server_request_duration_seconds_bucket{service="api",le="0.1"}[%s])) / sum(rate(http_server_request_duration_seconds_count{service="api"}[%s]))`
	sub := func(q string, win w) string {
		d := time.Duration((win.end - win.start) * float64(time.Minute)).String()
		out := []byte{}
		for i := 0; i < len(q); i++ {
			if i+1 < len(q) && q[i] == '%' && q[i+1] == 's' {
				out = append(out, d...)
				i++
				continue
			}
			out = append(out, q[i])
		}
		return string(out)
	}
	errQ := `sum(rate(http_server_request_duration_seconds_count{service="api",http_response_status_code=~"5.."}[%s])) / sum(rate(http_server_request_duration_seconds_count{service="api"}[%s]))`
	rtQ := `histogram_quantile(0.95, sum by (le) (rate(dailydoco_video_processing_realtime_ratio_bucket[%s])))`
	out := []verdict.Objective{
		mk("api-latency-p95", "API p95 latency < 100 ms", steady, sub(latQ, steady), ptr(0.087), "s", "<", 0.1, ptr(0.09), verdict.Pass, 184210, true, 3,
			verdict.Evidence{Label: "requests <= 100 ms", Value: 96.4, Unit: "%"}, verdict.Evidence{Label: "interpolated p95", Value: 0.087, Unit: "s"}),
		mk("api-latency-p95", "API p95 latency < 100 ms", chaos, sub(latQ, chaos), ptr(0.142), "s", "<", 0.1, ptr(0.09), verdict.Fail, 241880, true, 3,
			verdict.Evidence{Label: "requests <= 100 ms", Value: 88.1, Unit: "%"}, verdict.Evidence{Label: "interpolated p95", Value: 0.142, Unit: "s"}),
		mk("api-latency-p95", "API p95 latency < 100 ms", recovery, sub(latQ, recovery), ptr(0.094), "s", "<", 0.1, ptr(0.09), verdict.Warn, 71240, true, 3,
			verdict.Evidence{Label: "requests <= 100 ms", Value: 95.3, Unit: "%"}, verdict.Evidence{Label: "interpolated p95", Value: 0.094, Unit: "s"}),
		mk("error-rate", "Error rate < 1 %", steady, sub(errQ, steady), ptr(0.0011), "ratio", "<", 0.01, ptr(0.005), verdict.Pass, 184210, true, 2),
		mk("error-rate", "Error rate < 1 %", chaos, sub(errQ, chaos), ptr(0.0087), "ratio", "<", 0.01, ptr(0.005), verdict.Warn, 241880, true, 2),
		mk("availability", "Availability >= 99.9 %", chaos, `avg_over_time(probe_success{job="blackbox",target="api"}[13m])`, ptr(0.9993), "ratio", ">=", 0.999, nil, verdict.Pass, 780, true, 2),
		mk("video-realtime-ratio", "Video processing < 2x realtime", steady, sub(rtQ, steady), ptr(1.41), "x", "<", 2, ptr(1.8), verdict.Pass, 1611, true, 2,
			verdict.Evidence{Label: "videos <= 2x", Value: 99.2, Unit: "%"}),
		mk("video-realtime-ratio", "Video processing < 2x realtime", chaos, sub(rtQ, chaos), ptr(2.31), "x", "<", 2, ptr(1.8), verdict.Fail, 2102, true, 2,
			verdict.Evidence{Label: "videos <= 2x", Value: 91.7, Unit: "%"}),
		mk("videos-per-hour", "Throughput >= 500 videos/hour", steady, `sum(increase(dailydoco_videos_processed_total{result="ok"}[10m])) * 6`, ptr(812.0), "videos/h", ">=", 500, nil, verdict.Pass, 1611, false, 1),
		mk("cost-per-video", "Cost per video < $0.50", whole, `sum(sum_over_time(node_total_hourly_cost[60m:1m])) / 60 / sum(increase(dailydoco_videos_processed_total{result="ok"}[60m]))`, ptr(0.00199), "USD", "<", 0.5, ptr(0.4), verdict.Pass, 9377, false, 1),
		mk("dashboard-load-p95", "Dashboard load < 3 s", steady, `histogram_quantile(0.95, sum by (le) (rate(ddp_client_request_duration_seconds_bucket{scenario="dashboard",step="page load"}[10m])))`, nil, "s", "<", 3, nil, verdict.NoData, 0, false, 1),
		mk("recovery-time", "Recovery after a fault < 5 min", chaos, `max(ddp_chaos_recovery_seconds)`, ptr(96.0), "s", "<", 300, ptr(180.0), verdict.Pass, 2, true, 2),
		mk("videos-lost", "No accepted video lost", whole, `sum(increase(dailydoco_videos_accepted_total[60m])) - sum(increase(dailydoco_videos_processed_total[60m]))`, ptr(0.0), "videos", "<=", 0, nil, verdict.Pass, 9412, true, 3),
	}
	out[10].Warnings = []string{"query returned an empty vector; the dashboard journey step is named \"GET /v1/dashboard\", not \"page load\""}
	// Intervals: the error-rate share during the chaos window straddles its threshold (low
	// confidence: the window would need to be longer to decide); throughput is a count.
	out[3].Interval = &verdict.Interval{Method: "wilson", Low: ptr(0.00071), High: ptr(0.0017)}
	out[4].Interval = &verdict.Interval{Method: "wilson", Low: ptr(0.0084), High: ptr(0.0104)}
	out[4].LowConfidence, out[4].ExtendToSeconds = true, ptr(1860.0)
	out[8].Interval = &verdict.Interval{Method: "poisson", Low: ptr(773.0), High: ptr(852.0)}
	out[11].Interval = &verdict.Interval{Method: "single"}
	out[12].Interval = &verdict.Interval{Method: "exact", Low: ptr(0.0), High: ptr(0.0)}
	return out
}
