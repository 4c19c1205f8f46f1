package run

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/internal/yamlfile"
)

// HoursPerMonth turns a monthly cost into an hourly one, as OpenCost and the plan's figures do.
const HoursPerMonth = 730

// FixedCosts declares the managed services' monthly costs of a platform that does not export
// them itself (`fixed_costs:` in the run configuration, URL targets only): a dated source and
// one figure per component. The run exports each as dailydoco_fixed_hourly_cost{component,
// source="run-config"} (monthly / 730) beside the load generator's metrics, so that the cost
// objectives count them. Without it, and without the platform's own metric, they are NO_DATA.
type FixedCosts struct {
	// AsOf is when the figures were taken (YYYY-MM-DD).
	AsOf string `yaml:"as_of"`
	// Source says where they come from (an invoice, a pricing page, a budget).
	Source string `yaml:"source"`
	// MonthlyUSD maps a component (postgres, redis, cdn ...) to its monthly cost in USD.
	MonthlyUSD map[string]float64 `yaml:"monthly_usd"`
}

// check reports every problem under the field path at ("fixed_costs").
func (f *FixedCosts) check(v *yamlfile.Validator, at string) {
	if _, err := time.Parse(time.DateOnly, f.AsOf); err != nil {
		v.Fail(at+".as_of", "%q is not YYYY-MM-DD: a cost figure must say when it was taken", f.AsOf)
	}
	if f.Source == "" {
		v.Fail(at+".source", "is required: say where the figures come from")
	}
	if len(f.MonthlyUSD) == 0 {
		v.Fail(at+".monthly_usd", "at least one component's monthly cost is required")
	}
	for _, c := range f.components() {
		if x := f.MonthlyUSD[c]; !(x >= 0) || math.IsInf(x, 0) {
			v.Fail(yamlfile.Join(at+".monthly_usd", c), "must be a cost of 0 or more (got %v)", x)
		}
	}
}

func (f *FixedCosts) components() []string {
	out := make([]string, 0, len(f.MonthlyUSD))
	for c := range f.MonthlyUSD {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// collector exports the declared costs as dailydoco_fixed_hourly_cost.
func (f *FixedCosts) collector() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dailydoco_fixed_hourly_cost",
		Help: fmt.Sprintf("Managed services' hourly cost (monthly / %d), declared in the run configuration: %s, as of %s.", HoursPerMonth, f.Source, f.AsOf),
	}, []string{"component", "source"})
	for _, c := range f.components() {
		g.WithLabelValues(c, "run-config").Set(f.MonthlyUSD[c] / HoursPerMonth)
	}
	return g
}
