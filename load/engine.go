package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"github.com/dailydoco/ddp-verify/http1"
)

// ErrThresholdAbort is returned (wrapped) by [Engine.Run] when a threshold with abortOnFail
// failed and the engine stopped early.
var ErrThresholdAbort = errors.New("aborted by a failed threshold")

// ErrTestAborted is returned (wrapped, with the reason) by [Engine.Run] when a scenario
// aborted the test ([VU.AbortTest], k6's test.abort()).
var ErrTestAborted = errors.New("aborted by the test")

// Engine runs scenarios side by side and aggregates their metrics. Build it with [NewEngine],
// run it once with [Engine.Run]; [Engine.Live], [Engine.Snapshot] and [Engine.Collector] may be
// called from other goroutines at any time.
type Engine struct {
	scenarios  []ScenarioConfig
	clock      clock.WithTicker
	log        *slog.Logger
	http       HTTPOptions
	thresholds []Threshold
	timeScale  float64
	seed       uint64
	segment    Segment
	vuFirst    int64 // the first VU's id; 0 means 1
	vuStep     int64 // between consecutive VUs' ids; 0 means 1

	store      *store
	t0         time.Time
	started    atomic.Bool
	running    atomic.Bool
	vus        atomic.Int64
	vusMax     atomic.Int64
	nextID     atomic.Int64
	sent, recv atomic.Uint64
	trOnce     sync.Once
	transports []*http.Transport
	leanMu     sync.Mutex
	leans      []*http1.Transport
	abortOnce  sync.Once
	abortCh    chan struct{}
	abortWhy   atomic.Pointer[ThresholdResult]
	abortTest  atomic.Pointer[string] // the reason a scenario gave
	thState    thresholdSet
}

// Option configures an [Engine].
type Option func(*Engine)

// WithClock sets the clock (default the real one). Tests pass a fake clock so that schedules
// are exact.
func WithClock(c clock.WithTicker) Option { return func(e *Engine) { e.clock = c } }

// WithLogger sets the logger (default discards).
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithHTTP sets the HTTP transport options.
func WithHTTP(o HTTPOptions) Option { return func(e *Engine) { e.http = o } }

// WithThresholds sets the thresholds, evaluated every second during the run (abortOnFail) and
// at its end.
func WithThresholds(t ...Threshold) Option {
	return func(e *Engine) { e.thresholds = append(e.thresholds, t...) }
}

// WithTimeScale multiplies every scenario's startTime and stage/duration values by f (see
// [ScenarioConfig.Scaled]).
func WithTimeScale(f float64) Option { return func(e *Engine) { e.timeScale = f } }

// WithSegment makes the engine run only its segment of every scenario (k6's execution
// segments, [Segment]): generators that run the segments of one sequence together run the
// whole test, no unit twice and none missing.
func WithSegment(s Segment) Option { return func(e *Engine) { e.segment = s } }

// WithVUIDs numbers the VUs first, first+step, first+2·step, ... instead of 1, 2, 3, ...:
// generator i (0-based) of n that run one test numbers them from i+1 by n, so that no two of
// the test's VUs share an id (ids choose accounts and client addresses).
func WithVUIDs(first, step int64) Option {
	return func(e *Engine) { e.vuFirst, e.vuStep = first, step }
}

// vuID is the id of the n-th VU (1-based) the engine starts.
func (e *Engine) vuID(n int64) int64 {
	first, step := max(e.vuFirst, 1), max(e.vuStep, 1)
	return first + (n-1)*step
}

// WithSeed sets the seed of the VUs' random sources.
func WithSeed(s uint64) Option { return func(e *Engine) { e.seed = s } }

