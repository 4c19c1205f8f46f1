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
	"github.com/dailydoco/ddp-verify/progress"
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

// watch drives the progress view and the recovery gauges while load and chaos run, until
// done closes.
func (r *runner) watch(ctx context.Context, done <-chan struct{}, t0 time.Time, eng *load.Engine, sched *chaos.Scheduler) {
	prog := progress.New(r.o.Progress, r.o.Terminal)
	every := r.o.ProgressEvery
	if every == 0 {
		every = 10 * time.Second
		if r.o.Terminal {
			every = time.Second
		}
	}
	objectives := recoveryObjectives(r.plan.Profile.Chaos)
	trackers := map[string]*recoveryTracker{}
	tick := r.clock.NewTicker(time.Second)
	defer tick.Stop()
	var lastPrint time.Time
	for {
		var now time.Time
		select {
		case <-done:
			return
		case now = <-tick.C():
		case <-ctx.Done():
			// Load is stopping; keep reporting until load and chaos have both finished.
			select {
			case <-done:
				return
			case now = <-tick.C():
			}
		}
		live := eng.Live()
		active := r.trackRecovery(now, live, sched, trackers, objectives)
		if now.Sub(lastPrint) >= every {
			lastPrint = now
			queue := instant(ctx, r.platform.Prometheus, "sum(dailydoco_queue_depth)", now)
			elapsed := now.Sub(t0)
			stage, left := progress.StageAt(r.plan.Timeline, elapsed)
			prog.Update(progress.Status{Elapsed: elapsed, Total: r.plan.Timeline.Duration, Stage: stage, StageLeft: left, Live: live, Platform: true, Queue: queue, Faults: active})
		}
	}
}

// recoveryObjectives is each fault's recovery time objective.
func recoveryObjectives(faults []profile.Fault) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, f := range faults {
		obj := f.RecoveryObjective.Duration
		if obj == 0 {
			obj = DefaultRecoveryObjective
		}
		out[f.Name] = obj
	}
	return out
}

// trackRecovery starts a tracker for each fault confirmed in force, feeds every tracker the
// live error rate and sets the recovery gauges. It returns the faults in force.
func (r *runner) trackRecovery(now time.Time, live load.Live, sched *chaos.Scheduler, trackers map[string]*recoveryTracker, objectives map[string]time.Duration) []string {
	var active []string
	if sched != nil {
		for _, f := range sched.Active() {
			if f.Injected.Tool.IsZero() {
				continue // submitted, not yet confirmed in force
			}
			active = append(active, f.Fault.ID)
			if _, ok := trackers[f.Fault.ID]; !ok {
				trackers[f.Fault.ID] = newRecoveryTracker(f.Injected.Tool)
				r.recovery.objective.WithLabelValues(f.Fault.ID).Set(objectives[f.Fault.ID].Seconds())
			}
		}
	}
	for id, tr := range trackers {
		d, _ := tr.observe(now, live.ErrorRate, live.Requests)
		r.recovery.seconds.WithLabelValues(id).Set(d.Seconds())
	}
	return active
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
