package cluster

import (
	"log/slog"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

// The Ready condition at explicit times, as Kubernetes keeps it: a node stays Ready until the
// grace period has passed since its last heartbeat (a kill changes its state at once, not its
// Ready condition), and turns NotReady the instant after. The real-process tests see the same
// transition, but only a fake time can pin it to the grace period on a busy machine, where
// heartbeats themselves arrive late.
func TestReadyUntilTheGracePeriodPassesWithoutHeartbeats(t *testing.T) {
	topo := topology.Default()
	topo.Timing.NodeGracePeriod = topology.Duration(time.Second)
	grace := topo.Timing.NodeGracePeriod.D()
	c := &Cluster{topo: topo, log: slog.New(slog.DiscardHandler)}
	beat := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		fault     string
		at        time.Duration // after the last heartbeat
		wantReady bool
		wantState string
	}{
		{"just after a heartbeat", "", 0, true, StateReady},
		{"at the grace period", "", grace, true, StateReady},
		{"past the grace period", "", grace + 1, false, StateNotReady},
		{"killed, within the grace period", faultKill, grace / 2, true, StateKilled},
		{"killed, at the grace period", faultKill, grace, true, StateKilled},
		{"killed, past the grace period", faultKill, grace + 1, false, StateKilled},
		{"partitioned, past the grace period", faultPartition, grace + 1, false, StatePartitioned},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := &nodeState{lastHeartbeat: beat, ready: true, state: StateReady, since: beat, fault: tc.fault}
			now := beat.Add(tc.at)
			c.refresh(ns, now)
			if ns.ready != tc.wantReady || ns.state != tc.wantState {
				t.Fatalf("ready %v state %s, want %v %s", ns.ready, ns.state, tc.wantReady, tc.wantState)
			}
			if !tc.wantReady && !ns.notReadyAt.Equal(now) {
				t.Errorf("notReadyAt %v, want %v", ns.notReadyAt, now)
			}
			if tc.wantState != StateReady && !ns.since.Equal(now) {
				t.Errorf("since %v, want the state change at %v", ns.since, now)
			}
		})
	}
}
