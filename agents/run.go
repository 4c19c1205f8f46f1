package agents

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/load"
)

// ErrNotConnected is wrapped by [Coordinator.Run] when an agent did not join and get ready in
// time, or was lost before the start: no load was sent.
var ErrNotConnected = errors.New("load agents did not all connect")

// Start waits for every agent to be ready and gives them a common start, a moment from now,
// which it returns: the run's t0. The error wraps [ErrNotConnected] when an agent did not get
// ready in time or failed (named, with its segment), or is ctx's.
func (c *Coordinator) Start(ctx context.Context) (time.Time, error) {
	if err := c.waitReady(ctx); err != nil {
		return time.Time{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.start = c.clock.Now().Add(c.cfg.StartDelay)
	close(c.started)
	c.log.Info("agents start", "at", c.start, "agents", len(c.agents))
	return c.start, nil
}

// Run starts the agents ([Coordinator.Start]) unless they were, merges their reports
// until every agent has sent its final one or is lost, and returns the merged result: the
// snapshot of every agent merged, the thresholds evaluated over it. When ctx ends, an
// abortOnFail threshold fails or an agent is lost, it tells the agents to stop and still
// waits for their final reports (each bounded by the loss timeout). The error is
// [ErrNotConnected] (wrapped, nothing ran), ctx's error, or wraps [load.ErrThresholdAbort].
// Which agents were lost, and why, is in [Coordinator.Agents]. Run may be called once.
func (c *Coordinator) Run(ctx context.Context) (*load.Result, error) {
	c.mu.Lock()
	started := !c.start.IsZero()
	c.mu.Unlock()
	if !started {
		if _, err := c.Start(ctx); err != nil {
			return nil, err
		}
	}

	tick := c.clock.NewTicker(time.Second)
	defer tick.Stop()
	interrupt := ctx.Done()
	var aborted *load.ThresholdResult
	for !c.ended() {
		select {
		case <-interrupt:
			interrupt = nil
			c.stop("the run was interrupted")
		case <-tick.C():
			c.checkSilence()
			if ab := c.advance(); ab != nil && aborted == nil {
				aborted = ab
				c.stop(fmt.Sprintf("threshold %s failed (abortOnFail)", ab.Source))
			}
		case <-c.changed:
		}
	}
	snap := c.merged(0)
	res := &load.Result{Snapshot: snap, Thresholds: c.threshold.Final(snap, snap.Elapsed), Aborted: aborted}
	if aborted != nil {
		return res, fmt.Errorf("load: %w: %s", load.ErrThresholdAbort, aborted.Source)
	}
	return res, ctx.Err()
}

// waitReady returns once every agent is ready; otherwise it refuses the run to the agents
// that are waiting and says which agents did not get ready.
func (c *Coordinator) waitReady(ctx context.Context) error {
	timeout := c.clock.NewTimer(c.cfg.ConnectTimeout)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		all, failed := true, false
		for _, st := range c.agents {
			all = all && st.phase == ready
			failed = failed || st.phase == lost
		}
		c.mu.Unlock()
		switch {
		case all:
			return nil
		case failed:
			return c.refuse("")
		}
		select {
		case <-c.changed:
		case <-timeout.C():
			return c.refuse(fmt.Sprintf(" within %s", c.cfg.ConnectTimeout))
		case <-ctx.Done():
			_ = c.refuse("")
			return ctx.Err()
		}
	}
}

// refuse tells waiting agents that the run will not start and returns the error naming each
// agent that did not get ready.
func (c *Coordinator) refuse(within string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var missing []string
	for _, st := range c.agents {
		switch st.phase {
		case ready:
		case lost:
			missing = append(missing, fmt.Sprintf("agent %d (segment %s) failed: %s", st.index, st.segment, st.reason))
		default:
			missing = append(missing, fmt.Sprintf("agent %d (segment %s) was %s", st.index, st.segment, phaseNames[st.phase]))
		}
	}
	err := fmt.Errorf("%w%s: %s", ErrNotConnected, within, strings.Join(missing, "; "))
	c.refusal = "the run did not start: " + err.Error()
	close(c.refused)
	return err
}

// stop asks every agent to stop at its next report.
func (c *Coordinator) stop(why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopWhy == "" {
		c.stopWhy = why
	}
}

// ended reports whether every agent has sent its final report or is lost.
func (c *Coordinator) ended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.agents {
		if st.phase != done && st.phase != lost {
			return false
		}
	}
	return true
}

