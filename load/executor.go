package load

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// scenarioRun executes one scenario. All offsets are from the engine's start.
type scenarioRun struct {
	e      *Engine
	cfg    ScenarioConfig
	active atomic.Int64 // VUs busy or looping now
	alloc  atomic.Int64 // VUs initialised
	iters  atomic.Int64 // iterations started, by all its VUs
	start  time.Time    // when it started, on the engine's clock
}

func (r *scenarioRun) run(ctx context.Context) {
	base := r.cfg.StartTime
	gs := r.cfg.gracefulStop()
	seg := r.e.segment
	switch x := r.cfg.Executor.(type) {
	case ConstantVUs:
		n := seg.Share(orOne(x.VUs))
		r.runRamping(ctx, base, RampingVUSteps(n, nil), x.Duration, n, 0, gs)
	case RampingVUs:
		r.runRamping(ctx, base, seg.VUSteps(RampingVUSteps(x.StartVUs, x.Stages)), x.TotalDuration(), seg.Share(x.PeakVUs()),
			grace(x.GracefulRampDown, DefaultGracefulRampDown), gs)
	case PerVUIterations:
		r.runIterations(ctx, base, seg.Share(orOne(x.VUs)), orOne(x.Iterations), false, x.TotalDuration(), gs)
	case SharedIterations:
		r.runIterations(ctx, base, seg.Share(x.PeakVUs()), seg.Share(orOne(x.Iterations)), true, x.TotalDuration(), gs)
	case ConstantArrivalRate:
		r.runArrival(ctx, base, seg.Schedule(x.schedule()), x.Duration, seg.Share(x.PreAllocatedVUs), seg.Share(x.PeakVUs()), gs)
	case RampingArrivalRate:
		r.runArrival(ctx, base, seg.Schedule(x.schedule()), x.TotalDuration(), seg.Share(x.PreAllocatedVUs), seg.Share(x.PeakVUs()), gs)
	}
	r.e.store.setVUs(r.cfg.Name, 0)
}

func (r *scenarioRun) newVU() *VU {
	e := r.e
	vu := &VU{id: e.vuID(e.nextID.Add(1)), scenario: r.cfg.Name, eng: e, rec: recorder{st: e.store}, run: r}
	st := e.store
	vu.iterIDs[0] = st.id(seriesKey{Metric: MetricIterDuration, Scenario: r.cfg.Name})
	if _, ok := r.cfg.Executor.(interface{ schedule() Schedule }); ok {
		vu.iterIDs[1] = st.id(seriesKey{Metric: MetricIterResponseTime, Scenario: r.cfg.Name})
		vu.iterIDs[2] = st.id(seriesKey{Metric: MetricIterLateness, Scenario: r.cfg.Name})
	}
	r.alloc.Add(1)
	e.vusMax.Add(1)
	return vu
}

func (r *scenarioRun) addActive(d int64) {
	n := r.active.Add(d)
	r.e.vus.Add(d)
	r.e.store.setVUs(r.cfg.Name, n)
}

// iterate runs one iteration. intended ≥ 0 marks an arrival-rate start, whose response time
// (end − intended) and lateness (start − intended) are recorded beside the service time.
func (r *scenarioRun) iterate(ctx context.Context, vu *VU, intended time.Duration) iteration {
	e := r.e
	start := e.elapsed()
	vu.scenarioIter = r.iters.Add(1) - 1
	err := r.cfg.Exec.Run(ctx, vu)
	end := e.elapsed()
	vu.iter++
	intr := ctx.Err() != nil
	vu.rec.add(sample{t: end, v: int64(end - start), id: vu.iterIDs[0], kind: sIteration, failed: err != nil, intr: intr})
	if intended >= 0 && !intr {
		vu.rec.add(sample{t: end, v: int64(end - intended), id: vu.iterIDs[1], kind: sTrend})
		vu.rec.add(sample{t: end, v: int64(start - intended), id: vu.iterIDs[2], kind: sTrend})
	}
	vu.rec.flushIfStale(end)
	return iteration{failed: err != nil && !intr, interrupted: intr, ran: end - start}
}

