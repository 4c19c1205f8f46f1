package load

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Snapshot is the state of a run's metrics at one moment: every series with its full HDR
// histogram (encoded, V2 compressed, so JSON stays small), the scenario counters, the per-stage
// statistics and the per-second buckets. Snapshots serialise to JSON and [Snapshot.Merge]
// exactly: merging the snapshots of several generators gives the same histograms and counts as
// one generator that saw every sample (distributed runs).
type Snapshot struct {
	Schema    string        `json:"schema"`
	StartedAt time.Time     `json:"started_at"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	// VUs are the VUs running when it was taken, VUsMax the most initialised at once;
	// DataSent and DataReceived are wire bytes.
	VUs          int64            `json:"vus,omitempty"`
	VUsMax       int64            `json:"vus_max"`
	DataSent     uint64           `json:"data_sent"`
	DataReceived uint64           `json:"data_received"`
	Series       []SeriesSnapshot `json:"series"`
	// CustomSeries are the custom metrics' series (k6/metrics).
	CustomSeries []CustomSnapshot   `json:"custom,omitempty"`
	Scenarios    []ScenarioSnapshot `json:"scenarios"`
	Buckets      []TimeBucket       `json:"buckets"`
}

// SnapshotSchema names the JSON layout of [Snapshot].
const SnapshotSchema = "ddp-verify/load-snapshot/v1"

// SeriesSnapshot is one metric series. Histogram values are microseconds.
type SeriesSnapshot struct {
	Metric  string            `json:"metric"`
	Tags    map[string]string `json:"tags,omitempty"`
	Count   uint64            `json:"count"`
	Failed  uint64            `json:"failed,omitempty"`
	Sum     int64             `json:"sum"` // ns for trends
	Hist    []byte            `json:"hdr,omitempty"`
	Buckets []uint64          `json:"prom_buckets,omitempty"` // cumulative, for PromBuckets
	Reasons map[string]uint64 `json:"error_reasons,omitempty"`
	decoded *hdr.Histogram
}

// ScenarioSnapshot holds a scenario's counters and per-stage statistics.
type ScenarioSnapshot struct {
	Name        string `json:"name"`
	Iterations  uint64 `json:"iterations"`
	Interrupted uint64 `json:"interrupted"`
	Failed      uint64 `json:"failed"`
	Dropped     uint64 `json:"dropped"`
	// Backoffs counts the waits of VUs after failed iterations ([FailureBackoff]) and
	// BackoffSeconds how long they lasted in all.
	Backoffs       uint64          `json:"backoffs,omitempty"`
	BackoffSeconds float64         `json:"backoff_seconds,omitempty"`
	Stages         []StageSnapshot `json:"stages"`
}

// StageSnapshot is the statistics of one stage of a scenario (stage i spans the scenario's
// i-th stage; non-staged executors have one stage). Latency values are milliseconds.
type StageSnapshot struct {
	Index       int     `json:"index"`
	End         string  `json:"end"` // offset from the engine start
	Requests    uint64  `json:"requests"`
	Failed      uint64  `json:"failed"`
	Iterations  uint64  `json:"iterations"`
	Interrupted uint64  `json:"interrupted"`
	Dropped     uint64  `json:"dropped"`
	P50         float64 `json:"p50_ms"`
	P95         float64 `json:"p95_ms"`
	P99         float64 `json:"p99_ms"`
	Hist        []byte  `json:"hdr,omitempty"`
}

// TimeBucket is one second of the run, for charts. Percentiles (ms) cover requests that ended
// in that second; VUs is the count at the second's tick.
type TimeBucket struct {
	Second      int64   `json:"second"`
	Requests    uint64  `json:"requests"`
	Errors      uint64  `json:"errors"`
	Iterations  uint64  `json:"iterations"`
	Interrupted uint64  `json:"interrupted"`
	Dropped     uint64  `json:"dropped"`
	VUs         int64   `json:"vus"`
	P50         float64 `json:"p50_ms"`
	P95         float64 `json:"p95_ms"`
	P99         float64 `json:"p99_ms"`
	Hist        []byte  `json:"hdr,omitempty"`
}

func usToMs(us int64) float64 { return float64(us) / 1000 }

func encode(h *hdr.Histogram) []byte {
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		panic(fmt.Sprintf("load: encode histogram: %v", err)) // only fails on a broken writer
	}
	return b
}

func decode(b []byte) *hdr.Histogram { return decodeOr(b, newHist) }

// decodeOr decodes an encoded histogram, or returns empty() when there is none (or it does
// not decode).
func decodeOr(b []byte, empty func() *hdr.Histogram) *hdr.Histogram {
	if len(b) == 0 {
		return empty()
	}
	h, err := hdr.Decode(b)
	if err != nil {
		return empty()
	}
	return h
}

func (b *TimeBucket) setLatency(h *hdr.Histogram) {
	b.P50, b.P95, b.P99 = usToMs(h.ValueAtQuantile(50)), usToMs(h.ValueAtQuantile(95)), usToMs(h.ValueAtQuantile(99))
	b.Hist = encode(h)
}

func (st *StageSnapshot) setLatency(h *hdr.Histogram) {
	st.P50, st.P95, st.P99 = usToMs(h.ValueAtQuantile(50)), usToMs(h.ValueAtQuantile(95)), usToMs(h.ValueAtQuantile(99))
	st.Hist = encode(h)
}

func (k seriesKey) tags() map[string]string {
	m := decodeTags(k.Tags)
	for _, kv := range [...][2]string{{"scenario", k.Scenario}, {"step", k.Step}, {"method", k.Method}, {"status", k.Status}} {
		if kv[1] != "" {
			m[kv[0]] = kv[1]
		}
	}
	return m
}

// Key returns the series' identity: metric and tags, in the k6 form metric{k:v,...}.
func (s *SeriesSnapshot) Key() string {
	keys := slices.Sorted(maps.Keys(s.Tags))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + s.Tags[k]
	}
	return s.Metric + "{" + strings.Join(parts, ",") + "}"
}

// Histogram returns the decoded HDR histogram (µs); it is cached, do not modify it.
func (s *SeriesSnapshot) Histogram() *hdr.Histogram {
	if s.decoded == nil {
		s.decoded = decode(s.Hist)
	}
	return s.decoded
}

// snapshot copies the store. The per-second buckets still open are included with their
// current percentiles.
func (s *store) snapshot(start time.Time, elapsed time.Duration) *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := &Snapshot{Schema: SnapshotSchema, StartedAt: start, Elapsed: elapsed, CustomSeries: s.customSnapshots(start)}
	for _, se := range s.series {
		ss := SeriesSnapshot{Metric: se.key.Metric, Tags: se.key.tags(), Count: se.count, Failed: se.failed, Sum: se.sum}
		if se.hist != nil {
			ss.Hist = encode(se.hist)
		}
		if se.buckets != nil {
			ss.Buckets = slices.Clone(se.buckets)
		}
		if len(se.reasons) > 0 {
			ss.Reasons = maps.Clone(se.reasons)
		}
		snap.Series = append(snap.Series, ss)
	}
	for _, name := range s.order {
		sc := s.scens[name]
		ss := ScenarioSnapshot{Name: name, Iterations: sc.iterations, Interrupted: sc.interrupted, Failed: sc.failed, Dropped: sc.dropped,
			Backoffs: sc.backoffs, BackoffSeconds: sc.backoffWait.Seconds()}
		for i, st := range sc.stages {
			sst := StageSnapshot{Index: i, End: sc.bounds[i].String()}
			if st != nil {
				sst.Requests, sst.Failed, sst.Iterations, sst.Interrupted, sst.Dropped = st.requests, st.failed, st.iterations, st.interrupted, st.dropped
				if st.hist.TotalCount() > 0 {
					sst.setLatency(st.hist)
				}
			}
			ss.Stages = append(ss.Stages, sst)
		}
		snap.Scenarios = append(snap.Scenarios, ss)
	}
	snap.Buckets = slices.Clone(s.buckets)
	for i := range snap.Buckets {
		b := &snap.Buckets[i]
		if b.Second >= s.closed {
			if slot := s.ring[b.Second%ringSize]; slot.sec == b.Second && slot.hist.TotalCount() > 0 {
				b.setLatency(slot.hist)
			}
		}
	}
	return snap
}

// Merge adds o into s: series with the same metric and tags have their histograms, counts,
// sums, Prometheus buckets and error reasons added; scenarios and stages are matched by name
// and index; buckets by second (VUs add up, as generators run side by side). Elapsed becomes
// the longer of the two and StartedAt the earlier. The result equals the snapshot of one
// generator fed every sample.
func (s *Snapshot) Merge(o *Snapshot) {
	if s.Schema == "" {
		s.Schema = SnapshotSchema
	}
	if s.StartedAt.IsZero() || (!o.StartedAt.IsZero() && o.StartedAt.Before(s.StartedAt)) {
		s.StartedAt = o.StartedAt
	}
	s.Elapsed = max(s.Elapsed, o.Elapsed)
	s.VUs += o.VUs
	s.VUsMax += o.VUsMax
	s.DataSent += o.DataSent
	s.DataReceived += o.DataReceived
	idx := map[string]int{}
	for i := range s.Series {
		idx[s.Series[i].Key()] = i
	}
	for _, os := range o.Series {
		i, ok := idx[os.Key()]
		if !ok {
			c := os
			c.Tags = maps.Clone(os.Tags)
			c.Buckets = slices.Clone(os.Buckets)
			c.Reasons = maps.Clone(os.Reasons)
			c.decoded = nil
			s.Series = append(s.Series, c)
			idx[os.Key()] = len(s.Series) - 1
			continue
		}
		ss := &s.Series[i]
		ss.Count += os.Count
		ss.Failed += os.Failed
		ss.Sum += os.Sum
		if ss.Hist != nil || os.Hist != nil {
			h := decode(ss.Hist)
			h.Merge(decode(os.Hist))
			ss.Hist, ss.decoded = encode(h), nil
		}
		for j := range os.Buckets {
			if j < len(ss.Buckets) {
				ss.Buckets[j] += os.Buckets[j]
			}
		}
		for r, n := range os.Reasons {
			if ss.Reasons == nil {
				ss.Reasons = map[string]uint64{}
			}
			ss.Reasons[r] += n
		}
	}
	s.CustomSeries = mergeCustom(s.CustomSeries, o.CustomSeries)
	for _, osc := range o.Scenarios {
		i := slices.IndexFunc(s.Scenarios, func(sc ScenarioSnapshot) bool { return sc.Name == osc.Name })
		if i < 0 {
			c := osc
			c.Stages = slices.Clone(osc.Stages)
			s.Scenarios = append(s.Scenarios, c)
			continue
		}
		sc := &s.Scenarios[i]
		sc.Iterations += osc.Iterations
		sc.Interrupted += osc.Interrupted
		sc.Failed += osc.Failed
		sc.Dropped += osc.Dropped
		sc.Backoffs += osc.Backoffs
		sc.BackoffSeconds += osc.BackoffSeconds
		for j, ost := range osc.Stages {
			if j >= len(sc.Stages) {
				sc.Stages = append(sc.Stages, ost)
				continue
			}
			st := &sc.Stages[j]
			st.Requests += ost.Requests
			st.Failed += ost.Failed
			st.Iterations += ost.Iterations
			st.Interrupted += ost.Interrupted
			st.Dropped += ost.Dropped
			if st.Hist != nil || ost.Hist != nil {
				h := decode(st.Hist)
				h.Merge(decode(ost.Hist))
				st.setLatency(h)
			}
		}
	}
	for _, ob := range o.Buckets {
		for int64(len(s.Buckets)) <= ob.Second {
			s.Buckets = append(s.Buckets, TimeBucket{Second: int64(len(s.Buckets))})
		}
		b := &s.Buckets[ob.Second]
		b.Requests += ob.Requests
		b.Errors += ob.Errors
		b.Iterations += ob.Iterations
		b.Interrupted += ob.Interrupted
		b.Dropped += ob.Dropped
		b.VUs += ob.VUs
		if b.Hist != nil || ob.Hist != nil {
			h := decode(b.Hist)
			h.Merge(decode(ob.Hist))
			b.setLatency(h)
		}
	}
}

// TrendStats summarises a trend in milliseconds.
type TrendStats struct {
	Count uint64  `json:"count"`
	Avg   float64 `json:"avg_ms"`
	Min   float64 `json:"min_ms"`
	Med   float64 `json:"med_ms"`
	Max   float64 `json:"max_ms"`
	P90   float64 `json:"p90_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
}

