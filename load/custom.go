package load

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// CustomKind is the kind of a custom metric, as k6/metrics has them.
type CustomKind string

// Custom metric kinds: a counter sums its values, a gauge keeps the last (and the smallest and
// largest), a rate is the share of its values that are not zero, a trend keeps their
// distribution.
const (
	CustomCounter CustomKind = "counter"
	CustomGauge   CustomKind = "gauge"
	CustomRate    CustomKind = "rate"
	CustomTrend   CustomKind = "trend"
)

// CustomMetric is a metric a scenario declares and records itself (k6/metrics' Counter,
// Gauge, Rate and Trend). IsTime marks values in milliseconds (shown as durations).
type CustomMetric struct {
	Name   string
	Kind   CustomKind
	IsTime bool
}

// customNameRE is k6's rule for metric names.
var customNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,127}$`)

// builtInMetrics are the engine's own metric names, which a custom metric may not take.
var builtInMetrics = []string{MetricReqDuration, MetricReqBlocked, MetricReqConnecting, MetricReqTLS, MetricReqSending,
	MetricReqWaiting, MetricReqReceiving, MetricReqs, MetricReqFailed, MetricIterDuration, MetricIterResponseTime,
	MetricIterLateness, MetricIterations, MetricIterInterrupted, MetricIterFailed, MetricDroppedIterations, MetricChecks,
	MetricDataReceived, MetricDataSent, MetricGroupDuration, "vus", "vus_max"}

// MetricGroupDuration is the trend of k6's group durations.
const MetricGroupDuration = "group_duration"

// NewCustomMetric checks a custom metric's declaration: k6's name rule, not a built-in name,
// a known kind.
func NewCustomMetric(name string, kind CustomKind, isTime bool) (CustomMetric, error) {
	switch {
	case !customNameRE.MatchString(name):
		return CustomMetric{}, fmt.Errorf("metric name %q: want letters, digits and _, not starting with a digit, at most 128", name)
	case slices.Contains(builtInMetrics, name):
		return CustomMetric{}, fmt.Errorf("metric name %q is a built-in metric's", name)
	}
	switch kind {
	case CustomCounter, CustomGauge, CustomRate, CustomTrend:
	default:
		return CustomMetric{}, fmt.Errorf("metric %s: unknown kind %q", name, kind)
	}
	return CustomMetric{Name: name, Kind: kind, IsTime: isTime}, nil
}

// Aggregations are the threshold aggregations a custom metric of this kind has (k6's).
func (k CustomKind) Aggregations() []string {
	switch k {
	case CustomCounter:
		return []string{"count", "rate"}
	case CustomGauge:
		return []string{"value"}
	case CustomRate:
		return []string{"rate"}
	}
	return []string{"avg", "min", "max", "med", "p"}
}

// customScale is how a trend value is kept in its histogram: in thousandths, from 0.001 to
// 1e12 with 3 significant digits (a time trend's milliseconds are then microseconds, as the
// built-in trends keep them).
const (
	customScale    = 1000
	customHistHigh = 1e15
)

func newCustomHist() *hdr.Histogram { return hdr.New(1, customHistHigh, hdrDigits) }

// errCustomValue explains a value a custom metric cannot take.
var errCustomValue = errors.New("want a finite number")

// AddMetric records value in the custom metric m with tags (beside the VU's scenario), as
// k6's Counter.add, Gauge.add, Rate.add and Trend.add do. A trend's value must be from 0 to
// 1e12 (its histogram's range).
func (vu *VU) AddMetric(m CustomMetric, value float64, tags map[string]string) error {
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return fmt.Errorf("%s: %v: %w", m.Name, value, errCustomValue)
	}
	if m.Kind == CustomTrend && (value < 0 || value > customHistHigh/customScale) {
		return fmt.Errorf("%s: %v is outside a trend's range here (0 to 1e12)", m.Name, value)
	}
	vu.rec.addCustom(customSample{t: vu.eng.elapsed(), m: m, scenario: vu.scenario, tags: encodeTags(tags), v: value})
	return nil
}

// customSample is one value of a custom metric, buffered by a VU.
type customSample struct {
	t        time.Duration
	m        CustomMetric
	scenario string
	tags     string // encodeTags
	v        float64
}

type customKey struct{ name, scenario, tags string }

// customSeries accumulates one custom metric's values for one scenario and set of tags.
type customSeries struct {
	m              CustomMetric
	tags           map[string]string // the scenario's and the sample's
	count, nonZero uint64
	sum            float64
	min, max, last float64
	lastAt         time.Duration
	hist           *hdr.Histogram // trends
}

func (s *store) applyCustom(sm *customSample) {
	k := customKey{sm.m.Name, sm.scenario, sm.tags}
	se := s.custom[k]
	if se == nil {
		tags := decodeTags(sm.tags)
		tags["scenario"] = sm.scenario
		se = &customSeries{m: sm.m, tags: tags, min: math.Inf(1), max: math.Inf(-1)}
		if sm.m.Kind == CustomTrend {
			se.hist = newCustomHist()
		}
		if s.custom == nil {
			s.custom = map[customKey]*customSeries{}
		}
		s.custom[k] = se
		s.customOrder = append(s.customOrder, k)
	}
	se.count++
	se.sum += sm.v
	if sm.v != 0 {
		se.nonZero++
	}
	se.min, se.max = math.Min(se.min, sm.v), math.Max(se.max, sm.v)
	if sm.t >= se.lastAt {
		se.last, se.lastAt = sm.v, sm.t
	}
	if se.hist != nil {
		_ = se.hist.RecordValue(max(int64(math.Round(sm.v*customScale)), 1))
	}
}

// encodeTags is a canonical form of tags (sorted name=value pairs), a map key.
func encodeTags(tags map[string]string) string {
	if len(tags) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(tags))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(tags[k])
		b.WriteByte(0)
	}
	return b.String()
}

func decodeTags(s string) map[string]string {
	tags := map[string]string{}
	parts := strings.Split(s, "\x00")
	for i := 0; i+1 < len(parts); i += 2 {
		tags[parts[i]] = parts[i+1]
	}
	return tags
}

// CustomSnapshot is one custom metric's series in a [Snapshot]: its kind, tags (scenario
// included) and aggregates; a trend's histogram holds its values in thousandths.
type CustomSnapshot struct {
	Metric  string            `json:"metric"`
	Kind    CustomKind        `json:"kind"`
	IsTime  bool              `json:"is_time,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
	Count   uint64            `json:"count"`
	NonZero uint64            `json:"non_zero"`
	Sum     float64           `json:"sum"`
	Min     float64           `json:"min"`
	Max     float64           `json:"max"`
	Last    float64           `json:"last"`
	// LastAt is when Last was recorded (wall clock: generators' snapshots merge by it).
	LastAt time.Time `json:"last_at"`
	Hist   []byte    `json:"hdr,omitempty"`
}

