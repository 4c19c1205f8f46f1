package cost

import (
	"math"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestExporter(t *testing.T) {
	nodes := []Node{
		{Name: "gpu-1a-1", InstanceType: "g4dn.xlarge", Zone: "us-east-1a", Pool: "gpu"},
		{Name: "general-1a-1", InstanceType: "m5.2xlarge", Zone: "us-east-1a", Pool: "general"},
	}
	list := func() []Node { return nodes }
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(Prices, PlanFixedCosts, list))

	want := `
# HELP node_gpu_count Number of GPUs of the node (OpenCost).
# TYPE node_gpu_count gauge
node_gpu_count{instance_type="g4dn.xlarge",node="gpu-1a-1",pool="gpu",region="us-east-1",zone="us-east-1a"} 1
node_gpu_count{instance_type="m5.2xlarge",node="general-1a-1",pool="general",region="us-east-1",zone="us-east-1a"} 0
# HELP node_total_hourly_cost Total hourly cost of the node in USD (OpenCost).
# TYPE node_total_hourly_cost gauge
node_total_hourly_cost{instance_type="g4dn.xlarge",node="gpu-1a-1",pool="gpu",region="us-east-1",zone="us-east-1a"} 0.526
node_total_hourly_cost{instance_type="m5.2xlarge",node="general-1a-1",pool="general",region="us-east-1",zone="us-east-1a"} 0.384
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "node_total_hourly_cost", "node_gpu_count"); err != nil {
		t.Error(err)
	}

	// The managed services add up to the plan's monthly budget less compute: $7,800.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var fixed float64
	for _, mf := range mfs {
		if mf.GetName() == "dailydoco_fixed_hourly_cost" {
			for _, m := range mf.GetMetric() {
				fixed += m.GetGauge().GetValue()
			}
		}
	}
	if math.Abs(fixed*HoursPerMonth-7800) > 1e-6 {
		t.Errorf("fixed costs add up to $%.2f/month, want $7,800", fixed*HoursPerMonth)
	}

	nodes = nodes[1:] // the node is removed: it costs nothing from the next scrape
	if n := testutil.CollectAndCount(New(Prices, nil, list), "node_total_hourly_cost"); n != 1 {
		t.Errorf("after removing a node: %d cost series, want 1", n)
	}
}

func TestCheck(t *testing.T) {
	if err := Prices.Check("m5.2xlarge", "g4dn.xlarge", "r5.2xlarge"); err != nil {
		t.Error(err)
	}
	if err := Prices.Check("p5.48xlarge"); err == nil || !strings.Contains(err.Error(), "p5.48xlarge") {
		t.Errorf("err = %v", err)
	}
}

// The price_factor defect multiplies every instance's price and GPU share; the managed
// services' fixed costs and the table it was made from are unchanged, and factors 0 and 1
// change nothing.
func TestScaled(t *testing.T) {
	nodes := func() []Node {
		return []Node{{Name: "gpu-1a-1", InstanceType: "g4dn.xlarge", Zone: "us-east-1a", Pool: "gpu"}}
	}
	for _, tc := range []struct {
		factor, want float64
	}{{0, 1}, {1, 1}, {3, 3}, {100, 100}} {
		scaled := Prices.Scaled(tc.factor)
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(New(scaled, PlanFixedCosts, nodes))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				got[mf.GetName()] += m.GetGauge().GetValue()
			}
		}
		if w := tc.want * 0.526; math.Abs(got["node_total_hourly_cost"]-w) > 1e-9 {
			t.Errorf("factor %v: node_total_hourly_cost %v, want %v", tc.factor, got["node_total_hourly_cost"], w)
		}
		if w := tc.want * (0.526 - 0.192); math.Abs(got["node_gpu_hourly_cost"]-w) > 1e-9 {
			t.Errorf("factor %v: node_gpu_hourly_cost %v, want %v", tc.factor, got["node_gpu_hourly_cost"], w)
		}
		if math.Abs(got["dailydoco_fixed_hourly_cost"]*HoursPerMonth-7800) > 1e-6 {
			t.Errorf("factor %v: fixed costs $%.2f/month, want $7,800 whatever the factor", tc.factor, got["dailydoco_fixed_hourly_cost"]*HoursPerMonth)
		}
		if tc.want != 1 && !strings.Contains(scaled.Source, "defect price_factor") {
			t.Errorf("factor %v: source %q does not say the prices were scaled", tc.factor, scaled.Source)
		}
	}
	if Prices.Instances["g4dn.xlarge"].Hourly != 0.526 {
		t.Errorf("Scaled changed the table it was called on: %+v", Prices.Instances["g4dn.xlarge"])
	}
}
