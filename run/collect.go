package run

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
)

// DefaultPreflightTimeout bounds each preflight check, so a missing target fails within seconds.
const DefaultPreflightTimeout = 10 * time.Second

// preflight checks that the target answers /ready, that Prometheus answers queries and that
// it scrapes every expected job. Each failure says what to fix, with exit code 3.
func preflight(ctx context.Context, url string, api v1.API, jobs []prom.Job, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultPreflightTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var cause error // the last failure seen before the deadline, which says more than the deadline
	for {
		err := ready(ctx, url)
		if err == nil {
			break
		}
		if ctx.Err() == nil || cause == nil {
			cause = err
		}
		if ctx.Err() != nil {
			return infra("preflight: the target at %s is not ready after %s: %v; is the platform running and the URL right?", url, timeout, cause)
		}
		sleep(ctx, 200*time.Millisecond)
	}
	cause = nil
	want := map[string]bool{}
	for _, j := range jobs {
		want[j.Name] = true
	}
	for {
		missing, err := jobsDown(ctx, api, want)
		if err == nil && len(missing) == 0 {
			return nil
		}
		if err != nil && (ctx.Err() == nil || cause == nil) {
			cause = err
		}
		if ctx.Err() != nil {
			if err != nil {
				return infra("preflight: Prometheus is not reachable after %s: %v; check --prometheus-url", timeout, cause)
			}
			return infra("preflight: Prometheus has no healthy target for job(s) %s; check that they expose /metrics", strings.Join(missing, ", "))
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

func ready(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/ready", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /ready answered %s", resp.Status)
	}
	return nil
}

// jobsDown lists the wanted jobs without a single healthy target.
func jobsDown(ctx context.Context, api v1.API, want map[string]bool) ([]string, error) {
	res, err := api.Targets(ctx)
	if err != nil {
		return nil, err
	}
	up := map[string]bool{}
	for _, t := range res.Active {
		if t.Health == v1.HealthGood {
			up[string(t.Labels["job"])] = true
		}
	}
	var missing []string
	for j := range want {
		if !up[j] {
			missing = append(missing, j)
		}
	}
	return missing, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// drain waits until no accepted video is queued or processing, or the timeout passes.
func drain(ctx context.Context, api v1.API, timeout time.Duration) {
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	missing := 0
	for {
		q := instant(ctx, api, "sum(dailydoco_queue_depth)", time.Now())
		if q == 0 || ctx.Err() != nil {
			return
		}
		if math.IsNaN(q) {
			// A target that exports no queue depth has nothing to drain that we could see.
			if missing++; missing >= 5 {
				return
			}
		} else {
			missing = 0
		}
		sleep(ctx, time.Second)
	}
}

// waitScrape lets two scrape intervals pass so the last samples are stored.
func waitScrape(ctx context.Context) { sleep(ctx, 2*prom.DefaultScrapeInterval+200*time.Millisecond) }

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
	s.CostPerHour = rangeValues(ctx, api, "sum(node_total_hourly_cost) + (sum(dailydoco_fixed_hourly_cost) or vector(0))", rng, n)
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

// videosAndCost reads the video accounting and the cost of the run from Prometheus. Counters
// are summed with increase() so that restarts of killed node processes do not lose counts.
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
	v.Accepted = round(q("sum(increase(dailydoco_videos_accepted_total[" + w + "]))"))
	v.Processed = round(q(`sum(increase(dailydoco_videos_processed_total{result="success"}[` + w + "]))"))
	v.Failed = round(q(`sum(increase(dailydoco_videos_processed_total{result="failed"}[` + w + "])) or vector(0)"))
	queued := round(q("sum(dailydoco_queue_depth)"))
	v.Lost = max(0, v.Accepted-v.Processed-v.Failed-queued)

	c := reports.Cost{Currency: "USD", MonthlyBudget: MonthlyBudget}
	hourly := q("sum(avg_over_time(node_total_hourly_cost[" + w + "])) + (sum(avg_over_time(dailydoco_fixed_hourly_cost[" + w + "])) or vector(0))")
	if !math.IsNaN(hourly) {
		c.Total = hourly * end.Sub(t0).Hours()
		c.ProjectedMonthly = hourly * 730
		if v.Processed > 0 {
			per := c.Total / float64(v.Processed)
			c.PerVideo = &per
		}
	}
	return v, c
}

// notEvaluated lists the objectives the evaluator skipped, with its reasons.
func notEvaluated(rep *slo.Report) []reports.NotEvaluated {
	var out []reports.NotEvaluated
	for _, s := range rep.Skipped {
		out = append(out, reports.NotEvaluated{ID: s.ID, DisplayName: s.DisplayName, Key: s.Key, Reason: s.Reason})
	}
	return out
}

// decide sets the verdict, the score and the reasons. Missing data never passes: the gate of
// the SLO evaluation already fails on NO_DATA and ERROR, and a run that evaluated nothing is
// NO-GO.
func decide(r *reports.Run, rep *slo.Report, res *load.Result, aborted bool, chaosErr error) {
	r.Score = rep.Score
	r.Reasons = append(r.Reasons, rep.GateReasons...)
	goAhead := rep.Gate == slo.StatusPass || rep.Gate == slo.StatusWarn
	if len(rep.Results) == 0 {
		goAhead = false
		r.Reasons = append(r.Reasons, "no objective was evaluated")
	}
	if res != nil && res.Aborted != nil {
		goAhead = false
		r.Reasons = append(r.Reasons, fmt.Sprintf("load stopped early: threshold %s failed", res.Aborted.Source))
	}
	for _, c := range r.Chaos {
		if c.Error != "" {
			goAhead = false
			r.Reasons = append(r.Reasons, fmt.Sprintf("fault %s: %s", c.Fault, c.Error))
		}
	}
	var left *chaos.LeftoverError
	if errors.As(chaosErr, &left) {
		goAhead = false
		r.Reasons = append(r.Reasons, fmt.Sprintf("faults left in force (run id %s): %s", r.RunID, left.Error()))
	}
	if r.Videos.Lost > 0 {
		goAhead = false
		r.Reasons = append(r.Reasons, fmt.Sprintf("%d accepted videos were lost", r.Videos.Lost))
	}
	switch {
	case aborted:
		r.Verdict = reports.VerdictAborted
		r.Reasons = append([]string{"interrupted: the run was stopped before its end; results cover what was collected"}, r.Reasons...)
	case goAhead:
		r.Verdict = reports.VerdictGo
	default:
		r.Verdict = reports.VerdictNoGo
	}
	if r.Reasons == nil {
		r.Reasons = []string{}
	}
}
