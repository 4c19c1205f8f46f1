package scenarios

import (
	"errors"
	"fmt"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
)

// FromPlan builds the load engine's scenarios from a resolved plan: each scenario keeps its
// name, executor and parameters as the plan resolved them, and runs a [Mix] of its journeys and
// think time against target. Every problem in every scenario is reported, each prefixed with
// "scenarios[i]" (the plan has checked the load model; what is left is the journeys: an
// unknown journey name, a mix that cannot be drawn).
func FromPlan(p *profile.Plan, target Target) ([]load.ScenarioConfig, error) {
	var out []load.ScenarioConfig
	var errs []error
	for i, s := range p.Scenarios {
		at := fmt.Sprintf("scenarios[%d] (%s)", i, s.Load.Name)
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
