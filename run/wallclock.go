package run

import (
	"context"
	"sync"
	"time"

	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
)

// A wallClock places the instants of a run, measured on Go's monotonic clock, on the wall
// clock that Prometheus stamps its samples with. The two clocks advance together except when
// the wall clock is stepped: a clock correction (NTP, a hypervisor), or a virtual machine
// resumed after a pause, whose wall clock then jumps to the host's time. After a step of +J,
// every sample is stamped J later than the run's clock says, and a window placed on the run's
// clock alone misses the first J of the run: its counts come out short (fewer videos accepted
// than processed, a false pass of video_success) and its stages are read J early.
//
// The clock observes the difference between the two clocks several times a second from the
// run's start; an instant is placed on the wall clock with the difference in force when it was
// measured. A step is located to within one observation interval.
type wallClock struct {
	ref time.Time // one reading of both clocks: the origin of the differences

	mu    sync.Mutex
	steps []ClockStep // in the order they were observed

	stop    func()
	done    chan struct{}
	stopped sync.Once
}

// ClockStep is a step of the machine's wall clock against its monotonic clock during a run.
type ClockStep struct {
	// At is when it was first observed, on the monotonic clock since the run's start.
	At time.Duration
	// Skew is the wall clock's lead over the monotonic clock, since the run's start, from At on;
	// the step itself is the change from the skew before.
	Skew time.Duration
}

// minClockStep is the smallest change of the skew counted as a step: well above the
// microseconds the two readings of one observation may differ by, and below the scrape
// interval, the resolution of the data a window selects.
const minClockStep = 100 * time.Millisecond

// clockObserveInterval is how often the clock observes the skew.
const clockObserveInterval = 200 * time.Millisecond

// newWallClock starts a clock with ref, a reading of time.Now (which carries both clocks).
func newWallClock(ref time.Time) *wallClock {
	return &wallClock{ref: ref}
}

// follow observes the skew until stopped (wallClock.end); onStep is called with each step.
func (c *wallClock) follow(onStep func(ClockStep)) {
	ctx, cancel := context.WithCancel(context.Background())
	c.stop, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		tick := time.NewTicker(clockObserveInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if s, ok := c.observe(time.Now()); ok && onStep != nil {
					onStep(s)
				}
			}
		}
	}()
}

// end observes once more and stops following: the instants to place are all measured. Only
// the first call does anything (none, before the run started).
func (c *wallClock) end() {
	if c == nil {
		return
	}
	c.stopped.Do(func() {
		if c.stop != nil {
			c.stop()
			<-c.done
		}
		c.observe(time.Now())
	})
}

// observe records the skew of now, a reading of both clocks; it reports a step when the skew
// changed by at least minClockStep since the last one.
func (c *wallClock) observe(now time.Time) (ClockStep, bool) {
	mono := now.Sub(c.ref)
	return c.record(mono, now.Round(0).Sub(c.ref.Round(0))-mono)
}

// record records skew, the wall clock's lead over the monotonic clock observed at mono (since
// ref), as a step when it changed by at least minClockStep since the last one.
func (c *wallClock) record(mono, skew time.Duration) (ClockStep, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if (skew - c.skewLocked(mono)).Abs() < minClockStep {
		return ClockStep{}, false
	}
	s := ClockStep{At: mono, Skew: skew}
	c.steps = append(c.steps, s)
	return s, true
}

// Steps are the steps observed so far.
func (c *wallClock) Steps() []ClockStep {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ClockStep(nil), c.steps...)
}

// at places t, an instant measured on the run's clock, on the wall clock: its own wall
// reading, moved by the steps that reading did not see. An instant read from the clock after
// a step already carries it; one computed from an earlier reading (t0 plus a stage's offset)
// does not. An instant without a monotonic reading (a fake clock's) is placed by its wall
// reading; the zero time (an instant that never came) stays zero.
func (c *wallClock) at(t time.Time) time.Time {
	if c == nil || t.IsZero() {
		return t.Round(0)
	}
	mono := t.Sub(c.ref)
	carried := t.Round(0).Sub(c.ref.Round(0)) - mono
	c.mu.Lock()
	skew := c.skewLocked(mono)
	c.mu.Unlock()
	if (skew - carried).Abs() < minClockStep {
		return t.Round(0)
	}
	return t.Round(0).Add(skew - carried)
}

// skewLocked is the skew in force at mono (since ref): that of the last step observed by then.
func (c *wallClock) skewLocked(mono time.Duration) time.Duration {
	var skew time.Duration
	for _, s := range c.steps {
		if s.At > mono {
			break
		}
		skew = s.Skew
	}
	return skew
}

// windows places each window's start and end on the wall clock.
func (c *wallClock) windows(ws []slo.Window) []slo.Window {
	for i := range ws {
		ws[i].Start, ws[i].End = c.at(ws[i].Start), c.at(ws[i].End)
	}
	return ws
}

// events places each event's start and end on the wall clock.
func (c *wallClock) events(ev []reports.Event) []reports.Event {
	for i := range ev {
		ev[i].Start, ev[i].End = c.at(ev[i].Start), c.at(ev[i].End)
	}
	return ev
}

// followWallClock follows the run's wall clock from now, saying each step it sees: the run's
// windows are then placed where Prometheus stamped the samples.
func (r *runner) followWallClock() {
	r.wall = newWallClock(time.Now())
	r.wall.follow(func(s ClockStep) {
		r.log.Warn("the machine's wall clock stepped (a clock correction or a resumed virtual machine): the run's windows follow the wall clock, where Prometheus stamps its samples",
			"into_the_run", s.At.Round(time.Millisecond), "wall_clock_ahead_by", s.Skew.Round(time.Millisecond))
	})
}
