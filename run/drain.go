package run

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/reports"
)

// drained is how the drain phase ended.
type drained struct {
	// end is when the data the run evaluates ends: after the drain and the last scrape.
	end time.Time
	// empty is true when the pipeline was seen empty (no video queued or processing).
	empty bool
	// inFlight is the videos still queued or processing when the drain stopped waiting; NaN
	// when the target exports no queue depth.
	inFlight float64
	// skipped is true when the run was interrupted, so nothing was waited for.
	skipped bool
}

// settle is how long the drain lets the targets be scraped after what it observed: two
// scrape intervals, so that every target's last samples are stored.
const settle = 2*prom.DefaultScrapeInterval + 200*time.Millisecond

// drain waits, bounded, until no accepted video is queued or processing, so that "lost" means
// lost, then lets the last samples reach the TSDB. An interrupted run does not wait.
func (r *runner) drain(ctx context.Context, ex *execution) drained {
	d := drained{skipped: ex.aborted, inFlight: math.NaN()}
	if !ex.aborted {
		fmt.Fprintln(r.o.progress(), "ddp-verify: load done, draining the video pipeline")
		d.empty, d.inFlight = r.waitDrained(ctx, orDefault(r.o.DrainTimeout, DefaultDrainTimeout))
		if !d.empty {
			fmt.Fprintf(r.o.progress(), "ddp-verify: the drain stopped waiting with %s videos still in flight\n", countText(d.inFlight))
		}
	}
	if !d.empty {
		r.sleep(ctx, settle)
	}
	d.end = r.clock.Now()
	if !d.skipped {
		d.end = r.wholeSecondEnd(ctx, d.end)
	}
	return d
}

// wholeSecondEnd moves the end of the run's data to the next whole second and waits until it
// is scraped. videos_lost and the report's video accounting count on 1 s steps (docs/slo.md);
// their last step then falls on the window's end, where the backlog is read: with the end
// between two steps, a video finishing after the last step but before the end looked lost.
func (r *runner) wholeSecondEnd(ctx context.Context, end time.Time) time.Time {
	rest := end.Truncate(time.Second).Add(time.Second).Sub(end)
	if rest == time.Second {
		return end
	}
	r.sleep(ctx, rest+settle)
	return end.Add(rest)
}

// waitDrained polls the queue depth until it is 0, the timeout passes or the target turns out
// to export none. It returns whether the pipeline was seen empty and the last depth seen.
//
// An empty queue counts only once it is confirmed a settle time later: a video accepted late
// (a request the server finished after the load stopped, or one the last scrape had not seen
// yet) would otherwise be reported as unfinished beside a drain that says "empty". When it
// returns true, the settle time has passed, so the run's data may end at once.
func (r *runner) waitDrained(ctx context.Context, timeout time.Duration) (empty bool, inFlight float64) {
	deadline := r.clock.Now().Add(timeout)
	missing := 0
	for {
		q := r.queueDepth(ctx)
		switch {
		case q == 0:
			r.sleep(ctx, settle)
			if q = r.queueDepth(ctx); q == 0 {
				return true, 0
			}
		case math.IsNaN(q):
			// A target that exports no queue depth has nothing to drain that we could see.
			if missing++; missing >= 5 {
				return false, q
			}
		default:
			missing = 0
		}
		if ctx.Err() != nil || !r.clock.Now().Before(deadline) {
			return false, q
		}
		r.sleep(ctx, time.Second)
	}
}

// queueDepth is the videos queued or processing now, NaN when the target exports none.
func (r *runner) queueDepth(ctx context.Context) float64 {
	return instant(ctx, r.platform.Prometheus, "sum(dailydoco_queue_depth)", r.clock.Now())
}

// outcome is the drain as run.json names it.
func (d drained) outcome() string {
	switch {
	case d.skipped:
		return reports.DrainSkipped
	case d.empty:
		return reports.DrainEmpty
	case math.IsNaN(d.inFlight):
		return reports.DrainUnobserved
	}
	return reports.DrainTimedOut
}

func countText(v float64) string {
	if math.IsNaN(v) {
		return "an unknown number of"
	}
	return fmt.Sprintf("%.0f", v)
}
