package run

import (
	"context"
	"math"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/progress"
)

// DefaultRecoveryObjective is how long the service may take to be healthy again after a fault
// is injected when the profile does not say.
const DefaultRecoveryObjective = 60 * time.Second

// The service counts as recovered from a fault once it is back within its steady-state
// objectives and stays there for recoveryStable: the client error rate under 1 % (over the
// engine's live window of a few seconds), at least 95 % of the server's API requests within
// 100 ms (over the last 10 s: the platform's own latency, which a busy load generator does not
// inflate), and the video backlog, averaged over the last 30 s, no higher than before the
// fault (see [backlogLimit]). One good second after a burst of errors is not recovery, and
// neither is a good spell that ends while the fault or its recovery window lasts: the service
// is watched from the injection to the end of the fault's recovery window, and its recovery
// time is when its last good spell began (see [recoveryTracker]).
const (
	recoveryStable    = 10 * time.Second
	recoveryErrorRate = 0.01
	// recoveryFastShare is the share of server requests within 100 ms the API latency
	// objective asks for (p95 < 100 ms).
	recoveryFastShare = 0.95
	// backlogHistory is how many seconds before a fault the backlog it must return to is taken
	// from. Five minutes, not one: a busy pipeline's queue rises and falls over tens of
	// seconds, so one minute's highest depth is a noisy bar that a healthy platform's queue
	// crosses again within two minutes a fifth of the time (docs/slo.md).
	backlogHistory = 300
	// backlogSmoothing is how many seconds of backlog are averaged before it is held against
	// the bar. A pipeline nearer its capacity (one GPU node of three lost) keeps up with a
	// backlog that swings higher for seconds at a time; held second by second against the
	// highest depth of the steady minutes, one swing late in the window decided between 0 s
	// and minutes of recovery, differently per seed. A pipeline that falls behind holds its
	// backlog above the bar, and its mean over 30 s with it (docs/slo.md).
	backlogSmoothing = 30
)

// recoveryGauges expose, per fault, the service's recovery time and its objective, for the
// recovery_time SLO. Until the service has recovered the gauge shows the time elapsed since
// injection, so a fault the service never recovers from fails its objective instead of
// reporting nothing.
type recoveryGauges struct {
	seconds   *prometheus.GaugeVec
	objective *prometheus.GaugeVec
}

func newRecoveryGauges() *recoveryGauges {
	return &recoveryGauges{
		seconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ddp_fault_recovery_seconds",
			Help: "Seconds from a fault's injection to the start of the service's last spell (10 s or more, to the end of the fault's recovery window) within its steady-state objectives (client errors < 1 %, 95 % of server requests within 100 ms, video backlog over 30 s at its pre-fault level); growing while the service is not within them.",
		}, []string{"fault"}),
		objective: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ddp_fault_recovery_objective_seconds",
			Help: "The service recovery time objective of each fault.",
		}, []string{"fault"}),
	}
}

// fastShareQuery is the share of the server's API requests within 100 ms over the last 10 s,
// as the API latency objective counts them (health, readiness and metrics routes left out).
const fastShareQuery = `sum(rate(http_server_request_duration_seconds_bucket{le=~"0\\.1(0*)?",http_route!~"/(healthz?|readyz?|livez|metrics)"}[10s])) / sum(rate(http_server_request_duration_seconds_count{http_route!~"/(healthz?|readyz?|livez|metrics)"}[10s]))`

// health is one second's view of the service against its steady-state objectives.
type health struct {
	errorRate float64
	// fastShare is the share of server requests within 100 ms over the last 10 s; NaN when
	// the target does not say (no request, or no histogram).
	fastShare float64
	// backlog is the videos queued or processing; NaN when the target does not say.
	backlog float64
}

// within reports whether h meets the steady-state objectives, with the backlog at most limit
// (NaN: no limit known).
func (h health) within(limit float64) bool {
	backlogOK := math.IsNaN(h.backlog) || math.IsNaN(limit) || h.backlog <= limit
	latencyOK := math.IsNaN(h.fastShare) || h.fastShare >= recoveryFastShare
	return h.errorRate < recoveryErrorRate && latencyOK && backlogOK
}