func (c *CustomSnapshot) key() string { return c.Metric + "\x00" + encodeTags(c.Tags) }

func (s *store) customSnapshots(start time.Time) []CustomSnapshot {
	out := make([]CustomSnapshot, 0, len(s.customOrder))
	for _, k := range s.customOrder {
		se := s.custom[k]
		cs := CustomSnapshot{Metric: se.m.Name, Kind: se.m.Kind, IsTime: se.m.IsTime, Tags: maps.Clone(se.tags), Count: se.count,
			NonZero: se.nonZero, Sum: se.sum, Min: se.min, Max: se.max, Last: se.last, LastAt: start.Add(se.lastAt)}
		if se.hist != nil {
			cs.Hist = encode(se.hist)
		}
		out = append(out, cs)
	}
	return out
}

// mergeCustom adds o's custom series to s's (see [CustomSnapshot.absorb]).
func mergeCustom(s, o []CustomSnapshot) []CustomSnapshot {
	idx := map[string]int{}
	for i := range s {
		idx[s[i].key()] = i
	}
	for _, oc := range o {
		i, ok := idx[oc.key()]
		if !ok {
			c := oc
			c.Tags = maps.Clone(oc.Tags)
			s = append(s, c)
			idx[oc.key()] = len(s) - 1
			continue
		}
		s[i].absorb(&oc)
	}
	return s
}

