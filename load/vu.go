package load

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// VU is one virtual user, handed to [Scenario.Run]. A VU runs one iteration at a time, so its
// methods need no locking; it must not be used from other goroutines or kept after the
// iteration returns. Everything it records is tagged with its scenario.
type VU struct {
	id       int64
	scenario string
	iter     int64
	failures int // failed iterations in a row, for the failure backoff
	eng      *Engine
	rec      recorder
	client   *Client
	rng      *rand.Rand
	run      *scenarioRun
	// scenarioIter is the current iteration's number among all the scenario's iterations.
	scenarioIter int64
	trendIDs     map[[2]string]int32
	checkIDs     map[[2]string]int32
	iterIDs      [3]int32 // iteration_duration, iteration_response_time, iteration_lateness
}

// ID returns the VU's number, unique in the engine and starting at 1.
func (vu *VU) ID() int64 { return vu.id }

// Scenario returns the name of the VU's scenario.
func (vu *VU) Scenario() string { return vu.scenario }

// Iteration returns the 0-based number of the VU's current iteration in its scenario.
func (vu *VU) Iteration() int64 { return vu.iter }

// ScenarioIteration returns the 0-based number of the current iteration among all the
// iterations of the VU's scenario in this engine (k6's scenario.iterationInInstance).
func (vu *VU) ScenarioIteration() int64 { return vu.scenarioIter }

// Executor returns the k6 name of the VU's scenario's executor, e.g. "ramping-vus".
func (vu *VU) Executor() string { return vu.run.cfg.Executor.Name() }

// ScenarioStart returns when the VU's scenario started, on the engine's clock.
func (vu *VU) ScenarioStart() time.Time { return vu.run.start }

// InstanceState is the engine's execution state as a VU sees it (k6's exec.instance).
type InstanceState struct {
	VUsActive, VUsInitialized                  int64
	IterationsCompleted, IterationsInterrupted uint64
	// Elapsed is the time since the engine started.
	Elapsed time.Duration
}

// Instance returns the engine's execution state now. Iterations are counted once their
// samples reached the engine (the VU's own buffered ones may be missing).
func (vu *VU) Instance() InstanceState {
	e := vu.eng
	st := InstanceState{VUsActive: e.vus.Load(), VUsInitialized: e.vusMax.Load(), Elapsed: e.elapsed()}
	e.store.mu.Lock()
	for _, sc := range e.store.scens {
		st.IterationsCompleted += sc.iterations
		st.IterationsInterrupted += sc.interrupted
	}
	e.store.mu.Unlock()
	return st
}

// AbortTest stops the whole run, as k6's test.abort() does: running iterations are
// interrupted and [Engine.Run] returns an error wrapping [ErrTestAborted] with reason. The
// first call's reason is kept.
func (vu *VU) AbortTest(reason string) {
	e := vu.eng
	e.abortTest.CompareAndSwap(nil, &reason)
	e.abortOnce.Do(func() { close(e.abortCh) })
}

// Logger returns the engine's logger with the VU's scenario and id attached.
func (vu *VU) Logger() *slog.Logger { return vu.eng.log.With("scenario", vu.scenario, "vu", vu.id) }

// Rand returns the VU's own random source (seeded from the engine seed and the VU id), for
// journey draws and think times that must be reproducible.
func (vu *VU) Rand() *rand.Rand {
	if vu.rng == nil {
		vu.rng = rand.New(rand.NewPCG(vu.eng.seed, uint64(vu.id)))
	}
	return vu.rng
}

// Now returns the engine clock's time.
func (vu *VU) Now() time.Time { return vu.eng.clock.Now() }

// HTTP returns the VU's instrumented HTTP client: keep-alive connections (the VU's own for
// http://, net/http's shared transport otherwise), the VU's own cookie jar, each request timed
// and tagged with the scenario and the step given per request.
func (vu *VU) HTTP() *Client {
	if vu.client == nil {
		vu.client = newClient(vu)
	}
	return vu.client
}

// Sleep waits d on the engine clock (think time), returning ctx.Err() if the iteration is
// interrupted first. It hands buffered samples to the engine before it waits.
func (vu *VU) Sleep(ctx context.Context, d time.Duration) error {
	vu.rec.flush()
	if d <= 0 {
		return ctx.Err()
	}
	t := vu.eng.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Trend records d in the custom trend metric name (e.g. "dashboard_load_seconds"), tagged
// with the scenario and step (step may be empty). Trends hold durations from 1 µs to 60 s.
func (vu *VU) Trend(name, step string, d time.Duration) {
	if vu.trendIDs == nil {
		vu.trendIDs = map[[2]string]int32{}
	}
	k := [2]string{name, step}
	id, ok := vu.trendIDs[k]
	if !ok {
		id = vu.eng.store.id(seriesKey{Metric: name, Scenario: vu.scenario, Step: step})
		vu.trendIDs[k] = id
	}
	vu.rec.add(sample{t: vu.eng.elapsed(), v: int64(d), id: id, kind: sTrend})
}

// Check records a named check (k6's checks rate metric, tag "step" = name) and returns ok.
func (vu *VU) Check(name string, ok bool) bool { return vu.CheckTagged(name, ok, nil) }

// CheckTagged is [VU.Check] with the check's own tags (k6's check tags).
func (vu *VU) CheckTagged(name string, ok bool, tags map[string]string) bool {
	if vu.checkIDs == nil {
		vu.checkIDs = map[[2]string]int32{}
	}
	k := [2]string{name, encodeTags(tags)}
	id, found := vu.checkIDs[k]
	if !found {
		id = vu.eng.store.id(seriesKey{Metric: MetricChecks, Scenario: vu.scenario, Step: name, Tags: k[1]})
		vu.checkIDs[k] = id
	}
	vu.rec.add(sample{t: vu.eng.elapsed(), id: id, kind: sRate, failed: !ok})
	return ok
}

// recorder is a VU's sample buffer: appends are lock-free and the engine's store takes a
// whole batch under one lock (see store). It flushes when full, when its oldest sample is
// older than flushAge, before the VU sleeps and when the VU stops.
type recorder struct {
	st     *store
	buf    []sample
	custom []customSample // custom metrics' values (k6/metrics), rarer: no buffer until one
}

const (
	recorderCap = 128
	flushAge    = 200 * time.Millisecond
)

func (r *recorder) add(s sample) {
	if r.buf == nil {
		r.buf = make([]sample, 0, recorderCap)
	}
	r.buf = append(r.buf, s)
	if len(r.buf) == cap(r.buf) || s.t-r.buf[0].t >= flushAge {
		r.flush()
	}
}

func (r *recorder) addCustom(s customSample) {
	r.custom = append(r.custom, s)
	if len(r.custom) >= recorderCap || s.t-r.custom[0].t >= flushAge {
		r.flush()
	}
}

// flushIfStale flushes when the oldest buffered sample is older than flushAge at now.
func (r *recorder) flushIfStale(now time.Duration) {
	if (len(r.buf) > 0 && now-r.buf[0].t >= flushAge) || (len(r.custom) > 0 && now-r.custom[0].t >= flushAge) {
		r.flush()
	}
}

func (r *recorder) flush() {
	if len(r.buf) == 0 && len(r.custom) == 0 {
		return
	}
	r.st.apply(r.buf, r.custom)
	clear(r.buf)
	r.buf = r.buf[:0]
	clear(r.custom)
	r.custom = r.custom[:0]
}