// waitEvent waits until offset at (if ≥ 0) or until one of chans delivers or ctx ends.
func (e *Engine) waitEvent(ctx context.Context, at time.Duration, wake <-chan struct{}) {
	var tc <-chan time.Time
	if at >= 0 {
		d := at - e.elapsed()
		if d <= 0 {
			return
		}
		t := e.clock.NewTimer(d)
		defer t.Stop()
		tc = t.C()
	}
	select {
	case <-tc:
	case <-wake:
	case <-ctx.Done():
	}
}

// Slot states of the looping executors.
const (
	slotIdle       = iota
	slotRunning    // looping
	slotStopping   // finishes its iteration, then idles (graceful)
	slotCancelling // iteration interrupted, goroutine unwinding
	slotRestart    // cancelling, but wanted again: loops on once unwound
)

type slot struct {
	vu     *VU
	state  int
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	// nudge wakes a VU waiting out its failure backoff when the slot needs its attention.
	nudge    chan struct{}
	deadline time.Duration
	// attn is set whenever state leaves slotRunning, so the loop checks state under the lock
	// only then and not on every iteration.
	attn atomic.Bool
}

// rampRun drives constant-vus and ramping-vus: a fixed set of slots, slot i being the i-th
// VU to start, so stopping the highest slots first is LIFO.
type rampRun struct {
	*scenarioRun
	mu     sync.Mutex
	slots  []*slot
	idle   chan struct{}
	done   chan struct{}
	runCtx context.Context
	wg     sync.WaitGroup
}

func (r *scenarioRun) runRamping(ctx context.Context, base time.Duration, steps []VUStep, dur time.Duration, peak int64, grd, gs time.Duration) {
	rr := &rampRun{scenarioRun: r, idle: make(chan struct{}, 1), done: make(chan struct{}), runCtx: ctx}
	for range peak {
		s := &slot{vu: r.newVU(), wake: make(chan struct{}, 1), nudge: make(chan struct{}, 1)}
		rr.slots = append(rr.slots, s)
		rr.wg.Add(1)
		go rr.loop(s)
	}
	end := base + dur
	cur, next := int64(0), 0
	ending := false
	for {
		now := r.e.elapsed()
		rr.mu.Lock()
		for next < len(steps) && base+steps[next].At <= now {
			rr.setTarget(cur, steps[next].VUs, now+grd)
			cur = steps[next].VUs
			next++
		}
		if !ending && (now >= end || ctx.Err() != nil) {
			ending = true
			for i := len(rr.slots) - 1; i >= 0; i-- {
				rr.deactivate(rr.slots[i], now+gs)
			}
			if ctx.Err() != nil {
				for _, s := range rr.slots {
					rr.hardStop(s)
				}
			}
		}
		wakeAt := time.Duration(-1)
		allIdle := true
		for _, s := range rr.slots {
			if s.state == slotStopping && s.deadline <= now {
				rr.hardStop(s)
			}
			if s.state == slotStopping && (wakeAt < 0 || s.deadline < wakeAt) {
				wakeAt = s.deadline
			}
			if s.state != slotIdle {
				allIdle = false
			}
		}
		rr.mu.Unlock()
		if ending && allIdle {
			break
		}
		if !ending {
			at := end
			if next < len(steps) {
				at = min(at, base+steps[next].At)
			}
			if wakeAt < 0 || at < wakeAt {
				wakeAt = at
			}
		}
		ctxw := ctx
		if ending {
			ctxw = context.Background() // after a cancel, wait for the VUs to unwind
		}
		r.e.waitEvent(ctxw, wakeAt, rr.idle)
	}
	close(rr.done)
	rr.wg.Wait()
}

