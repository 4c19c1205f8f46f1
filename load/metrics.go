package load

import (
	"sort"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Built-in metric names (k6's, plus the coordinated-omission pair for arrival-rate executors).
const (
	MetricReqDuration       = "http_req_duration" // sending+waiting+receiving, as k6
	MetricReqBlocked        = "http_req_blocked"
	MetricReqConnecting     = "http_req_connecting"
	MetricReqTLS            = "http_req_tls_handshaking"
	MetricReqSending        = "http_req_sending"
	MetricReqWaiting        = "http_req_waiting" // time to first byte
	MetricReqReceiving      = "http_req_receiving"
	MetricReqs              = "http_reqs"       // counter, derived from http_req_duration
	MetricReqFailed         = "http_req_failed" // rate, derived from http_req_duration
	MetricIterDuration      = "iteration_duration"
	MetricIterResponseTime  = "iteration_response_time" // end − intended start (arrival-rate)
	MetricIterLateness      = "iteration_lateness"      // actual − intended start (arrival-rate)
	MetricIterations        = "iterations"
	MetricIterInterrupted   = "iterations_interrupted"
	MetricIterFailed        = "iterations_failed"
	MetricDroppedIterations = "dropped_iterations"
	MetricChecks            = "checks"
	MetricDataReceived      = "data_received"
	MetricDataSent          = "data_sent"
)

// HDR geometry: 1 µs to 60 s, 3 significant digits. Values are recorded in microseconds.
const (
	hdrLow    = 1
	hdrHigh   = 60_000_000
	hdrDigits = 3
)

func newHist() *hdr.Histogram { return hdr.New(hdrLow, hdrHigh, hdrDigits) }

func toMicros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	return min(max(us, 0), hdrHigh)
}

// PromBuckets are the upper bounds, in seconds, of ddp_client_request_duration_seconds: they
// hold 0.1 exactly and are dense around it so the "p95 < 100 ms" objective is decided exactly
// from the le="0.1" bucket.
var PromBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.06, 0.07, 0.08, 0.09, 0.095,
	0.1, 0.105, 0.11, 0.125, 0.15, 0.2, 0.25, 0.3, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60}

var promBucketsNs = func() []time.Duration {
	out := make([]time.Duration, len(PromBuckets))
	for i, b := range PromBuckets {
		out[i] = time.Duration(b*1e6+0.5) * time.Microsecond
	}
	return out
}()

type metricKind uint8

const (
	kindTrend metricKind = iota
	kindRate
	kindCounter
)

// seriesKey identifies a series: a metric and its tags. Unused tags are empty; Tags holds a
// scenario's own tags (k6's request, check and option tags) in encodeTags form.
type seriesKey struct {
	Metric, Scenario, Step, Method, Status string
	Tags                                   string
}

// series accumulates one seriesKey. Trends keep an HDR histogram (µs) plus exact count and sum;
// http_req_duration also keeps exact Prometheus bucket counts and error reasons; rates keep
// count and failed; counters keep count.
type series struct {
	key     seriesKey
	kind    metricKind
	hist    *hdr.Histogram
	count   uint64
	failed  uint64
	sum     int64 // ns for trends, units for counters
	buckets []uint64
	reasons map[string]uint64
	scen    *scenarioStats
	sinks   []*windowSink
}

type sampleKind uint8

const (
	sTrend sampleKind = iota
	sRequest
	sIteration
	sRate
	sCounter
)

// sample is what a VU buffers: the series (interned id), the time it happened (elapsed since
// the engine's start), its value and, for requests and iterations, the outcome.
type sample struct {
	t      time.Duration
	v      int64
	id     int32
	kind   sampleKind
	failed bool // request or check failed, iteration returned an error
	intr   bool // iteration interrupted
	reason string
}

// scenarioStats holds a scenario's counters and per-stage statistics.
type scenarioStats struct {
	name        string
	bounds      []time.Duration // absolute end offsets of its stages
	iterations  uint64
	interrupted uint64
	failed      uint64
	dropped     uint64
	backoffs    uint64        // failure backoffs begun
	backoffWait time.Duration // how long they lasted
	stages      []*stageStats
}

