package load

import (
	"fmt"
	"sync"
	"time"
)

// This file holds what a coordinator needs to run one test over several generators, each
// running its execution segment: the seconds of the windowed thresholds, which the generators
// send and the coordinator merges ([MergedThresholds]), and the live view of merged snapshots
// ([LiveOf]).

// WindowSecond is one second of one windowed threshold's samples on one generator: how many
// samples matched, how many of them failed, the counter total, the sum and the histogram (µs).
// Added together over the generators they are the second as one generator fed every sample
// would have seen it.
type WindowSecond struct {
	// Threshold is the threshold's index in the run's threshold list.
	Threshold int    `json:"threshold"`
	Second    int64  `json:"second"`
	Count     uint64 `json:"count"`
	Failed    uint64 `json:"failed,omitempty"`
	N         int64  `json:"n,omitempty"`
	SumNs     int64  `json:"sum_ns,omitempty"`
	Hist      []byte `json:"hdr,omitempty"`
}

// WindowSeconds closes the seconds no sample can reach any more and returns, for every
// windowed threshold, its closed seconds after second after, with closed, the first second
// still open. A generator that calls it every second, and sends what it returns on, loses
// no second: the sinks hold a few seconds beyond their window. A second the sinks no longer
// hold is an error, as the merged evaluation would miss it.
func (e *Engine) WindowSeconds(after int64) ([]WindowSecond, int64, error) {
	if e.started.Load() {
		e.store.advance(e.elapsed())
	}
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	closed := e.store.closed
	var out []WindowSecond
	for i, ts := range e.thState {
		if ts.sink == nil {
			continue
		}
		for sec := max(after+1, 0); sec < closed; sec++ {
			ws, ok := ts.sink.second(i, sec)
			if !ok {
				if ts.sink.slots[sec%int64(len(ts.sink.slots))].sec > sec {
					return nil, closed, fmt.Errorf("load: threshold %s: second %d was overwritten before it was sent", ts.th.Source, sec)
				}
				continue // no sample in that second
			}
			out = append(out, ws)
		}
	}
	return out, closed, nil
}

// mergeSpare is how many seconds beyond their windows a coordinator's sinks hold: how far
// apart its generators' reports may be.
const mergeSpare = 120

// MergedThresholds evaluates a run's thresholds over the data of several generators that
// each ran a segment of it: the windowed ones over the generators' seconds added together
// ([Engine.WindowSeconds]), the others over the merged snapshot ([Snapshot.Merge]). The
// results are those of one generator that saw every sample. Safe for concurrent use.
type MergedThresholds struct {
	mu     sync.Mutex
	set    thresholdSet
	closed int64 // seconds before it were evaluated
}

// NewMergedThresholds returns the evaluator of ths, in the generators' order.
func NewMergedThresholds(ths []Threshold) *MergedThresholds {
	return &MergedThresholds{set: newThresholdSet(ths, mergeSpare)}
}

// Add adds one generator's seconds. A second older than the evaluator holds (a generator
// more than two minutes behind the others) or of an unknown threshold is an error.
func (m *MergedThresholds) Add(seconds []WindowSecond) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ws := range seconds {
		if ws.Threshold < 0 || ws.Threshold >= len(m.set) || m.set[ws.Threshold].sink == nil {
			return fmt.Errorf("load: a generator sent the seconds of threshold %d, which is not a windowed threshold of the run", ws.Threshold)
		}
		ts := m.set[ws.Threshold]
		if ws.Second < m.closed {
			return fmt.Errorf("load: threshold %s: second %d arrived after its windows were evaluated", ts.th.Source, ws.Second)
		}
		if !ts.sink.addSecond(ws) {
			return fmt.Errorf("load: threshold %s: second %d arrived too late to be merged", ts.th.Source, ws.Second)
		}
	}
	return nil
}

// Advance evaluates the windows that end before second closed (every generator has sent
// every second before it) and returns the first abortOnFail threshold that failed once
// elapsed is past its delayAbortEval; snapshot is the merged snapshot, asked for only when
// a whole-run abortOnFail threshold needs it.
func (m *MergedThresholds) Advance(closed int64, elapsed time.Duration, snapshot func() *Snapshot) *ThresholdResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set.advance(closed)
	m.closed = max(m.closed, closed)
	return m.set.abort(elapsed, snapshot)
}

// Final evaluates every threshold at the end of a run that lasted end, over the merged
// snapshot of every generator.
func (m *MergedThresholds) Final(snap *Snapshot, end time.Duration) []ThresholdResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set.final(snap, end)
}

// LiveOf is the live view ([Engine.Live]) of a snapshot taken at elapsed, for instance the
// merged snapshot of several generators: VUs now, totals so far, and the request rate, error
// rate and p95 over the last LiveWindow whole seconds.
func LiveOf(s *Snapshot, elapsed time.Duration) Live {
	l := Live{Elapsed: elapsed, VUs: s.VUs, VUsMax: s.VUsMax}
	for i := range s.Series {
		if s.Series[i].Metric == MetricReqDuration {
			l.Requests += s.Series[i].Count
		}
	}
	for _, sc := range s.Scenarios {
		l.Iterations += sc.Iterations
		l.Dropped += sc.Dropped
	}
	now := int64(elapsed / time.Second)
	from, to := max(now-LiveWindow, 0), now
	span := float64(to - from)
	if to == from {
		to, span = now+1, max(elapsed.Seconds(), 1e-3)
	}
	h := newHist()
	var req, errs uint64
	for sec := from; sec < to && sec < int64(len(s.Buckets)); sec++ {
		b := &s.Buckets[sec]
		req += b.Requests
		errs += b.Errors
		if len(b.Hist) > 0 {
			h.Merge(decode(b.Hist))
		}
	}
	l.RPS = float64(req) / span
	if req > 0 {
		l.ErrorRate = float64(errs) / float64(req)
	}
	l.P95 = time.Duration(h.ValueAtQuantile(95)) * time.Microsecond
	return l
}
