package run

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/scenarios"
)

// Workload is what the virtual users do: it turns the plan's load model into the engine's
// scenarios against the platform. The default is the plan's DailyDoco journeys; scripted
// scenarios are another workload.
type Workload interface {
	// Check validates the workload against the plan before anything starts (bad input).
	Check(plan *profile.Plan) error
	// Scenarios builds the engine's scenarios against baseURL. reg receives the workload's
	// own metrics (for example per-journey durations), scraped or pushed with the generator's.
	Scenarios(plan *profile.Plan, baseURL, runID string, reg prometheus.Registerer) ([]load.ScenarioConfig, error)
}

// Journeys is the default workload: each scenario of the plan runs its mix of the DailyDoco
// journeys (package scenarios).
type Journeys struct{}

var _ Workload = Journeys{}

// Check builds the journey mixes once, without a platform, so that an unknown journey or a
// mix that cannot be drawn is reported before anything starts.
func (Journeys) Check(plan *profile.Plan) error {
	if _, err := scenarios.FromPlan(plan, scenarios.Target{BaseURL: "http://127.0.0.1:1"}); err != nil {
		return badInput("%s: %w", plan.Profile.Source(), err)
	}
	return nil
}

// Scenarios builds the journey mixes against baseURL, with the journeys' metrics in reg.
func (Journeys) Scenarios(plan *profile.Plan, baseURL, runID string, reg prometheus.Registerer) ([]load.ScenarioConfig, error) {
	m := dailydoco.NewMetrics()
	if err := reg.Register(m); err != nil {
		return nil, err
	}
	return scenarios.FromPlan(plan, scenarios.Target{BaseURL: baseURL, Metrics: m, RunID: runID})
}