// setTarget moves the looping VUs from cur to n: new ones start in slot order, surplus ones
// are told to stop after their iteration, highest slot (newest) first, with hard deadline dl.
func (rr *rampRun) setTarget(cur, n int64, dl time.Duration) {
	for i := cur; i < n; i++ {
		rr.activate(rr.slots[i])
	}
	for i := cur - 1; i >= n; i-- {
		rr.deactivate(rr.slots[i], dl)
	}
}

func (rr *rampRun) activate(s *slot) {
	switch s.state {
	case slotIdle:
		s.state = slotRunning
		s.ctx, s.cancel = context.WithCancel(rr.runCtx)
		rr.addActive(1)
		s.wake <- struct{}{}
	case slotStopping:
		s.state = slotRunning
	case slotCancelling:
		s.state = slotRestart
	}
}

func (rr *rampRun) deactivate(s *slot, dl time.Duration) {
	switch s.state {
	case slotRunning:
		s.state, s.deadline = slotStopping, dl
		s.attn.Store(true)
		s.poke()
	case slotStopping:
		s.deadline = min(s.deadline, dl)
	case slotRestart:
		s.state = slotCancelling
	}
}

// poke wakes the slot's VU if it is waiting out its failure backoff; attn is set first.
func (s *slot) poke() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

// step runs one iteration of s's VU, then its failure backoff, which a poke cuts short.
func (rr *rampRun) step(ctx context.Context, s *slot) {
	d := rr.backoffAfter(s.vu, rr.iterate(ctx, s.vu, -1))
	if d <= 0 {
		return
	}
	select { // a poke left from an earlier stop must not cut this wait short
	case <-s.nudge:
	default:
	}
	if s.attn.Load() {
		return // told to stop (or restart) meanwhile: the loop sees to it first
	}
	rr.backoff(ctx, d, s.nudge)
}

func (rr *rampRun) hardStop(s *slot) {
	if s.state == slotStopping || s.state == slotRunning {
		s.state = slotCancelling
		s.attn.Store(true)
		s.cancel()
	}
}

// loop is slot s's goroutine: it waits to be woken, then iterates until told to stop.
func (rr *rampRun) loop(s *slot) {
	defer rr.wg.Done()
	defer s.vu.rec.flush()
	for {
		select {
		case <-s.wake:
		case <-rr.done:
			return
		}
		for {
			if !s.attn.Load() && s.ctx.Err() == nil {
				rr.step(s.ctx, s)
				continue
			}
			rr.mu.Lock()
			if s.state == slotRunning || s.state == slotRestart {
				s.attn.Store(false)
			}
			if s.state == slotStopping || s.ctx.Err() != nil {
				if s.state == slotRestart {
					s.state = slotRunning
					s.ctx, s.cancel = context.WithCancel(rr.runCtx)
					rr.mu.Unlock()
					continue
				}
				s.state = slotIdle
				s.cancel()
				rr.addActive(-1)
				rr.mu.Unlock()
				s.vu.rec.flush()
				select {
				case rr.idle <- struct{}{}:
				default:
				}
				break
			}
			ctx := s.ctx
			rr.mu.Unlock()
			rr.step(ctx, s)
		}
	}
}

