package run

import (
	"context"
	"fmt"
	"math"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/reports"
)

// series builds the per-interval chart data: client-side columns from the engine's
// one-second buckets, platform columns from Prometheus range queries.
func series(ctx context.Context, api v1.API, res *load.Result, t0, end time.Time) reports.Series {
	total := end.Sub(t0)
	step := time.Second
	if total > 20*time.Minute {
		// Keep about 1200 points however long the run: enough for any chart width.
		step = (total / 1200).Round(time.Second)
	}
	n := int(total/step) + 1
	s := reports.Series{Start: t0.UTC(), IntervalSeconds: step.Seconds()}
	nan := func() reports.Values {
		v := make(reports.Values, n)
		for i := range v {
			v[i] = math.NaN()
		}
		return v
	}
	s.LatencyP50MS, s.LatencyP95MS, s.LatencyP99MS = nan(), nan(), nan()
	s.RPS, s.ErrorsPerSecond, s.ActiveUsers = nan(), nan(), nan()
	if res != nil && res.Snapshot != nil {
		// Buckets are one second each; fold them into the chart's step (max for latency and
		// users, mean for rates).
		secs := int64(step / time.Second)
		type acc struct{ req, errs, n int }
		accs := make([]acc, n)
		offset := int64(res.Snapshot.StartedAt.Sub(t0) / time.Second)
		for _, b := range res.Snapshot.Buckets {
			i := int((b.Second + offset) / secs)
			if i < 0 || i >= n {
				continue
			}
			accs[i].req += int(b.Requests)
			accs[i].errs += int(b.Errors)
			accs[i].n++
			maxInto(&s.LatencyP50MS[i], b.P50)
			maxInto(&s.LatencyP95MS[i], b.P95)
			maxInto(&s.LatencyP99MS[i], b.P99)
			maxInto(&s.ActiveUsers[i], float64(b.VUs))
		}
		for i, a := range accs {
			if a.n > 0 {
				s.RPS[i] = float64(a.req) / float64(a.n)
				s.ErrorsPerSecond[i] = float64(a.errs) / float64(a.n)
			}
		}
	}
	rng := v1.Range{Start: t0, End: t0.Add(time.Duration(n-1) * step), Step: step}
	rate := fmt.Sprintf("%ds", max(int(3*step/time.Second), 15))
	s.RealtimeRatio = rangeValues(ctx, api, "histogram_quantile(0.95, sum by (le) (rate(dailydoco_video_processing_realtime_ratio_bucket["+rate+"])))", rng, n)
	s.QueueDepth = rangeValues(ctx, api, "sum(dailydoco_queue_depth)", rng, n)
	s.GPUSlotsInUse = rangeValues(ctx, api, `sum(dailydoco_gpu_slots{state="busy"})`, rng, n)
	s.GPUSlotsTotal = rangeValues(ctx, api, "sum(dailydoco_gpu_slots)", rng, n)
	s.CostPerHour = rangeValues(ctx, api, "sum(node_total_hourly_cost) + sum(dailydoco_fixed_hourly_cost)", rng, n)
	return s
}

func maxInto(dst *float64, v float64) {
	if math.IsNaN(*dst) || v > *dst {
		*dst = v
	}
}

// rangeValues runs a range query and lays its single series on n points (NaN where missing).
func rangeValues(ctx context.Context, api v1.API, q string, rng v1.Range, n int) reports.Values {
	out := make(reports.Values, n)
	for i := range out {
		out[i] = math.NaN()
	}
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, _, _, err := api.QueryRange(qctx, q, rng)
	if err != nil {
		return out
	}
	m, ok := v.(model.Matrix)
	if !ok || len(m) != 1 {
		return out
	}
	for _, p := range m[0].Values {
		i := int(p.Timestamp.Time().Sub(rng.Start) / rng.Step)
		if i >= 0 && i < n {
			out[i] = float64(p.Value)
		}
	}
	return out
}

// MonthlyBudget is the deployment plan's monthly infrastructure budget (USD).
const MonthlyBudget = 16000

// countIn is PromQL for every increment of the counters selector names in the window that
// ends at the evaluation time, exactly: what each sample added to the last before it, a drop
// (a restarted exporter) counting its new value, as increase() does, but without increase()'s
// extrapolation to the window's edges, which reads a fraction of a video too many or too few
// (the default SLO set's videos_lost counts the same way; docs/slo.md).
func countIn(selector, window string) string {
	return fmt.Sprintf("sum(sum_over_time((%[1]s - last_over_time(%[1]s[%[2]s] offset 1s) >= 0 or %[1]s + 0)[%[2]s:1s]))", selector, window)
}

// growthIn is PromQL for how much the gauges selector names grew, in sum, over the window,
// on countIn's 1 s steps: so that a count and a gauge compare the same samples.
func growthIn(selector, window string) string {
	return fmt.Sprintf("sum_over_time(((sum(%[1]s) or vector(0)) - (sum(%[1]s offset 1s) or vector(0)))[%[2]s:1s])", selector, window)
}

// videosAndCost reads the video accounting and the cost of the run from Prometheus, counting
// exactly (countIn) across restarts of the processes that export the counters.
func videosAndCost(ctx context.Context, api v1.API, t0, end time.Time) (reports.Videos, reports.Cost) {
	w := fmt.Sprintf("%ds", int(math.Ceil(end.Sub(t0).Seconds())))
	q := func(expr string) float64 { return instant(ctx, api, expr, end) }
	round := func(v float64) int64 {
		if math.IsNaN(v) {
			return 0
		}
		return int64(math.Round(v))
	}
	var v reports.Videos
	v.Accepted = round(q(countIn("dailydoco_videos_accepted_total", w)))
	v.Processed = round(q(countIn(`dailydoco_videos_processed_total{result="success"}`, w)))
	v.Failed = round(q(countIn(`dailydoco_videos_processed_total{result="failed"}`, w) + " or vector(0)"))
	// Videos still in the pipeline at the end are unfinished; without a queue depth they
	// cannot be told from lost ones, and count as lost.
	v.Unfinished = round(q("sum(dailydoco_queue_depth)"))
	if v.Unfinished > 0 {
		if age := q("max(dailydoco_queue_oldest_age_seconds)"); !math.IsNaN(age) {
			v.OldestUnfinishedSeconds = &age
		}
	}
	// Lost from the counts and the backlog's growth on the same steps (the backlog at the end
	// alone may be a sample fresher than the counts' last step), as videos_lost counts.
	lost := q(countIn("dailydoco_videos_accepted_total", w) + " - " + countIn("dailydoco_videos_processed_total", w) +
		" - " + growthIn("dailydoco_queue_depth", w))
	if math.IsNaN(lost) { // no counts at all
		lost = 0
	}
	v.Lost = max(0, round(lost))

	c := reports.Cost{Currency: "USD", MonthlyBudget: MonthlyBudget}
	hourly := q("sum(avg_over_time(node_total_hourly_cost[" + w + "])) + sum(avg_over_time(dailydoco_fixed_hourly_cost[" + w + "]))")
	if math.IsNaN(hourly) {
		c.Unknown = "no node_total_hourly_cost or no dailydoco_fixed_hourly_cost series: a cost without either source would pass by omission (docs/slo.md)"
	} else {
		c.Total = hourly * end.Sub(t0).Hours()
		c.ProjectedMonthly = hourly * 730
		if v.Processed > 0 {
			per := c.Total / float64(v.Processed)
			c.PerVideo = &per
		}
	}
	return v, c
}
