// Package cost is the reference platform's cost exporter: OpenCost-compatible per-node hourly
// prices from a dated price table, plus the deployment plan's managed services as fixed hourly
// costs. It reads the list of running nodes from whoever owns it (the supervisor) at every
// scrape, so nodes added or removed by the autoscaler cost from the moment they exist.
package cost

import (
	"fmt"
	"maps"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

// HoursPerMonth converts monthly prices to hourly ones, as AWS and OpenCost do.
const HoursPerMonth = 730.0

// InstancePrice is the on-demand price of one instance type.
type InstancePrice struct {
	Hourly float64 // USD per hour, Linux on-demand
	GPUs   int
	// GPUHourly is the price of one GPU: the instance's price less that of the general-purpose
	// instance with the same vCPUs and memory (OpenCost splits node cost the same way).
	GPUHourly float64
}

// PriceTable is a dated list of instance prices in one region.
type PriceTable struct {
	Date      string // the date the prices were taken (YYYY-MM-DD)
	Region    string
	Source    string
	Instances map[string]InstancePrice
}

// Prices is the table the exporter uses by default.
var Prices = PriceTable{
	Date:   "2026-11-27",
	Region: "us-east-1",
	Source: "AWS EC2 on-demand, Linux, us-east-1 (issue 3); GPU share = price - m5 of the same size",
	Instances: map[string]InstancePrice{
		"m5.xlarge":    {Hourly: 0.192},
		"m5.2xlarge":   {Hourly: 0.384},
		"m5.4xlarge":   {Hourly: 0.768},
		"g4dn.xlarge":  {Hourly: 0.526, GPUs: 1, GPUHourly: 0.526 - 0.192},
		"g4dn.2xlarge": {Hourly: 0.752, GPUs: 1, GPUHourly: 0.752 - 0.384},
		"r5.xlarge":    {Hourly: 0.252},
		"r5.2xlarge":   {Hourly: 0.504},
	},
}

// TopologyPrices is the exporter's table for a topology: the built-in dated one, with the
// topology's prices (and their date and source) over it when it has any.
func TopologyPrices(t *topology.Topology) PriceTable {
	if t.Prices == nil {
		return Prices
	}
	pt := PriceTable{Date: t.Prices.Date, Region: t.Region, Source: t.Prices.Source, Instances: maps.Clone(Prices.Instances)}
	if pt.Source == "" {
		pt.Source = "topology " + t.Name
	}
	for name, ip := range t.Prices.Instances {
		pt.Instances[name] = InstancePrice{Hourly: ip.Hourly, GPUs: topology.InstanceTypes[name].GPUs, GPUHourly: ip.GPUHourly}
	}
	return pt
}

// Scaled returns p with every instance's hourly price and GPU share multiplied by factor:
// the price_factor defect of the gate-mutation suite (topology.Defects), which makes every
// node dearer whatever table is in use. Factor 0 (unset) or 1 returns p itself; p is never
// changed.
func (p PriceTable) Scaled(factor float64) PriceTable {
	if factor == 0 || factor == 1 {
		return p
	}
	out := p
	out.Source = fmt.Sprintf("%s; every price x%g (defect price_factor)", p.Source, factor)
	out.Instances = make(map[string]InstancePrice, len(p.Instances))
	for name, ip := range p.Instances {
		ip.Hourly *= factor
		ip.GPUHourly *= factor
		out.Instances[name] = ip
	}
	return out
}

// FixedCost is a managed service of the plan's monthly budget.
type FixedCost struct {
	Component string
	Monthly   float64 // USD
}

// PlanFixedCosts are the deployment plan's managed services ("Monthly Infrastructure Costs"):
// everything but the Kubernetes nodes, which the exporter prices per node.
var PlanFixedCosts = []FixedCost{
	{"database", 1500},     // PostgreSQL multi-AZ
	{"cache", 500},         // Redis
	{"storage", 2500},      // S3 $2,000 + backups $500
	{"cdn", 1000},          // CloudFront
	{"load_balancer", 200}, // ALB
	{"nat", 300},           // NAT gateways
	{"monitoring", 1300},   // logs $500 + metrics $300 + APM $500
	{"security", 500},      // WAF $200 + certificates $100 + scanning $200
}

// Node is one running node as the exporter prices it.
type Node struct {
	Name, InstanceType, Zone, Pool string
}

// Exporter is a prometheus.Collector of cost metrics. Create it with [New].
type Exporter struct {
	prices PriceTable
	fixed  []FixedCost
	nodes  func() []Node

	total, gpu, gpuCount, fixedDesc, info *prometheus.Desc
}

var _ prometheus.Collector = (*Exporter)(nil)

// New returns an exporter pricing the nodes that nodes returns at each scrape. Every instance
// type must be in prices.
func New(prices PriceTable, fixed []FixedCost, nodes func() []Node) *Exporter {
	labels := []string{"node", "instance_type", "zone", "pool", "region"}
	return &Exporter{
		prices: prices, fixed: fixed, nodes: nodes,
		total:     prometheus.NewDesc("node_total_hourly_cost", "Total hourly cost of the node in USD (OpenCost).", labels, nil),
		gpu:       prometheus.NewDesc("node_gpu_hourly_cost", "Hourly cost of one GPU of the node in USD (OpenCost).", labels, nil),
		gpuCount:  prometheus.NewDesc("node_gpu_count", "Number of GPUs of the node (OpenCost).", labels, nil),
		fixedDesc: prometheus.NewDesc("dailydoco_fixed_hourly_cost", "Hourly cost of a managed service of the plan in USD (monthly / 730).", []string{"component"}, nil),
		info:      prometheus.NewDesc("dailydoco_price_table_info", "The price table in use.", []string{"date", "region"}, nil),
	}
}

// Check reports instance types the table lacks.
func (p PriceTable) Check(types ...string) error {
	var missing []string
	for _, t := range types {
		if _, ok := p.Instances[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("price table %s has no price for %v", p.Date, missing)
	}
	return nil
}

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{e.total, e.gpu, e.gpuCount, e.fixedDesc, e.info} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	for _, n := range e.nodes() {
		p := e.prices.Instances[n.InstanceType]
		lv := []string{n.Name, n.InstanceType, n.Zone, n.Pool, e.prices.Region}
		ch <- prometheus.MustNewConstMetric(e.total, prometheus.GaugeValue, p.Hourly, lv...)
		ch <- prometheus.MustNewConstMetric(e.gpu, prometheus.GaugeValue, p.GPUHourly, lv...)
		ch <- prometheus.MustNewConstMetric(e.gpuCount, prometheus.GaugeValue, float64(p.GPUs), lv...)
	}
	for _, f := range e.fixed {
		ch <- prometheus.MustNewConstMetric(e.fixedDesc, prometheus.GaugeValue, f.Monthly/HoursPerMonth, f.Component)
	}
	ch <- prometheus.MustNewConstMetric(e.info, prometheus.GaugeValue, 1, e.prices.Date, e.prices.Region)
}