// Filter selects series by tag; an empty value matches only series without that tag.
type Filter map[string]string

func (f Filter) match(tags map[string]string) bool {
	for k, v := range f {
		if tags[k] != v {
			return false
		}
	}
	return true
}

// Trend merges every series of metric that matches f and returns its histogram (µs), exact
// count and exact sum (ns).
func (s *Snapshot) Trend(metric string, f Filter) (h *hdr.Histogram, count uint64, sumNs int64) {
	h = newHist()
	for i := range s.Series {
		se := &s.Series[i]
		if se.Metric == metric && f.match(se.Tags) {
			h.Merge(se.Histogram())
			count += se.Count
			sumNs += se.Sum
		}
	}
	return h, count, sumNs
}

// TrendStats returns [TrendStats] for metric over the series matching f. Avg is exact (from
// the exact sum); the others come from the HDR histogram.
func (s *Snapshot) TrendStats(metric string, f Filter) TrendStats {
	h, n, sum := s.Trend(metric, f)
	if n == 0 {
		return TrendStats{}
	}
	return TrendStats{
		Count: n, Avg: float64(sum) / float64(n) / 1e6,
		Min: usToMs(h.Min()), Max: usToMs(h.Max()), Med: usToMs(h.ValueAtQuantile(50)),
		P90: usToMs(h.ValueAtQuantile(90)), P95: usToMs(h.ValueAtQuantile(95)), P99: usToMs(h.ValueAtQuantile(99)),
	}
}