// absorb adds o's values to c's: counts and sums add, the extremes combine, the last value is
// the later one, histograms merge.
func (c *CustomSnapshot) absorb(o *CustomSnapshot) {
	c.Count += o.Count
	c.NonZero += o.NonZero
	c.Sum += o.Sum
	c.Min, c.Max = math.Min(c.Min, o.Min), math.Max(c.Max, o.Max)
	if !o.LastAt.Before(c.LastAt) {
		c.Last, c.LastAt = o.Last, o.LastAt
	}
	if c.Hist != nil || o.Hist != nil {
		h := decodeCustom(c.Hist)
		h.Merge(decodeCustom(o.Hist))
		c.Hist = encode(h)
	}
}

func decodeCustom(b []byte) *hdr.Histogram { return decodeOr(b, newCustomHist) }

// CustomAggregate is a custom metric's series that match a filter, together.
type CustomAggregate struct {
	Kind                CustomKind
	IsTime              bool
	Count, NonZero      uint64
	Sum, Min, Max, Last float64
	hist                *hdr.Histogram
}

// Custom aggregates the series of the custom metric name that match f; ok is false when the
// snapshot has no such series.
func (s *Snapshot) Custom(name string, f Filter) (CustomAggregate, bool) {
	acc := CustomSnapshot{Min: math.Inf(1), Max: math.Inf(-1)}
	found := false
	for i := range s.CustomSeries {
		c := &s.CustomSeries[i]
		if c.Metric != name {
			continue
		}
		found = true
		acc.Kind, acc.IsTime = c.Kind, c.IsTime
		if f.match(c.Tags) {
			acc.absorb(c)
		}
	}
	a := CustomAggregate{Kind: acc.Kind, IsTime: acc.IsTime, Count: acc.Count, NonZero: acc.NonZero, Sum: acc.Sum,
		Min: acc.Min, Max: acc.Max, Last: acc.Last}
	if acc.Hist != nil {
		a.hist = decodeCustom(acc.Hist)
	}
	return a, found
}

// Quantile is a trend's value at quantile q (0..100).
func (a CustomAggregate) Quantile(q float64) float64 {
	if a.hist == nil {
		return math.NaN()
	}
	return float64(a.hist.ValueAtQuantile(q)) / customScale
}

// value is the aggregation agg (a threshold's) of a; ok is false when a has no samples.
func (a CustomAggregate) value(agg string, p float64, elapsed time.Duration) (v float64, ok bool) {
	if a.Count == 0 {
		return 0, false
	}
	switch agg {
	case "count":
		return a.Sum, true // a counter's count is its total, as in k6
	case "rate":
		if a.Kind == CustomRate {
			return float64(a.NonZero) / float64(a.Count), true
		}
		return a.Sum / math.Max(elapsed.Seconds(), 1e-9), true
	case "value":
		return a.Last, true
	case "avg":
		return a.Sum / float64(a.Count), true
	case "min":
		return a.Min, true
	case "max":
		return a.Max, true
	case "med":
		return a.Quantile(50), true
	case "p":
		return a.Quantile(p), true
	}
	return 0, false
}

// SortedCustomNames are the custom metrics' names in a snapshot, sorted.
func (s *Snapshot) SortedCustomNames() []string {
	var names []string
	for _, c := range s.CustomSeries {
		if !slices.Contains(names, c.Metric) {
			names = append(names, c.Metric)
		}
	}
	sort.Strings(names)
	return names
}
