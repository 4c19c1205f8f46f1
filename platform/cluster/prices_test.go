package cluster_test

import (
	"math"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// A topology's price table overrides the built-in prices it lists; the others keep theirs.
func TestTopologyPricesOverrideTheBuiltInTable(t *testing.T) {
	t.Parallel()
	topo := platformtest.Topology()
	topo.Prices = &topology.Prices{Date: "2026-11-01", Source: "test discount",
		Instances: map[string]topology.InstancePrice{"m5.2xlarge": {Hourly: 0.25}}}
	c := platformtest.Start(t, topo)
	m := scrapeRole(t, c, "supervisor", "")
	general := m.Sum("node_total_hourly_cost", map[string]string{"instance_type": "m5.2xlarge"})
	gpu := m.Sum("node_total_hourly_cost", map[string]string{"instance_type": "g4dn.xlarge"})
	if math.Abs(general-3*0.25) > 1e-9 {
		t.Errorf("three general nodes cost %v/h, want 0.75 from the topology's price", general)
	}
	if math.Abs(gpu-2*0.526) > 1e-9 {
		t.Errorf("two GPU nodes cost %v/h, want the built-in 1.052", gpu)
	}
}

func TestTopologyPricesAreValidated(t *testing.T) {
	t.Parallel()
	_, err := topology.Parse("prices.yaml", append(topology.DefaultYAML(), []byte("prices:\n  date: soon\n  instances: {m5.2xlarge: {hourly: -1}}\n")...))
	if err == nil {
		t.Fatal("a bad price table was accepted")
	}
	for _, want := range []string{"prices.date", `prices.instances["m5.2xlarge"]`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