// checkSilence declares lost every running agent that has not reported for the loss timeout.
func (c *Coordinator) checkSilence() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	for _, st := range c.agents {
		if st.phase == running && now.Sub(st.lastSeen) > c.cfg.LossTimeout {
			c.markLostLocked(st, fmt.Sprintf("no report for %s", now.Sub(st.lastSeen).Truncate(time.Second)))
		}
	}
}

// advance evaluates the windowed thresholds up to the first second some running agent has
// not closed, and returns an abortOnFail threshold that failed.
func (c *Coordinator) advance() *load.ThresholdResult {
	c.mu.Lock()
	closed, any := int64(1<<62), false
	for _, st := range c.agents {
		if st.phase == running {
			closed, any = min(closed, st.closed), true
		}
	}
	elapsed := c.clock.Since(c.start)
	c.mu.Unlock()
	if !any {
		return nil
	}
	return c.threshold.Advance(closed, elapsed, func() *load.Snapshot { return c.merged(-1) })
}

// merged merges the agents' latest snapshots: with every per-second bucket from second
// from on (0: all of them; -1: none).
func (c *Coordinator) merged(from int64) *load.Snapshot {
	c.mu.Lock()
	var parts []load.Snapshot
	for _, st := range c.agents {
		if st.snap == nil {
			continue
		}
		p := *st.snap
		// The buckets are copied here: the agent's next report writes into them.
		switch {
		case from < 0 || int64(len(p.Buckets)) <= from:
			p.Buckets = nil
		default:
			p.Buckets = slices.Clone(p.Buckets[from:])
		}
		parts = append(parts, p)
	}
	c.mu.Unlock()
	out := &load.Snapshot{Schema: load.SnapshotSchema}
	for i := range parts {
		out.Merge(&parts[i])
	}
	return out
}

// Live is the merged live view: the agents' VUs and totals, and the request rate, error rate
// and p95 over the last seconds, as one generator would show them.
func (c *Coordinator) Live() load.Live {
	c.mu.Lock()
	start := c.start
	c.mu.Unlock()
	if start.IsZero() {
		return load.Live{}
	}
	elapsed := max(c.clock.Since(start), 0)
	from := max(int64(elapsed/time.Second)-load.LiveWindow-1, 0) // 0: every bucket, a few at the start
	return load.LiveOf(c.merged(from), elapsed)
}

// Status is one agent's part of the run.
type Status struct {
	Index   int
	Segment string
	Host    string
	PID     int
	// State is "done", "lost", or where a lost run left it ("running", "not connected").
	State  string
	Reason string        // why it was lost
	LostAt time.Duration // from the start, when it was lost during the load
	// What it measured, from its last report.
	Requests, Failed, Iterations, Dropped uint64
	VUsMax                                int64
}

// Agents returns every agent's status, in index order.
func (c *Coordinator) Agents() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Status, 0, len(c.agents))
	for _, st := range c.agents {
		s := Status{Index: st.index, Segment: st.segment, Host: st.hello.Host, PID: st.hello.PID, State: phaseNames[st.phase],
			Reason: st.reason, LostAt: st.lostAt}
		if st.snap != nil {
			s.Requests, s.Failed = st.snap.Rate(load.MetricReqFailed, nil)
			s.Iterations = uint64(st.snap.Counter(load.MetricIterations, nil))
			s.Dropped = uint64(st.snap.Counter(load.MetricDroppedIterations, nil))
			s.VUsMax = st.snap.VUsMax
		}
		out = append(out, s)
	}
	return out
}
