package scenarios

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
	"github.com/dailydoco/ddp-verify/extensions/dailydoco/jsmodule"
	"github.com/dailydoco/ddp-verify/k6script"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
)

// FromPlan builds the load engine's scenarios from a resolved plan: each scenario keeps its
// name, executor and parameters as the plan resolved them, and runs a [Mix] of its journeys and
// think time against target, or its k6 script's function (scriptScenario). Every problem in
// every scenario is reported, each prefixed with "scenarios[i]" (the plan has checked the load
// model; what is left is the journeys: an unknown journey name, a mix that cannot be drawn;
// and the scripts: one that does not load, a function it does not export).
func FromPlan(p *profile.Plan, target Target) ([]load.ScenarioConfig, error) {
	var out []load.ScenarioConfig
	var errs []error
	scripts := map[string]*k6script.Script{}
	for i, s := range p.Scenarios {
		at := fmt.Sprintf("scenarios[%d] (%s)", i, s.Load.Name)
		if s.Script != "" {
			cfg := s.Load
			exec, err := scriptScenario(s, target, scripts)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", at, err))
				continue
			}
			cfg.Exec = exec
			out = append(out, cfg)
			continue
		}
		t := target
		if len(s.Media) > 0 {
			t.Media = mediaFromProfile(s.Media)
		}
		mix, err := NewMix(s.Journeys, ThinkFromProfile(s.ThinkTime), t)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
			continue
		}
		cfg := s.Load
		switch cfg.Executor.(type) {
		case load.ConstantArrivalRate, load.RampingArrivalRate:
			mix.ForArrivals()
		}
		cfg.Exec = mix
		out = append(out, cfg)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// mediaFromProfile converts a profile's capture mix.
func mediaFromProfile(classes []profile.MediaClass) MediaMix {
	out := make(MediaMix, 0, len(classes))
	for i, c := range classes {
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("%s-%d", c.Resolution, i+1)
		}
		out = append(out, MediaClass{Name: name, Resolution: dailydoco.Resolution(c.Resolution),
			MinSeconds: c.Min.Seconds(), MaxSeconds: c.Max.Seconds(), Share: c.Share})
	}
	return out
}

// scriptScenario is the function of a k6 script that a scenario's users run (each script loaded
// once per plan). The scenario's executor sets the load, over the script's own execution
// options; thresholds in the script are refused, not dropped: a gate the user wrote must not be
// silently absent (the profile's thresholds gate a run).
func scriptScenario(s profile.ScenarioPlan, t Target, loaded map[string]*k6script.Script) (load.Scenario, error) {
	scr, ok := loaded[s.Script]
	if !ok {
		var err error
		// The script may import k6/x/dailydoco: its clients are the built-in journeys' (their
		// journey timings reach the run's Prometheus).
		if scr, err = k6script.Load(s.Script, scriptEnv(t), k6script.WithExtension(jsmodule.Extension(t.ClientConfig()))); err != nil {
			return nil, err
		}
		loaded[s.Script] = scr
	}
	if slices.Contains(scr.OptionNames(), "thresholds") {
		return nil, fmt.Errorf("k6 script %s: its options.thresholds do not gate a profile's run: move them to the profile's thresholds", s.Script)
	}
	if names := scr.HTTPOptionNames(); len(names) > 0 {
		return nil, fmt.Errorf("k6 script %s: its options %s do not apply in a profile's run (the run's HTTP client serves every scenario): remove them", s.Script, strings.Join(names, ", "))
	}
	return scr.Exec(s.Exec)
}

// scriptEnv is a profile script's __ENV: this process's environment, with BASE_URL the
// platform's address and RUN_ID the run's.
func scriptEnv(t Target) map[string]string {
	env := k6script.ProcessEnv()
	env["BASE_URL"] = t.BaseURL
	env["RUN_ID"] = t.RunID
	return env
}