type stageStats struct {
	requests, failed, iterations, interrupted, dropped uint64
	hist                                               *hdr.Histogram
}

func (sc *scenarioStats) stage(t time.Duration) *stageStats {
	i := sort.Search(len(sc.bounds), func(i int) bool { return t < sc.bounds[i] })
	if i >= len(sc.stages) {
		i = len(sc.stages) - 1
	}
	st := sc.stages[i]
	if st == nil {
		st = &stageStats{hist: newHist()}
		sc.stages[i] = st
	}
	return st
}

// ringSize is how many recent seconds keep a full histogram (for per-second percentiles and
// the live p95); closeLag is how long a second stays open for samples still in VU buffers.
const (
	ringSize = 8
	closeLag = 3
)

type ringSlot struct {
	sec  int64
	hist *hdr.Histogram
}

// store is the single sink of all samples. VUs never touch it per sample: they buffer samples
// and hand over a batch under one lock acquisition (see recorder). Per-VU histograms would cost
// ~136 KiB each (1 µs..60 s at 3 digits), far over the per-VU memory budget, so batching to one
// owner is the constant-memory way to "record per worker, merge".
type store struct {
	mu      sync.Mutex
	ids     map[seriesKey]int32
	series  []*series
	scens   map[string]*scenarioStats
	order   []string
	buckets []TimeBucket // index = second
	ring    [ringSize]ringSlot
	closed  int64 // seconds < closed are closed
	vus     map[string]int64
	sinks   []*windowSink

	custom      map[customKey]*customSeries
	customOrder []customKey
}

func newStore() *store {
	s := &store{ids: map[seriesKey]int32{}, scens: map[string]*scenarioStats{}, vus: map[string]int64{}}
	for i := range s.ring {
		s.ring[i] = ringSlot{sec: -1, hist: newHist()}
	}
	return s
}

// addScenario registers a scenario and its stage boundaries (absolute offsets).
func (s *store) addScenario(name string, start time.Duration, stages []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := &scenarioStats{name: name}
	off := start
	for _, d := range stages {
		off += d
		sc.bounds = append(sc.bounds, off)
	}
	if len(sc.bounds) == 0 {
		sc.bounds = []time.Duration{off}
	}
	sc.stages = make([]*stageStats, len(sc.bounds))
	s.scens[name] = sc
	s.order = append(s.order, name)
}

func kindOf(metric string) metricKind {
	switch metric {
	case MetricChecks:
		return kindRate
	case MetricDataReceived, MetricDataSent:
		return kindCounter
	}
	return kindTrend
}

// id interns a series key.
func (s *store) id(k seriesKey) int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idLocked(k)
}

func (s *store) idLocked(k seriesKey) int32 {
	if id, ok := s.ids[k]; ok {
		return id
	}
	se := &series{key: k, kind: kindOf(k.Metric), scen: s.scens[k.Scenario]}
	if se.kind == kindTrend {
		se.hist = newHist()
	}
	if k.Metric == MetricReqDuration {
		se.buckets = make([]uint64, len(promBucketsNs))
		se.reasons = map[string]uint64{}
	}
	for _, w := range s.sinks {
		if w.matches(k) {
			se.sinks = append(se.sinks, w)
		}
	}
	id := int32(len(s.series))
	s.series = append(s.series, se)
	s.ids[k] = id
	return id
}

func (s *store) bucket(sec int64) *TimeBucket {
	for int64(len(s.buckets)) <= sec {
		s.buckets = append(s.buckets, TimeBucket{Second: int64(len(s.buckets))})
	}
	return &s.buckets[sec]
}

// ringHist returns the open histogram of second sec, or nil when that second has left the ring.
func (s *store) ringHist(sec int64) *hdr.Histogram {
	slot := &s.ring[sec%ringSize]
	if slot.sec == sec {
		return slot.hist
	}
	if slot.sec > sec || sec < s.closed {
		return nil
	}
	if slot.sec >= 0 && slot.sec >= s.closed {
		s.closeLocked(slot.sec + 1) // keep order: the slot's old second closes first
	}
	slot.sec = sec
	slot.hist.Reset()
	return slot.hist
}

