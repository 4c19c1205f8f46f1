package k6script

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dop251/goja"

	"github.com/dailydoco/ddp-verify/load"
)

// scenarioExec runs the exported function fn as a [load.Scenario]; env is the scenario's own
// __ENV entries (k6's scenario env), over the script's.
type scenarioExec struct {
	s    *Script
	fn   string
	env  map[string]string
	tags map[string]string // the scenario's tags
}

func (s *Script) exec(fn string, env, tags map[string]string) load.Scenario {
	return scenarioExec{s: s, fn: fn, env: env, tags: tags}
}

// Exec returns the exported function fn ("default" for the default function) as a
// [load.Scenario], for a scenario the caller configures itself (a profile's): each VU runs it
// in its own runtime with the setup data, as the script's own scenarios do. [Script.Setup]
// must run before the load when the script exports setup.
func (s *Script) Exec(fn string) (load.Scenario, error) {
	if !s.exports[fn] {
		return nil, fmt.Errorf("k6 script %s: %q is not an exported function", s.path, fn)
	}
	return s.exec(fn, nil, nil), nil
}

// ScriptOf returns the script a [load.Scenario] from [Script.Exec] or [Script.Scenarios] runs,
// or nil for any other scenario: callers find the scripts whose setup and teardown they run.
func ScriptOf(sc load.Scenario) *Script {
	if e, ok := sc.(scenarioExec); ok {
		return e.s
	}
	return nil
}

// OptionNames returns the names the script's exported options set, sorted.
func (s *Script) OptionNames() []string { return sortedKeys(s.options) }

// Run runs one iteration in the VU's runtime (created, with the init code, on the VU's first
// iteration): __ITER is set and fn called with the setup data. A thrown exception fails the
// iteration and is logged; when ctx ends, the runtime is interrupted and ctx's error returned.
func (e scenarioExec) Run(ctx context.Context, vu *load.VU) error {
	r, err := e.s.vuRuntime(vu, e.env)
	if err != nil {
		vu.Logger().Error("k6 script init failed", "err", err)
		return err
	}
	if err := r.rt.GlobalObject().Set("__ITER", vu.Iteration()); err != nil {
		return err
	}
	r.scenarioTags = e.tags
	data, err := r.setupData()
	if err != nil {
		return err
	}
	_, err = r.call(ctx, vuHost{vu: vu}, e.fn, data)
	if err != nil && ctx.Err() == nil {
		vu.Logger().Error("k6 script iteration failed", "err", err)
	}
	return err
}

// vuRuntime returns the VU's runtime, creating it on first use. Runtimes are keyed by VU id and
// only used by their VU's goroutine.
func (s *Script) vuRuntime(vu *load.VU, env map[string]string) (*runtime, error) {
	s.mu.Lock()
	r, ok := s.runtimes[vu.ID()]
	setupMissing := s.exports["setup"] && !s.setupRan
	s.mu.Unlock()
	if setupMissing {
		return nil, fmt.Errorf("k6 script %s: setup() was not run: call Script.Setup before the load", s.path)
	}
	if ok {
		return r, nil
	}
	r, err := s.newRuntime(vu.ID(), vu.Logger(), env)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.runtimes[vu.ID()] = r
	s.mu.Unlock()
	return r, nil
}

// setupData returns the setup data parsed in this runtime (once: the VU keeps its copy, as in
// k6), or undefined.
func (r *runtime) setupData() (goja.Value, error) {
	if r.dataReady {
		return r.data, nil
	}
	r.s.mu.Lock()
	text := r.s.setupJSON
	r.s.mu.Unlock()
	r.data = goja.Undefined()
	if text != "" {
		v, err := r.jsonParse(r.rt.ToValue(text))
		if err != nil {
			return nil, fmt.Errorf("k6 script %s: setup data: %w", r.s.path, err)
		}
		r.data = v
	}
	r.dataReady = true
	return r.data, nil
}

// Setup runs the exported setup() once, in a runtime of its own, and keeps its return value as
// JSON for the VUs (each gets its own parsed copy as its exec function's argument). Without a
// setup function it does nothing. setup's HTTP requests go through a plain net/http client:
// they, its checks and its groups are not counted in the engine's metrics.
func (s *Script) Setup(ctx context.Context) error {
	s.mu.Lock()
	ran := s.setupRan
	s.mu.Unlock()
	if ran {
		return fmt.Errorf("k6 script %s: setup already ran", s.path)
	}
	text := ""
	if s.exports["setup"] {
		r, err := s.newRuntime(0, nil, nil)
		if err != nil {
			return err
		}
		tctx, cancel := context.WithTimeout(ctx, s.settings.setupTimeout)
		defer cancel()
		v, err := r.call(tctx, newPlainHost(s.log, s.settings), "setup")
		if err != nil {
			return s.lifecycleError(ctx, "setup", s.settings.setupTimeout, err)
		}
		if text, err = r.jsonStringify(v); err != nil {
			return fmt.Errorf("k6 script %s: setup's return value: %w", s.path, err)
		}
	}
	s.mu.Lock()
	s.setupRan, s.setupJSON = true, text
	s.mu.Unlock()
	return nil
}

// Teardown runs the exported teardown(data) once, in a runtime of its own, with the setup data.
// Without a teardown function it does nothing. Its HTTP requests, like setup's, go through a
// plain net/http client and are not counted in the engine's metrics.
func (s *Script) Teardown(ctx context.Context) error {
	if !s.exports["teardown"] {
		return nil
	}
	r, err := s.newRuntime(0, nil, nil)
	if err != nil {
		return err
	}
	data, err := r.setupData()
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, s.settings.teardownTimeout)
	defer cancel()
	if _, err = r.call(tctx, newPlainHost(s.log, s.settings), "teardown", data); err != nil {
		return s.lifecycleError(ctx, "teardown", s.settings.teardownTimeout, err)
	}
	return nil
}

// lifecycleError names a setup or teardown that ran past its time limit (k6's setupTimeout
// and teardownTimeout) rather than the bare deadline.
func (s *Script) lifecycleError(ctx context.Context, fn string, limit time.Duration, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("k6 script %s: %s() did not end within %v (options.%sTimeout)", s.path, fn, limit, fn)
	}
	return err
}

// Run runs the whole script as k6 does: setup, the load (the scenarios after ov and the
// script's thresholds, with the engine options opts), then teardown, which runs even when the
// load failed or a threshold aborted it. The result is the engine's (nil when the load did not
// start); the error joins what went wrong.
func (s *Script) Run(ctx context.Context, ov Overrides, opts ...load.Option) (*load.Result, error) {
	scs, err := s.Scenarios(ov)
	if err != nil {
		return nil, err
	}
	ths, err := s.Thresholds()
	if err != nil {
		return nil, err
	}
	// The script's HTTP options first: an engine option given by the caller wins.
	opts = append([]load.Option{load.WithHTTP(s.HTTPOptions(load.HTTPOptions{}))}, opts...)
	eng, err := load.NewEngine(scs, append(opts, load.WithThresholds(ths...))...)
	if err != nil {
		return nil, fmt.Errorf("k6 script %s: %w", s.path, err)
	}
	if err := s.Setup(ctx); err != nil {
		return nil, err
	}
	res, runErr := eng.Run(ctx)
	return res, errors.Join(runErr, s.Teardown(context.WithoutCancel(ctx)))
}