// runIterations drives per-vu-iterations and shared-iterations.
func (r *scenarioRun) runIterations(ctx context.Context, base time.Duration, vus, iters int64, shared bool, maxDur, gs time.Duration) {
	hard, cancel := context.WithCancel(ctx)
	defer cancel()
	var stop atomic.Bool
	stopping := make(chan struct{}) // closed with stop set: wakes VUs waiting out a backoff
	var taken atomic.Int64
	var wg sync.WaitGroup
	finished := make(chan struct{})
	for range vus {
		vu := r.newVU()
		wg.Add(1)
		r.addActive(1)
		go func() {
			defer wg.Done()
			defer r.addActive(-1)
			defer vu.rec.flush()
			for i := int64(0); ; i++ {
				if stop.Load() || hard.Err() != nil {
					return
				}
				if shared {
					if taken.Add(1) > iters {
						return
					}
				} else if i >= iters {
					return
				}
				if d := r.backoffAfter(vu, r.iterate(hard, vu, -1)); d > 0 && !stop.Load() {
					r.backoff(hard, d, stopping)
				}
			}
		}()
	}
	go func() { wg.Wait(); close(finished) }()
	wait := func(at time.Duration) bool {
		d := at - r.e.elapsed()
		if d <= 0 {
			return false
		}
		t := r.e.clock.NewTimer(d)
		defer t.Stop()
		select {
		case <-finished:
			return true
		case <-t.C():
			return false
		case <-ctx.Done():
			return false
		}
	}
	if !wait(base+maxDur) && ctx.Err() == nil {
		stop.Store(true)
		close(stopping)
		if !wait(base + maxDur + gs) {
			cancel()
		}
	}
	cancel()
	<-finished
}

// runArrival drives the arrival-rate executors: a timer loop over the schedule hands each
// start to an idle VU or drops it.
func (r *scenarioRun) runArrival(ctx context.Context, base time.Duration, sched Schedule, dur time.Duration, pre, maxVUs int64, gs time.Duration) {
	e := r.e
	hard, cancel := context.WithCancel(ctx)
	defer cancel()
	pool := make(chan *arrivalVU, maxVUs)
	returned := make(chan struct{}, 1)
	var wg sync.WaitGroup
	start := func(vu *VU) *arrivalVU {
		a := &arrivalVU{vu: vu, work: make(chan time.Duration, 1)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer vu.rec.flush()
			for intended := range a.work {
				r.iterate(hard, vu, intended)
				r.addActive(-1)
				pool <- a
				select {
				case returned <- struct{}{}:
				default:
				}
			}
		}()
		return a
	}
	var all []*arrivalVU
	for range pre {
		a := start(r.newVU())
		all = append(all, a)
		pool <- a
	}
	inited := make(chan *arrivalVU, 1)
	initing := false
	never := make(chan struct{})
	for n := uint64(0); ; n++ {
		at, ok := sched.Start(n)
		if !ok || ctx.Err() != nil {
			break
		}
		at += base
		for e.elapsed() < at && ctx.Err() == nil {
			d := at - e.elapsed()
			t := e.clock.NewTimer(d)
			select {
			case <-t.C():
			case a := <-inited:
				initing = false
				all = append(all, a)
				pool <- a
			case <-ctx.Done():
			}
			t.Stop()
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case a := <-inited:
			initing = false
			all = append(all, a)
			pool <- a
		default:
		}
		select {
		case a := <-pool:
			r.addActive(1)
			a.work <- at
		default:
			e.store.addDropped(r.cfg.Name, at)
			if !initing && r.alloc.Load() < maxVUs {
				initing = true
				go func() { inited <- start(r.newVU()) }()
			}
		}
	}
	// The schedule is over: wait for the executor's end, then give running iterations
	// gracefulStop before interrupting them.
	e.waitEvent(ctx, base+dur, never)
	if initing {
		a := <-inited
		all = append(all, a)
		pool <- a
	}
	deadline := base + dur + gs
	interrupted := false
	for r.active.Load() > 0 {
		if !interrupted && (ctx.Err() != nil || e.elapsed() >= deadline) {
			cancel()
			interrupted = true
		}
		if interrupted {
			<-returned
			continue
		}
		t := e.clock.NewTimer(deadline - e.elapsed())
		select {
		case <-t.C():
		case <-returned:
		case <-ctx.Done():
		}
		t.Stop()
	}
	for _, a := range all {
		close(a.work)
	}
	wg.Wait()
}

type arrivalVU struct {
	vu   *VU
	work chan time.Duration
}
