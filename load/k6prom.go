package load

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// K6TrendStats are the statistics the k6-named collector exports for each trend, as gauges
// named k6_<metric>_<stat> (k6's Prometheus remote-write output maps trends so; its default
// is p99 alone).
var K6TrendStats = []float64{95, 99}

// K6Collector returns a prometheus.Collector with the run's metrics under the names k6's
// Prometheus remote-write output gives them, beside [Engine.Collector]'s ddp_client_* series:
// the k6_ prefix; counters k6_<metric>_total, rates k6_<metric>_rate, gauges k6_<metric>,
// trends k6_<metric>_p95 and _p99 (seconds for time trends). Labels are k6's tags: scenario,
// name (the request's step), method and status on the http_req_* metrics, check on checks,
// group on group_duration ("::NAME"), and a custom metric's own tags (names made valid for
// Prometheus; a tag a series lacks is empty). It reads the engine at scrape time and is an
// unchecked collector (its metric names depend on the script's custom metrics).
func (e *Engine) K6Collector() prometheus.Collector { return k6Collector{e} }

type k6Collector struct{ e *Engine }

func (k6Collector) Describe(chan<- *prometheus.Desc) {}

// k6Point is one sample of a k6-named family.
type k6Point struct {
	labels map[string]string
	value  float64
}

// k6Family is one k6-named metric: its type and samples.
type k6Family struct {
	kind   prometheus.ValueType
	points []k6Point
}

type k6Families map[string]*k6Family

func (f k6Families) add(name string, kind prometheus.ValueType, labels map[string]string, v float64) {
	fam := f[name]
	if fam == nil {
		fam = &k6Family{kind: kind}
		f[name] = fam
	}
	fam.points = append(fam.points, k6Point{labels, v})
}

func (c k6Collector) Collect(ch chan<- prometheus.Metric) {
	e := c.e
	f := k6Families{}
	f.add("k6_vus", prometheus.GaugeValue, nil, float64(e.vus.Load()))
	f.add("k6_vus_max", prometheus.GaugeValue, nil, float64(e.vusMax.Load()))
	f.add("k6_data_sent_total", prometheus.CounterValue, nil, float64(e.sent.Load()))
	f.add("k6_data_received_total", prometheus.CounterValue, nil, float64(e.recv.Load()))
	st := e.store
	st.mu.Lock()
	for _, se := range st.series {
		c.builtIn(f, se)
	}
	for _, name := range st.order {
		sc := st.scens[name]
		labels := map[string]string{"scenario": name}
		f.add("k6_iterations_total", prometheus.CounterValue, labels, float64(sc.iterations))
		f.add("k6_dropped_iterations_total", prometheus.CounterValue, labels, float64(sc.dropped))
	}
	for _, k := range st.customOrder {
		c.custom(f, st.custom[k])
	}
	st.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(f)) {
		f[name].emit(ch, name)
	}
}

// builtIn adds one of the engine's series under k6's names.
func (k6Collector) builtIn(f k6Families, se *series) {
	k := se.key
	labels := map[string]string{}
	for t, v := range decodeTags(k.Tags) {
		labels[promLabel(t)] = v
	}
	labels["scenario"] = k.Scenario
	switch {
	case k.Metric == MetricChecks:
		labels["check"] = k.Step
		if se.count > 0 {
			f.add("k6_checks_rate", prometheus.GaugeValue, labels, float64(se.count-se.failed)/float64(se.count))
		}
		return
	case strings.HasPrefix(k.Metric, "http_req"):
		labels["name"] = k.Step
		if k.Method != "" {
			labels["method"], labels["status"] = k.Method, k.Status
		}
	case k.Metric == MetricGroupDuration:
		labels["group"] = "::" + k.Step
	case k.Step != "":
		labels["step"] = k.Step
	}
	if k.Metric == MetricReqDuration {
		f.add("k6_http_reqs_total", prometheus.CounterValue, labels, float64(se.count))
		if se.count > 0 {
			f.add("k6_http_req_failed_rate", prometheus.GaugeValue, labels, float64(se.failed)/float64(se.count))
		}
	}
	if se.hist == nil || se.hist.TotalCount() == 0 {
		return
	}
	for _, q := range K6TrendStats {
		f.add("k6_"+k.Metric+"_"+statName(q), prometheus.GaugeValue, labels, float64(se.hist.ValueAtQuantile(q))/1e6)
	}
}

// custom adds one custom metric's series under k6's names.
func (k6Collector) custom(f k6Families, se *customSeries) {
	labels := map[string]string{}
	for k, v := range se.tags {
		labels[promLabel(k)] = v
	}
	name := "k6_" + se.m.Name
	switch se.m.Kind {
	case CustomCounter:
		f.add(name+"_total", prometheus.CounterValue, labels, se.sum)
	case CustomGauge:
		f.add(name, prometheus.GaugeValue, labels, se.last)
	case CustomRate:
		f.add(name+"_rate", prometheus.GaugeValue, labels, float64(se.nonZero)/float64(se.count))
	case CustomTrend:
		unit := float64(customScale)
		if se.m.IsTime {
			unit *= 1000 // ms to s
		}
		for _, q := range K6TrendStats {
			f.add(name+"_"+statName(q), prometheus.GaugeValue, labels, float64(se.hist.ValueAtQuantile(q))/unit)
		}
	}
}

// emit sends the family's samples, each with every label the family has (empty where a
// sample lacks it: Prometheus wants one label set per family).
func (fam *k6Family) emit(ch chan<- prometheus.Metric, name string) {
	set := map[string]bool{}
	for _, p := range fam.points {
		for k := range p.labels {
			set[k] = true
		}
	}
	names := slices.Sorted(maps.Keys(set))
	desc := prometheus.NewDesc(name, "k6's "+name+" (ddp-verify's engine, k6's names).", names, nil)
	seen := map[string]bool{}
	for _, p := range fam.points {
		values := make([]string, len(names))
		for i, n := range names {
			values[i] = p.labels[n]
		}
		// Two tags that read as one label name would make one series twice, which would fail
		// the whole scrape: the first is kept.
		if id := strings.Join(values, "\x00"); !seen[id] {
			seen[id] = true
			ch <- prometheus.MustNewConstMetric(desc, fam.kind, p.value, values...)
		}
	}
}

// statName is k6's name of a percentile stat: p95, p99, p999 for 99.9.
func statName(q float64) string {
	return "p" + strings.ReplaceAll(strconv.FormatFloat(q, 'f', -1, 64), ".", "")
}

// promLabel makes a tag name a valid Prometheus label name: characters other than letters,
// digits and _ become _, and a leading digit gets a _ before it.
func promLabel(tag string) string {
	b := []byte(tag)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] >= '0' && b[0] <= '9' {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}