// NewEngine validates the scenarios and returns an engine that has not started. Every problem
// in every scenario is reported (errors.Join).
func NewEngine(scenarios []ScenarioConfig, opts ...Option) (*Engine, error) {
	e := &Engine{clock: clock.RealClock{}, log: slog.New(slog.DiscardHandler), timeScale: 1, seed: 1, abortCh: make(chan struct{})}
	for _, o := range opts {
		o(e)
	}
	var errs []error
	if len(scenarios) == 0 {
		errs = append(errs, errors.New("no scenario"))
	}
	seen := map[string]bool{}
	for _, sc := range scenarios {
		if err := sc.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[sc.Name] {
			errs = append(errs, fmt.Errorf("scenario %q: name used twice", sc.Name))
		}
		seen[sc.Name] = true
		sc.Executor = seededArrivals(sc.Executor, e.seed)
		if err := e.segment.covers(sc); err != nil {
			errs = append(errs, err)
			continue
		}
		e.scenarios = append(e.scenarios, sc.Scaled(e.timeScale))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// The store must know the scenarios and thresholds before any series is created, because
	// each series binds to its scenario's stages and to the windowed thresholds it feeds.
	e.store = newStore()
	for _, sc := range e.scenarios {
		e.store.addScenario(sc.Name, sc.StartTime, stageDurations(sc.Executor))
	}
	e.thState = newThresholdSet(e.thresholds, 0)
	e.store.sinks = e.thState.sinks()
	return e, nil
}

// seededArrivals gives Poisson arrivals without a seed of their own the engine's seed, so that
// a run's --seed also draws its arrival times.
func seededArrivals(ex Executor, seed uint64) Executor {
	switch x := ex.(type) {
	case ConstantArrivalRate:
		if x.Poisson && x.Seed == 0 {
			x.Seed = seed
		}
		return x
	case RampingArrivalRate:
		if x.Poisson && x.Seed == 0 {
			x.Seed = seed
		}
		return x
	}
	return ex
}

func stageDurations(ex Executor) []time.Duration {
	var st []Stage
	switch x := ex.(type) {
	case RampingVUs:
		st = x.Stages
	case RampingArrivalRate:
		st = x.Stages
	default:
		return []time.Duration{ex.TotalDuration()}
	}
	out := make([]time.Duration, len(st))
	for i, s := range st {
		out[i] = s.Duration
	}
	return out
}

// Scenarios returns the scenarios as the engine runs them (time scale applied).
func (e *Engine) Scenarios() []ScenarioConfig { return e.scenarios }

func (e *Engine) elapsed() time.Duration { return e.clock.Since(e.t0) }

// Result is what a run produced.
type Result struct {
	Snapshot   *Snapshot
	Thresholds []ThresholdResult
	// Aborted is set when a threshold with abortOnFail stopped the run.
	Aborted *ThresholdResult
	// AbortedByTest is the reason a scenario gave when it aborted the test ([VU.AbortTest]).
	AbortedByTest string
}

// ThresholdsPassed reports whether every threshold passed.
func (r *Result) ThresholdsPassed() bool {
	for _, t := range r.Thresholds {
		if !t.Pass {
			return false
		}
	}
	return true
}

// Run starts every scenario at its startTime and returns when all have ended, when ctx is
// cancelled (running iterations are interrupted) or when an abortOnFail threshold fails. The
// result is always returned; the error is ctx's error or wraps [ErrThresholdAbort]. Run may be
// called once.
func (e *Engine) Run(ctx context.Context) (*Result, error) {
	if e.started.Swap(true) {
		return nil, errors.New("load: engine already run")
	}
	e.t0 = e.clock.Now()
	e.running.Store(true)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	for _, sc := range e.scenarios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &scenarioRun{e: e, cfg: sc}
			if !e.sleepUntil(runCtx, sc.StartTime) {
				return
			}
			r.start = e.clock.Now()
			r.run(runCtx)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	tick := e.clock.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case <-done:
			break loop
		case <-tick.C():
			if ab := e.evalRunning(); ab != nil {
				e.abortWhy.Store(ab)
				e.abortOnce.Do(func() { close(e.abortCh) })
				cancel()
			}
		case <-e.abortCh:
			cancel()
		}
	}
	<-done
	e.closeLean()
	e.running.Store(false)
	end := e.elapsed()
	e.store.advance(end)
	e.store.mu.Lock()
	e.store.closeLocked(int64(end/time.Second) + 1)
	e.store.mu.Unlock()
	res := &Result{Snapshot: e.Snapshot()}
	res.Thresholds = e.evalFinal(res.Snapshot, end)
	if ab := e.abortWhy.Load(); ab != nil {
		res.Aborted = ab
		return res, fmt.Errorf("load: %w: %s", ErrThresholdAbort, ab.Source)
	}
	if why := e.abortTest.Load(); why != nil {
		res.AbortedByTest = *why
		return res, fmt.Errorf("load: %w: %s", ErrTestAborted, *why)
	}
	return res, ctx.Err()
}

// Aborted is closed when a threshold with abortOnFail fails or a scenario aborts the test.
func (e *Engine) Aborted() <-chan struct{} { return e.abortCh }

// sleepUntil waits on the engine clock until elapsed ≥ at; false if ctx ended first.
func (e *Engine) sleepUntil(ctx context.Context, at time.Duration) bool {
	d := at - e.elapsed()
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := e.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// Snapshot returns the metrics so far (safe at any time, also after Run).
func (e *Engine) Snapshot() *Snapshot {
	el := time.Duration(0)
	if e.started.Load() {
		el = e.elapsed()
	}
	s := e.store.snapshot(e.t0, el)
	s.DataSent, s.DataReceived = e.sent.Load(), e.recv.Load()
	s.VUs, s.VUsMax = e.vus.Load(), e.vusMax.Load()
	return s
}

// Live is a progress view over the last few seconds.
type Live struct {
	Elapsed     time.Duration
	VUs, VUsMax int64
	Requests    uint64        // total so far
	Iterations  uint64        // total completed so far
	Dropped     uint64        // total so far
	RPS         float64       // requests per second over the window
	ErrorRate   float64       // failed/requests over the window
	P95         time.Duration // request duration p95 over the window
}

// LiveWindow is how many recent seconds [Engine.Live] covers.
const LiveWindow = 5

// Live returns current VUs and the request rate, error rate and p95 over the last LiveWindow
// whole seconds (or the part of the first second so far).
func (e *Engine) Live() Live {
	l := Live{VUs: e.vus.Load(), VUsMax: e.vusMax.Load()}
	if !e.started.Load() {
		return l
	}
	l.Elapsed = e.elapsed()
	st := e.store
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, se := range st.series {
		if se.key.Metric == MetricReqDuration {
			l.Requests += se.count
		}
	}
	for _, sc := range st.scens {
		l.Iterations += sc.iterations
		l.Dropped += sc.dropped
	}
	now := int64(l.Elapsed / time.Second)
	from, to := max(now-LiveWindow, 0), now // whole seconds [from, to)
	span := float64(to - from)
	if to == from {
		to, span = now+1, max(l.Elapsed.Seconds(), 1e-3)
	}
	h := newHist()
	var req, errs uint64
	for sec := from; sec < to && sec < int64(len(st.buckets)); sec++ {
		req += st.buckets[sec].Requests
		errs += st.buckets[sec].Errors
		if slot := st.ring[sec%ringSize]; slot.sec == sec {
			h.Merge(slot.hist)
		}
	}
	l.RPS = float64(req) / span
	if req > 0 {
		l.ErrorRate = float64(errs) / float64(req)
	}
	l.P95 = time.Duration(h.ValueAtQuantile(95)) * time.Microsecond
	return l
}