// backlogLimit is the backlog a service is back to normal at: the highest depth seen in the
// five steady-state minutes before the fault (no fault in force or in its recovery window),
// plus a fifth and two videos of slack for the pipeline's ordinary ups and downs. NaN when
// nothing was seen.
func backlogLimit(before []float64) float64 {
	limit := math.NaN()
	for _, v := range before {
		if !math.IsNaN(v) && (math.IsNaN(limit) || v > limit) {
			limit = v
		}
	}
	return math.Ceil(1.2*limit) + 2
}

// recoveryTracker decides, from one-second health samples, when the service recovered from
// one fault: the start of its last spell of good seconds, once that spell has lasted
// recoveryStable. The tracker does not settle on the first such spell: a pipeline that looks
// healthy for the first seconds of a fault and then falls behind (a dead node's jobs wait for
// their leases to expire) has not recovered, so every sample up to the end of the fault's
// recovery window counts.
type recoveryTracker struct {
	injected     time.Time
	backlogLimit float64
	goodSince    time.Time // start of the current streak of good seconds; zero when in a bad one
	// until is the end of the fault's recovery window, when the verdict is final (zero while
	// it is not known yet); later samples are not the fault's.
	until time.Time
	// latest is the recovery time so far and recovered whether the service is recovered now.
	latest    time.Duration
	recovered bool
}

// newRecoveryTracker starts tracking at injection; the service counts as healthy until a
// sample says otherwise.
func newRecoveryTracker(injected time.Time, backlogLimit float64) *recoveryTracker {
	return &recoveryTracker{injected: injected, backlogLimit: backlogLimit, goodSince: injected}
}

// observe records the health seen at now and reports the recovery time so far and whether the
// service is recovered now. Samples after the end of the fault's recovery window change
// nothing.
func (r *recoveryTracker) observe(now time.Time, h health) (time.Duration, bool) {
	if r.settled(now) {
		return r.latest, r.recovered
	}
	good := h.within(r.backlogLimit)
	switch {
	case !good:
		r.goodSince = time.Time{}
	case r.goodSince.IsZero():
		r.goodSince = now
	}
	r.recovered = good && now.Sub(r.goodSince) >= recoveryStable
	r.latest = now.Sub(r.injected)
	if r.recovered {
		r.latest = max(r.goodSince.Sub(r.injected), 0)
	}
	return r.latest, r.recovered
}

// settled reports whether the fault's recovery window has ended by now.
func (r *recoveryTracker) settled(now time.Time) bool {
	return !r.until.IsZero() && now.After(r.until)
}

// watch drives the progress view and the recovery gauges while load and chaos run, until
// done closes. It returns, per fault, how long the service took to recover (faults it never
// recovered from during the run are absent).
func (r *runner) watch(ctx context.Context, done <-chan struct{}, t0 time.Time, eng loadDriver, sched *chaos.Scheduler) map[string]time.Duration {
	prog := progress.New(r.o.Progress, r.o.Terminal)
	every := r.o.ProgressEvery
	if every == 0 {
		every = 10 * time.Second
		if r.o.Terminal {
			every = time.Second
		}
	}
	rec := newRecoveryWatch(r.plan.Profile.Chaos, r.recovery)
	tick := r.clock.NewTicker(time.Second)
	defer tick.Stop()
	var lastPrint time.Time
	for {
		var now time.Time
		select {
		case <-done:
			return rec.recovered()
		case now = <-tick.C():
		case <-ctx.Done():
			// Load is stopping; keep reporting until load and chaos have both finished.
			select {
			case <-done:
				return rec.recovered()
			case now = <-tick.C():
			}
		}
		live := eng.Live()
		queue := instant(ctx, r.platform.Prometheus, "sum(dailydoco_queue_depth)", now)
		fast := instant(ctx, r.platform.Prometheus, fastShareQuery, now)
		active := rec.observe(now, health{errorRate: live.ErrorRate, fastShare: fast, backlog: queue}, sched)
		if now.Sub(lastPrint) >= every {
			lastPrint = now
			elapsed := now.Sub(t0)
			stage, left := progress.StageAt(r.plan.Timeline, elapsed)
			prog.Update(progress.Status{Elapsed: elapsed, Total: r.plan.Timeline.Duration, Stage: stage, StageLeft: left, Live: live, Platform: true, Queue: queue, Faults: active})
		}
	}
}

