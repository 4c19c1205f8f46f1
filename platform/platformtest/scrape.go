package platformtest

import (
	"fmt"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics are the families one scrape returned.
type Metrics map[string]*dto.MetricFamily

// Scrape fetches http://addr/metrics.
func Scrape(addr string) (Metrics, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", addr, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// Sum adds the values of every series of name whose labels include match: counters, gauges,
// and for histograms their sample counts.
func (m Metrics) Sum(name string, match map[string]string) float64 {
	var total float64
	for _, s := range m.matching(name, match) {
		switch {
		case s.Counter != nil:
			total += s.GetCounter().GetValue()
		case s.Gauge != nil:
			total += s.GetGauge().GetValue()
		case s.Histogram != nil:
			total += float64(s.GetHistogram().GetSampleCount())
		case s.Untyped != nil:
			total += s.GetUntyped().GetValue()
		}
	}
	return total
}

// Count is the number of series of name whose labels include match.
func (m Metrics) Count(name string, match map[string]string) int {
	return len(m.matching(name, match))
}

// matching are the series of name whose labels include match.
func (m Metrics) matching(name string, match map[string]string) []*dto.Metric {
	var out []*dto.Metric
	mf := m[name]
	if mf == nil {
		return nil
	}
series:
	for _, s := range mf.GetMetric() {
		for k, v := range match {
			found := false
			for _, l := range s.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue series
			}
		}
		out = append(out, s)
	}
	return out
}

// Buckets returns the upper bounds of histogram name's first series.
func (m Metrics) Buckets(name string) []float64 {
	mf := m[name]
	if mf == nil || len(mf.GetMetric()) == 0 || mf.GetMetric()[0].Histogram == nil {
		return nil
	}
	var out []float64
	for _, b := range mf.GetMetric()[0].GetHistogram().GetBucket() {
		out = append(out, b.GetUpperBound())
	}
	return out
}

// ScrapeAll scrapes every address and merges the families (series of the same name are
// appended).
func ScrapeAll(addrs ...string) (Metrics, error) {
	out := Metrics{}
	for _, a := range addrs {
		m, err := Scrape(a)
		if err != nil {
			return nil, err
		}
		for name, mf := range m {
			if have := out[name]; have != nil {
				have.Metric = append(have.Metric, mf.Metric...)
			} else {
				out[name] = mf
			}
		}
	}
	return out, nil
}
