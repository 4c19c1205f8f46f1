package load

import (
	"context"
	"fmt"
	"time"
)

// FailureBackoff makes a looping VU whose iterations fail wait before its next one, as a
// well-behaved client does, so that a target that fails at once (refused connections, 429s,
// 5xx) is not flooded by VUs that start their next iteration the instant the last one failed.
//
// After a VU's k-th failed iteration in a row, its next iteration starts no sooner than
// Delay(k) = Min·2^(k−1), at most Max, after the failed one started: the VU waits what is left
// of Delay(k) once the iteration itself has taken its time. An iteration that failed slowly
// (its think pauses or a slow answer took longer than the delay) is followed at once, so only
// fast failures are slowed down; a successful iteration resets k. A VU therefore starts at most
// one failing iteration per Min, and once failures persist, one per Max.
//
// The wait lies between iterations: it is not part of iteration_duration, it ends early when
// the VU is told to stop (ramp-down, the scenario's end, an abort), and each one is counted
// with the time it lasted (ddp_vu_backoffs_total, ddp_vu_backoff_seconds_total, and the
// snapshot's per-scenario Backoffs and BackoffSeconds). It applies to the looping executors
// (constant-vus, ramping-vus, per-vu-iterations, shared-iterations); the arrival-rate
// executors start iterations at their own rate whatever happens and ignore it.
//
// The zero value turns it off (k6's behaviour). Profiles turn it on by default
// ([DefaultFailureBackoff]).
type FailureBackoff struct {
	Min, Max time.Duration
}

// DefaultFailureBackoff is the backoff of profile scenarios that do not set their own: 1 s
// after the first failure in a row, doubling up to 30 s.
var DefaultFailureBackoff = FailureBackoff{Min: time.Second, Max: 30 * time.Second}

// Enabled reports whether b makes VUs wait at all.
func (b FailureBackoff) Enabled() bool { return b.Min > 0 }

// Delay is the least time from the start of a VU's failures-th failed iteration in a row
// (from 1) to the start of its next one: Min·2^(failures−1), at most Max; 0 when b is off or
// failures < 1.
func (b FailureBackoff) Delay(failures int) time.Duration {
	if !b.Enabled() || failures < 1 {
		return 0
	}
	d := b.Min
	for range failures - 1 {
		if d >= b.Max/2 {
			return b.Max
		}
		d *= 2
	}
	return min(d, b.Max)
}

// Wait is how long a VU waits after its failures-th failed iteration in a row, which ran for
// ran: what is left of Delay(failures).
func (b FailureBackoff) Wait(failures int, ran time.Duration) time.Duration {
	return max(b.Delay(failures)-max(ran, 0), 0)
}

func (b FailureBackoff) validate() error {
	switch {
	case b.Min < 0 || b.Max < 0:
		return fmt.Errorf("failureBackoff: min %v and max %v must not be negative", b.Min, b.Max)
	case b.Min == 0 && b.Max != 0:
		return fmt.Errorf("failureBackoff: max %v without min (zero min turns the backoff off)", b.Max)
	case b.Max < b.Min:
		return fmt.Errorf("failureBackoff: max %v is shorter than min %v", b.Max, b.Min)
	}
	return nil
}

// iteration is what the executors need of one iteration's outcome.
type iteration struct {
	failed      bool // returned an error and was not interrupted
	interrupted bool
	ran         time.Duration
}

// backoffAfter keeps vu's run of failed iterations and returns how long the scenario's
// backoff makes it wait after it (0: start the next at once). An interrupted iteration changes
// nothing: the VU is stopping.
func (r *scenarioRun) backoffAfter(vu *VU, it iteration) time.Duration {
	switch {
	case it.interrupted:
		return 0
	case !it.failed:
		vu.failures = 0
		return 0
	}
	vu.failures++
	return r.cfg.FailureBackoff.Wait(vu.failures, it.ran)
}

// backoff waits d on the engine clock, or until ctx ends or stop delivers (the VU was told to
// stop after its iteration), and counts the wait with the time it lasted.
func (r *scenarioRun) backoff(ctx context.Context, d time.Duration, stop <-chan struct{}) {
	e := r.e
	start := e.elapsed()
	t := e.clock.NewTimer(d)
	select {
	case <-t.C():
	case <-ctx.Done():
	case <-stop:
	}
	t.Stop()
	e.store.addBackoff(r.cfg.Name, e.elapsed()-start)
}
