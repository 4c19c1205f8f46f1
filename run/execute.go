package run

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dailydoco/ddp-verify/agents"
	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/k6script"
	"github.com/dailydoco/ddp-verify/load"
)

// execution is what the execute phase ran, on the run's clock.
type execution struct {
	t0, loadEnd time.Time
	load        *load.Result
	// faults are the scheduler's records; chaosErr is its error (faults left in force).
	faults   []chaos.Result
	chaosErr error
	// serviceRecovery is, per fault, how long the service took to be back within its
	// steady-state objectives (absent: it was not, during the run).
	serviceRecovery map[string]time.Duration
	// aborted is set when the first interrupt stopped the run early.
	aborted bool
	// agents are the load agents' parts, when the load ran on agents.
	agents []agents.Status
}

// loadDriver runs the plan's load: the engine in this process, or the coordinator of agents.
type loadDriver interface {
	Run(ctx context.Context) (*load.Result, error)
	Live() load.Live
}

// execute drives load and chaos on one clock: the scheduler's offsets and the engine's stages
// are both measured from t0. However the load ends (its schedule, an abortOnFail threshold, an
// interrupt), the fault schedule ends with it, and every fault in force is recovered.
func (r *runner) execute(ctx context.Context) (*execution, error) {
	var drv loadDriver
	var spread *agentRun
	if r.o.Agents > 0 {
		ar, err := r.connectAgents(ctx)
		if err != nil {
			return nil, err
		}
		defer ar.stop(agentTimings.loss)
		drv, spread = ar, ar
	} else {
		eng, err := r.engine()
		if err != nil {
			return nil, err
		}
		drv = eng
	}
	var sched *chaos.Scheduler
	if r.faults() {
		opts := []chaos.Option{chaos.WithLogger(r.log), chaos.WithGuardrails(r.platform.Guardrails), chaos.WithClock(r.clock)}
		if r.o.RecoveryTimeout > 0 {
			opts = append(opts, chaos.WithRecoveryTimeout(r.o.RecoveryTimeout))
		}
		sched = chaos.NewScheduler(r.platform.Chaos, r.plan.Faults, opts...)
	}
	scripts := scriptsOf(drv)
	if err := setUpScripts(ctx, scripts); err != nil {
		return nil, err
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var aborted atomic.Bool
	go r.onInterrupt(loadCtx, func() { aborted.Store(true); stopLoad() })

	r.followWallClock()
	ex := &execution{t0: r.clock.Now()}
	var loadErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		ex.load, loadErr = drv.Run(loadCtx)
		stopLoad()
	})
	if sched != nil {
		wg.Go(func() {
			ex.faults, ex.chaosErr = sched.Run(loadCtx)
			if ex.chaosErr != nil {
				r.log.Warn("chaos", "err", ex.chaosErr)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	ex.serviceRecovery = r.watch(loadCtx, done, ex.t0, drv, sched)
	<-done
	r.tearDownScripts(ctx, scripts)
	ex.loadEnd, ex.aborted = r.clock.Now(), aborted.Load()
	if spread != nil {
		ex.agents = spread.Agents()
	}
	if r.platform.Flush != nil {
		r.platform.Flush(ctx)
	}
	if ctx.Err() != nil {
		return nil, exitcode.New(exitcode.Interrupted, errors.New("interrupted twice: faults were recovered, nothing was evaluated"))
	}
	if loadErr != nil && !errors.Is(loadErr, context.Canceled) && !errors.Is(loadErr, load.ErrThresholdAbort) {
		return nil, infra("load: %w", loadErr)
	}
	return ex, nil
}

// connectAgents starts the load agents and waits until every one is ready and the common
// start has come: the run's t0. An agent that does not connect is an infrastructure error
// naming it; nothing has been sent.
func (r *runner) connectAgents(ctx context.Context) (*agentRun, error) {
	ar, err := r.startAgents()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(r.o.progress(), "ddp-verify: starting %d load agents\n", r.o.Agents)
	t0, err := ar.Start(ctx)
	if err != nil {
		ar.stop(agentTimings.loss)
		if ctx.Err() != nil {
			return nil, exitcode.New(exitcode.Interrupted, errors.New("interrupted while the load agents connected: nothing was sent"))
		}
		return nil, infra("load agents: %w", err)
	}
	if d := t0.Sub(r.clock.Now()); d > 0 {
		<-r.clock.After(d)
	}
	return ar, nil
}

// engine builds the load engine over the workload's scenarios, with the plan's thresholds,
// and registers its metrics with the generator's.
func (r *runner) engine() (*load.Engine, error) {
	scen, err := r.workload.Scenarios(r.plan, r.platform.BaseURL, r.runID, r.reg)
	if err != nil {
		return nil, badInput("%w", err)
	}
	eng, err := load.NewEngine(scen, load.WithThresholds(r.plan.Thresholds...), load.WithLogger(r.log),
		load.WithHTTP(load.HTTPOptions{Headers: r.o.Headers}), load.WithSeed(r.o.seed()), load.WithClock(r.clock))
	if err != nil {
		return nil, badInput("load model: %w", err)
	}
	// The engine's series (the SLOs read them) and the same under k6's names (for k6 dashboards).
	r.reg.MustRegister(eng.Collector(), eng.K6Collector())
	return eng, nil
}

// onInterrupt calls stop when the first interrupt arrives, unless the load ends first.
func (r *runner) onInterrupt(ctx context.Context, stop func()) {
	if r.o.Interrupt == nil {
		return
	}
	select {
	case <-r.o.Interrupt:
		stop()
	case <-ctx.Done():
	}
}

// scriptsOf returns the k6 scripts the engine's scenarios run, each once, in scenario order
// (none when the load runs on agents, which run the journeys only).
func scriptsOf(drv loadDriver) []*k6script.Script {
	eng, ok := drv.(*load.Engine)
	if !ok {
		return nil
	}
	var out []*k6script.Script
	for _, sc := range eng.Scenarios() {
		if s := k6script.ScriptOf(sc.Exec); s != nil && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// setUpScripts runs each script's setup() before the load, as k6 does; one that throws ends
// the run before anything was sent (an infrastructure error naming the script).
func setUpScripts(ctx context.Context, scripts []*k6script.Script) error {
	for _, s := range scripts {
		if err := s.Setup(ctx); err != nil {
			if ctx.Err() != nil {
				return exitcode.New(exitcode.Interrupted, errors.New("interrupted during a script's setup: nothing was sent"))
			}
			return infra("the script's setup, before the load (nothing was sent): %w", err)
		}
	}
	return nil
}

// tearDownScripts runs each script's teardown(data) once the load has ended, however it ended;
// a teardown that throws is logged: the load it would judge is over.
func (r *runner) tearDownScripts(ctx context.Context, scripts []*k6script.Script) {
	for _, s := range scripts {
		if err := s.Teardown(context.WithoutCancel(ctx)); err != nil {
			r.log.Warn("k6 script teardown", "script", s.Path(), "err", err)
		}
	}
}
