package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
	"github.com/dailydoco/ddp-verify/extensions/dailydoco/jsmodule"
	"github.com/dailydoco/ddp-verify/k6script"
	"github.com/dailydoco/ddp-verify/load"
)

// validateScript checks every flag of `load SCRIPT.js` and loads the script (its syntax, its
// imports and its options), all before the first request.
func (o *loadOptions) validateScript(path string) error {
	if err := errors.Join(o.checkScriptFlags(), o.checkOut(), o.parseThresholds(), o.parseSegment()); err != nil {
		return err
	}
	ov, err := o.overrides()
	if err != nil {
		return err
	}
	env, err := o.scriptEnv()
	if err != nil {
		return err
	}
	// k6/x/dailydoco's clients default to the BASE_URL the script is given.
	if o.script, err = k6script.Load(path, env, k6script.WithExtension(jsmodule.Extension(dailydoco.Config{BaseURL: env["BASE_URL"]}))); err != nil {
		return err
	}
	if o.scenarios, err = o.script.Scenarios(ov); err != nil {
		return err
	}
	th, err := o.script.Thresholds()
	if err != nil {
		return err
	}
	o.parsedTh = append(th, o.parsedTh...)
	return o.checkScriptCapacity()
}

// checkScriptFlags refuses the flags of the one-URL load: the script names its requests.
func (o *loadOptions) checkScriptFlags() error {
	var errs []error
	for flag, set := range map[string]bool{"--url": o.url != "", "--rate": o.rate != 0, "--max-vus": o.maxVUs != 0, "--method": o.method != "GET"} {
		if set {
			errs = append(errs, fmt.Errorf("%s: not with a script (its requests are in the script)", flag))
		}
	}
	return errors.Join(errs...)
}

// overrides are k6's execution flags over the script's options.
func (o *loadOptions) overrides() (k6script.Overrides, error) {
	ov := k6script.Overrides{VUs: o.vus, Duration: o.duration, Iterations: o.iterations}
	if o.vus < 0 || o.duration < 0 || o.iterations < 0 {
		return ov, errors.New("--vus, --duration and --iterations must not be negative")
	}
	stages := append([]string(nil), o.stageFlags...)
	if o.stages != "" {
		stages = append(stages, o.stages)
	}
	if len(stages) > 0 {
		st, err := load.ParseStages(strings.Join(stages, ","))
		if err != nil {
			return ov, fmt.Errorf("--stage: %w", err)
		}
		ov.Stages, o.stageList = st, st
	}
	return ov, nil
}

// scriptEnv is the script's __ENV, as k6 makes it: this process's environment, then --env.
func (o *loadOptions) scriptEnv() (map[string]string, error) {
	env := k6script.ProcessEnv()
	for _, kv := range o.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: want NAME=VALUE", kv)
		}
		env[k] = v
	}
	return env, nil
}

// checkScriptCapacity holds the script's scenarios, all at their peak at once, to this
// machine's capacity (as checkCapacity does for one URL).
func (o *loadOptions) checkScriptCapacity() error {
	if o.force {
		return nil
	}
	var vus int64
	for _, sc := range o.scenarios {
		vus += sc.Executor.PeakVUs()
	}
	if err := load.MachineCapacity().CheckVUs(vus); err != nil {
		return fmt.Errorf("the script's scenarios: %w; --force runs it anyway", err)
	}
	return nil
}

// setup runs the script's setup() before the load; its failure ends the command with exit 1,
// as a failed test (k6 ends with a script error).
func (o *loadOptions) setup(ctx context.Context) error {
	if o.script == nil {
		return nil
	}
	if err := o.script.Setup(ctx); err != nil {
		if ctx.Err() != nil {
			return exitcode.New(exitcode.Interrupted, nil)
		}
		return exitcode.New(exitcode.NoGo, fmt.Errorf("setup: %w", err))
	}
	return nil
}

// teardown runs the script's teardown(data) after the load, also when it was interrupted.
func (o *loadOptions) teardown(ctx context.Context) error {
	if o.script == nil {
		return nil
	}
	if err := o.script.Teardown(context.WithoutCancel(ctx)); err != nil {
		return exitcode.New(exitcode.NoGo, fmt.Errorf("teardown: %w", err))
	}
	return nil
}

// totalDuration is when the last scenario's schedule ends.
func totalDuration(scs []load.ScenarioConfig) time.Duration {
	var end time.Duration
	for _, sc := range scs {
		end = max(end, sc.StartTime+sc.Executor.TotalDuration())
	}
	return end
}