// Rate returns how many samples of a rate-like metric matched f and how many of them were
// "true" (for http_req_failed: failed requests; for checks: failed checks counted apart, see
// [Snapshot.Checks]).
func (s *Snapshot) Rate(metric string, f Filter) (total, failed uint64) {
	src := metric
	if metric == MetricReqFailed {
		src = MetricReqDuration
	}
	for i := range s.Series {
		se := &s.Series[i]
		if se.Metric == src && f.match(se.Tags) {
			total += se.Count
			failed += se.Failed
		}
	}
	return total, failed
}

// Counter returns the value of a counter metric over the series matching f: http_reqs,
// iterations, iterations_interrupted, iterations_failed, dropped_iterations (filtered by
// scenario), data_sent, data_received.
func (s *Snapshot) Counter(metric string, f Filter) float64 {
	switch metric {
	case MetricReqs:
		n, _ := s.Rate(MetricReqDuration, f)
		return float64(n)
	case MetricIterations, MetricIterInterrupted, MetricIterFailed, MetricDroppedIterations:
		var n uint64
		for _, sc := range s.Scenarios {
			if !f.match(map[string]string{"scenario": sc.Name}) {
				continue
			}
			switch metric {
			case MetricIterations:
				n += sc.Iterations
			case MetricIterInterrupted:
				n += sc.Interrupted
			case MetricIterFailed:
				n += sc.Failed
			default:
				n += sc.Dropped
			}
		}
		return float64(n)
	}
	switch metric {
	case MetricDataSent:
		return float64(s.DataSent)
	case MetricDataReceived:
		return float64(s.DataReceived)
	}
	var sum int64
	for i := range s.Series {
		se := &s.Series[i]
		if se.Metric == metric && f.match(se.Tags) {
			if se.Hist != nil {
				sum += int64(se.Count)
			} else {
				sum += se.Sum
			}
		}
	}
	return float64(sum)
}

// Requests returns the total requests and failed requests.
func (s *Snapshot) Requests() (total, failed uint64) { return s.Rate(MetricReqDuration, nil) }