// recoveryWatch tracks the service's recovery from every fault the scheduler confirms.
type recoveryWatch struct {
	faults   map[string]profile.Fault // the profile's faults by name
	trackers map[string]*recoveryTracker
	gauges   *recoveryGauges
	backlog  []float64 // the last backlogHistory steady-state samples, oldest first
	recent   []float64 // the last backlogSmoothing samples, oldest first
}

func newRecoveryWatch(faults []profile.Fault, gauges *recoveryGauges) *recoveryWatch {
	byName := map[string]profile.Fault{}
	for _, f := range faults {
		byName[f.Name] = f
	}
	return &recoveryWatch{faults: byName, trackers: map[string]*recoveryTracker{}, gauges: gauges}
}

// observe takes one second's health: it starts a tracker for each fault newly confirmed in
// force (with the backlog limit of the steady minutes before), tells each tracker when its
// fault's recovery window ends once the recovery is confirmed, feeds every tracker and sets
// the gauges. It returns the faults in force.
func (w *recoveryWatch) observe(now time.Time, h health, sched *chaos.Scheduler) []string {
	var active []string
	if sched != nil {
		for _, f := range sched.Results() {
			if f.Injected.Tool.IsZero() {
				continue // not yet confirmed in force
			}
			tr, ok := w.trackers[f.Fault.ID]
			if !ok {
				tr = newRecoveryTracker(f.Injected.Tool, backlogLimit(w.backlog))
				w.trackers[f.Fault.ID] = tr
				w.gauges.objective.WithLabelValues(f.Fault.ID).Set(recoveryObjective(w.faults[f.Fault.ID]).Seconds())
			}
			window := w.faults[f.Fault.ID].Recovery.Duration
			switch {
			case !f.Recovered.Tool.IsZero():
				tr.until = f.Recovered.Tool.Add(window)
			case f.Phase == chaos.Injected || f.Phase == chaos.Recovering:
				active = append(active, f.Fault.ID)
			case tr.until.IsZero():
				// Failed or left without a confirmed recovery: its window starts now.
				tr.until = now.Add(window)
			}
		}
	}
	steady := true
	smoothed := h
	smoothed.backlog = w.smoothBacklog(h.backlog)
	for id, tr := range w.trackers {
		d, _ := tr.observe(now, smoothed)
		w.gauges.seconds.WithLabelValues(id).Set(d.Seconds())
		steady = steady && tr.settled(now)
	}
	if steady {
		// The backlog a fault must return to is measured in steady state: while no fault is
		// in force or in its recovery window.
		w.backlog = appendLast(w.backlog, h.backlog, backlogHistory)
	}
	return active
}

// smoothBacklog adds one second's backlog to the recent ones and returns their mean over the
// last backlogSmoothing seconds (NaN when none of them is known).
func (w *recoveryWatch) smoothBacklog(b float64) float64 {
	w.recent = appendLast(w.recent, b, backlogSmoothing)
	sum, n := 0.0, 0
	for _, v := range w.recent {
		if !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// appendLast appends v to s and keeps the last n values.
func appendLast(s []float64, v float64, n int) []float64 {
	s = append(s, v)
	if len(s) > n {
		s = s[1:]
	}
	return s
}

// recovered is each fault's service recovery time, for the faults the service was recovered
// from when its recovery window ended (or when the run ended, if that came first).
func (w *recoveryWatch) recovered() map[string]time.Duration {
	out := map[string]time.Duration{}
	for id, tr := range w.trackers {
		if tr.recovered {
			out[id] = tr.latest
		}
	}
	return out
}

// recoveryObjective is a fault's recovery time objective.
func recoveryObjective(f profile.Fault) time.Duration {
	if f.RecoveryObjective.Duration == 0 {
		return DefaultRecoveryObjective
	}
	return f.RecoveryObjective.Duration
}

// instant runs one instant query and returns its single value, NaN when there is none.
func instant(ctx context.Context, api v1.API, q string, ts time.Time) float64 {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, _, _, err := api.Query(qctx, q, ts)
	if err != nil {
		return math.NaN()
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 1 {
		return math.NaN()
	}
	return float64(vec[0].Value)
}
