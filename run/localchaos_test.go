package run

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/chaos/local"
	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
)

// The chaos engine against the real reference platform (its processes and control API): a node
// failure and a zone power loss are injected and recovered, every time is recorded, and the
// platform is back to full health afterwards. It lives here because this package's TestMain
// already lets the test binary act as the platform's processes.
func TestLocalChaosOnTheReferencePlatform(t *testing.T) {
	topo := platformtest.Topology()
	topo.DataTier.Zone = "us-east-1b" // the zone fault below takes the data tier down too
	c := platformtest.Start(t, topo)
	backend, err := local.New(c.ControlURL(), c.ControlToken(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	faults := []chaos.Fault{
		{ID: "general-node", Kind: chaos.NodeFailure, At: 0, Duration: 2 * time.Second, Target: chaos.Target{Pool: "general", Count: 1}},
		{ID: "zone-b", Kind: chaos.ZoneOutage, At: 3 * time.Second, Duration: 2 * time.Second, Target: chaos.Target{Zone: "us-east-1b", Mode: chaos.PowerLoss}},
	}
	results, err := chaos.NewScheduler(backend, faults).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("%d results", len(results))
	}
	for _, r := range results {
		if r.Error != "" || len(r.Targets) == 0 {
			t.Errorf("fault %s: targets %v, error %q", r.Fault.ID, r.Targets, r.Error)
		}
		for name, st := range map[string]chaos.Stamp{"injected": r.Injected, "recovery requested": r.RecoveryRequested, "recovered": r.Recovered} {
			if st.Tool.IsZero() || st.Backend.IsZero() {
				t.Errorf("fault %s: %s time not recorded by both sides: %+v", r.Fault.ID, name, st)
			}
		}
		if !r.Recovered.Tool.After(r.Injected.Tool) {
			t.Errorf("fault %s recovered at %s, before its injection at %s", r.Fault.ID, r.Recovered.Tool, r.Injected.Tool)
		}
	}
	dataTierDown := false
	for _, ch := range c.Changes() {
		if ch.Action == "power-loss" && slices.Contains(ch.Targets, cluster.RoleDataTier) {
			dataTierDown = true
		}
	}
	if !dataTierDown {
		t.Errorf("the zone's power loss did not take down the data tier placed in it: %+v", c.Changes())
	}
	zone := results[1]
	if len(zone.Targets) < 2 {
		t.Errorf("zone power loss hit %v; us-east-1b holds a general, a GPU and a memory node", zone.Targets)
	}
	// Back to full health: every node Ready again and the gateway ready.
	deadline := time.Now().Add(60 * time.Second)
	for {
		notReady := 0
		for _, n := range c.Nodes() {
			if n.State != cluster.StateReady {
				notReady++
			}
		}
		resp, err := http.Get(c.GatewayURL() + "/ready")
		if err == nil {
			resp.Body.Close()
		}
		if notReady == 0 && err == nil && resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("platform not back to full health: %d nodes not Ready, gateway %v", notReady, err)
		}
		time.Sleep(200 * time.Millisecond) // polling interval, with the deadline above
	}
}