func (s *store) apply(batch []sample, custom []customSample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range batch {
		s.applyLocked(&batch[i])
	}
	for i := range custom {
		s.applyCustom(&custom[i])
	}
}

func (s *store) applyLocked(sm *sample) {
	se := s.series[sm.id]
	sec := max(int64(sm.t/time.Second), 0)
	switch sm.kind {
	case sTrend, sRequest, sIteration:
		us := toMicros(time.Duration(sm.v))
		if sm.intr {
			break // interrupted iterations are counted apart, not timed
		}
		_ = se.hist.RecordValue(us)
		se.count++
		se.sum += sm.v
		if sm.failed {
			se.failed++
		}
		for _, w := range se.sinks {
			w.add(sec, us, sm.failed)
		}
	case sRate:
		se.count++
		if sm.failed {
			se.failed++
		}
		for _, w := range se.sinks {
			w.add(sec, 0, sm.failed)
		}
	case sCounter:
		se.count++
		se.sum += sm.v
		for _, w := range se.sinks {
			w.addN(sec, sm.v)
		}
	}
	switch sm.kind {
	case sRequest:
		d := time.Duration(sm.v)
		for i, le := range promBucketsNs {
			if d <= le {
				se.buckets[i]++
			}
		}
		if sm.failed {
			se.reasons[sm.reason]++
		}
		b := s.bucket(sec)
		b.Requests++
		if sm.failed {
			b.Errors++
		}
		if h := s.ringHist(sec); h != nil {
			_ = h.RecordValue(toMicros(d))
		}
		if se.scen != nil {
			st := se.scen.stage(sm.t)
			st.requests++
			if sm.failed {
				st.failed++
			}
			_ = st.hist.RecordValue(toMicros(d))
		}
	case sIteration:
		b := s.bucket(sec)
		if sc := se.scen; sc != nil {
			st := sc.stage(sm.t)
			switch {
			case sm.intr:
				sc.interrupted++
				st.interrupted++
				b.Interrupted++
			default:
				sc.iterations++
				st.iterations++
				b.Iterations++
				if sm.failed {
					sc.failed++
				}
			}
		}
	}
}

func (s *store) addDropped(scen string, t time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scens[scen]
	sc.dropped++
	sc.stage(t).dropped++
	s.bucket(max(int64(t/time.Second), 0)).Dropped++
	for _, w := range s.sinks {
		if w.matches(seriesKey{Metric: MetricDroppedIterations, Scenario: scen}) {
			w.addN(int64(t/time.Second), 1)
		}
	}
}

// addBackoff counts one failure backoff of a VU of scen that lasted d.
func (s *store) addBackoff(scen string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scens[scen]
	sc.backoffs++
	sc.backoffWait += d
}

func (s *store) setVUs(scen string, n int64) {
	s.mu.Lock()
	s.vus[scen] = n
	s.mu.Unlock()
}

func (s *store) totalVUsLocked() int64 {
	var n int64
	for _, v := range s.vus {
		n += v
	}
	return n
}

// advance is called once a second with the elapsed time: it records the VU count and closes
// seconds older than closeLag.
func (s *store) advance(t time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := int64(t / time.Second)
	b := s.bucket(sec)
	b.VUs = max(b.VUs, s.totalVUsLocked())
	s.closeLocked(sec - closeLag + 1)
}

// closeLocked closes every second below upTo: computes its percentiles from the ring and
// stores its histogram encoded, so the bucket merges exactly later.
func (s *store) closeLocked(upTo int64) {
	for ; s.closed < upTo; s.closed++ {
		sec := s.closed
		b := s.bucket(sec)
		slot := &s.ring[sec%ringSize]
		if slot.sec != sec || slot.hist.TotalCount() == 0 {
			continue
		}
		b.setLatency(slot.hist)
	}
}
