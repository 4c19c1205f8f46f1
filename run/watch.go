package run

import (
	"context"
	"math"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
)

// DefaultRecoveryObjective is how long the service may take to be healthy again after a fault
// is injected when the profile does not say.
const DefaultRecoveryObjective = 60 * time.Second

// recoveryStable is how long the error rate must stay under recoveryErrorRate before the
// service counts as recovered: one good second after a burst of errors is not recovery.
const (
	recoveryStable    = 10 * time.Second
	recoveryErrorRate = 0.01
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
			Help: "Seconds from a fault's injection until the client error rate stayed below 1 % for 10 s (still growing while not recovered).",
		}, []string{"fault"}),
		objective: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ddp_fault_recovery_objective_seconds",
			Help: "The recovery time objective of each fault.",
		}, []string{"fault"}),
	}
}

// recoveryTracker decides, from one-second samples of the client error rate, when the service
// recovered from one fault.
type recoveryTracker struct {
	injected    time.Time
	goodSince   time.Time // start of the current streak of good seconds; zero when in a bad one
	recoveredAt time.Time
}

// newRecoveryTracker starts tracking at injection; the service counts as healthy until an
// error-rate sample says otherwise.
func newRecoveryTracker(injected time.Time) *recoveryTracker {
	return &recoveryTracker{injected: injected, goodSince: injected}
}

// observe records the error rate seen at now and reports the recovery time so far and whether
// the service has recovered.
func (r *recoveryTracker) observe(now time.Time, errorRate float64, requests uint64) (time.Duration, bool) {
	if !r.recoveredAt.IsZero() {
		return r.recoveredAt.Sub(r.injected), true
	}
	good := requests == 0 || errorRate < recoveryErrorRate
	switch {
	case !good:
		r.goodSince = time.Time{}
	case r.goodSince.IsZero():
		r.goodSince = now
	}
	if good && now.Sub(r.goodSince) >= recoveryStable {
		r.recoveredAt = r.goodSince
		if r.recoveredAt.Before(r.injected) {
			r.recoveredAt = r.injected
		}
		return r.recoveredAt.Sub(r.injected), true
	}
	return now.Sub(r.injected), false
}

// watcher drives the progress view and the recovery gauges while load and chaos run.
type watcher struct {
	opts     Options
	tl       profile.Timeline
	t0       time.Time
	eng      *load.Engine
	sched    *chaos.Scheduler
	api      v1.API
	recovery *recoveryGauges
	faults   []profile.Fault
}

func (w *watcher) loop(ctx context.Context, done <-chan struct{}) {
	prog := NewProgress(w.opts.Progress, w.opts.Terminal)
	every := w.opts.ProgressEvery
	if every == 0 {
		every = 10 * time.Second
		if w.opts.Terminal {
			every = time.Second
		}
	}
	objectives := map[string]time.Duration{}
	for _, f := range w.faults {
		obj := f.RecoveryObjective.Duration
		if obj == 0 {
			obj = DefaultRecoveryObjective
		}
		objectives[f.Name] = obj
	}
	trackers := map[string]*recoveryTracker{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastPrint := time.Time{}
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			// Load is stopping; keep reporting until load and chaos have both finished.
			select {
			case <-done:
				return
			case <-tick.C:
			}
		case now := <-tick.C:
			live := w.eng.Live()
			var active []string
			if w.sched != nil {
				for _, r := range w.sched.Active() {
					if r.Injected.Tool.IsZero() {
						continue // submitted, not yet confirmed in force
					}
					active = append(active, r.Fault.ID)
					if _, ok := trackers[r.Fault.ID]; !ok {
						trackers[r.Fault.ID] = newRecoveryTracker(r.Injected.Tool)
						w.recovery.objective.WithLabelValues(r.Fault.ID).Set(objectives[r.Fault.ID].Seconds())
					}
				}
			}
			for id, tr := range trackers {
				d, _ := tr.observe(now, live.ErrorRate, live.Requests)
				w.recovery.seconds.WithLabelValues(id).Set(d.Seconds())
			}
			if now.Sub(lastPrint) >= every {
				lastPrint = now
				queue := instant(ctx, w.api, "sum(dailydoco_queue_depth)", now)
				elapsed := now.Sub(w.t0)
				stage, left := stageAt(w.tl, elapsed)
				prog.Update(Status{Elapsed: elapsed, Total: w.tl.Duration, Stage: stage, StageLeft: left, Live: live, Queue: queue, Faults: active})
			}
		}
	}
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
