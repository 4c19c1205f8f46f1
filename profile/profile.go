package profile

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dailydoco/ddp-verify/internal/yamlfile"
)

// Profile is one verification profile as written in YAML. Field names follow k6 where k6 has
// the concept (executor parameters are camelCase as in k6 options); the rest are snake_case.
type Profile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Scenarios are the load model: each runs one executor over the journey mix.
	Scenarios []Scenario `yaml:"scenarios"`
	// Chaos is the fault schedule, offsets from the start of the run.
	Chaos []Fault `yaml:"chaos"`
	// Thresholds are k6-style criteria on the load generator's own metrics, in the
	// command-line form METRIC[{tag:value}]:EXPR[ over D][,abortOnFail][,delayAbortEval=D]. With
	// abortOnFail a failing threshold stops the run early (NO-GO) instead of hammering a broken
	// platform.
	Thresholds []string `yaml:"thresholds"`
	// Windows are named time ranges, in addition to the automatic ones (see [Profile.Windows]).
	Windows []WindowSpec `yaml:"windows"`
	// SLO names the objective set: "default" (built in) or a path relative to the profile.
	SLO string `yaml:"slo"`
	// Topology names the reference platform topology: "default" (built in) or a path.
	Topology string `yaml:"topology"`
	// Decision is how objectives are decided from their values and 95 % intervals: "point"
	// (the default: on the value, a result whose interval straddles its threshold flagged
	// low-confidence) or "confident" (PASS or FAIL only when the whole interval says so,
	// otherwise INCONCLUSIVE, which fails the gate). docs/slo.md.
	Decision string `yaml:"decision,omitempty"`
	// Alerts turns on the alert objectives (docs/profiles.md#alerts): each fault's expected
	// alerts must fire and resolve in time, and no critical alert may fire that no fault
	// expects. Absent, the run judges no alert (the timeline still shows those that fired).
	Alerts *Alerting `yaml:"alerts,omitempty"`
	// ForceLoad accepts VUs and arrival rates beyond what this machine can hold (the
	// estimate of [load.MachineCapacity]), as `--force` does: for a machine known to be
	// bigger than the estimate says.
	ForceLoad bool `yaml:"force_load"`

	// source is the file (or "builtin:NAME") the profile was read from, for error messages.
	source string
	// timeScale is the product of the factors [Profile.Scaled] applied; 0 means unscaled.
	timeScale float64
	// doc is the parsed document, for the lines of errors found after scaling.
	doc *yamlfile.Document
	// plan is the resolved plan, set when every rule passed.
	plan *Plan
	// opts are the options it was loaded with; [Profile.Scaled] checks the copy with them.
	opts options
}

// TimeScale is the factor the profile's schedule was scaled by ([Profile.Scaled]); 1 when
// it was not scaled.
func (p *Profile) TimeScale() float64 {
	if p.timeScale == 0 {
		return 1
	}
	return p.timeScale
}

// FieldError is a problem found outside the profile package (a target that cannot run what
// the profile asks) at a field of the profile: "file:line: field: message".
func (p *Profile) FieldError(field, format string, args ...any) error {
	return &FieldError{Source: p.source, Line: p.doc.Line(field), Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Source is where the profile was read from: a path, or builtin:NAME.
func (p *Profile) Source() string { return p.source }

// Scenario is one load scenario with k6's executor names and parameters.
type Scenario struct {
	Name     string `yaml:"name"`
	Executor string `yaml:"executor"`
	// StartTime delays the scenario from the start of the run.
	StartTime    Duration  `yaml:"startTime"`
	GracefulStop *Duration `yaml:"gracefulStop"`

	// ramping-vus
	StartVUs         int       `yaml:"startVUs"`
	Stages           []Stage   `yaml:"stages"`
	GracefulRampDown *Duration `yaml:"gracefulRampDown"`

	// constant-vus, per-vu-iterations, shared-iterations
	VUs         int      `yaml:"vus"`
	Duration    Duration `yaml:"duration"`
	Iterations  int      `yaml:"iterations"`
	MaxDuration Duration `yaml:"maxDuration"`

	// constant-arrival-rate, ramping-arrival-rate
	Rate            float64  `yaml:"rate"`
	StartRate       float64  `yaml:"startRate"`
	TimeUnit        Duration `yaml:"timeUnit"`
	PreAllocatedVUs int      `yaml:"preAllocatedVUs"`
	MaxVUs          int      `yaml:"maxVUs"`
	// Arrivals spaces the iterations of an arrival-rate executor: "even" (the default, as k6
	// does: iteration k starts at k x timeUnit / rate) or "poisson" (exponential gaps at the
	// same mean rate, drawn from the run's seed).
	Arrivals string `yaml:"arrivals,omitempty"`

	// Journeys maps journey names to relative weights; a VU draws its next journey by weight.
	Journeys map[string]float64 `yaml:"journeys"`
	// Script, instead of journeys, is a k6 script (docs/scripts.md), relative to the
	// profile's file, whose exported function Exec (absent: its default function) the
	// scenario's users run; the scenario's executor, not the script's options, sets the load.
	Script string `yaml:"script,omitempty"`
	Exec   string `yaml:"exec,omitempty"`
	// ThinkTime is the pause between a user's steps.
	ThinkTime ThinkTime `yaml:"thinkTime"`
	// Media replaces the documented default capture mix (docs/journeys.md) for this scenario;
	// a short profile uses short clips so that videos complete within its few minutes.
	Media []MediaClass `yaml:"media"`
	// FailureBackoff is how users back off after failed iterations; absent means the default
	// (1s doubling to 30s), 0 turns it off.
	FailureBackoff *FailureBackoff `yaml:"failureBackoff,omitempty"`
}

// MediaClass is one kind of capture users record: a resolution (4k, 1080p or 720p), a range
// of media durations drawn uniformly, and its relative share.
type MediaClass struct {
	Name       string   `yaml:"name"`
	Resolution string   `yaml:"resolution"`
	Min        Duration `yaml:"min"`
	Max        Duration `yaml:"max"`
	Share      float64  `yaml:"share"`
}

// Stage is one segment of a ramping executor: the target is reached linearly over Duration.
// For ramping-vus the target is a VU count, for ramping-arrival-rate a rate per timeUnit.
type Stage struct {
	Name     string   `yaml:"name"`
	Duration Duration `yaml:"duration"`
	Target   float64  `yaml:"target"`
}

// ThinkTime is a per-user pause distribution. Distribution is "constant" (always Mean),
// "uniform" (between Min and Max) or "exponential" (mean Mean, clamped to [Min, Max]).
type ThinkTime struct {
	Distribution string   `yaml:"distribution"`
	Mean         Duration `yaml:"mean"`
	Min          Duration `yaml:"min"`
	Max          Duration `yaml:"max"`
}

// Fault is one planned fault.
type Fault struct {
	Name string `yaml:"name"`
	// Fault is the kind: zone-outage, node-failure, pod-kill or network-delay.
	Fault string `yaml:"fault"`
	// Mode qualifies zone-outage: power-loss or partition.
	Mode     string   `yaml:"mode"`
	At       Duration `yaml:"at"`
	Duration Duration `yaml:"duration"`
	// Recovery is the length of the recovery window that follows the fault.
	Recovery Duration `yaml:"recovery"`
	// RecoveryObjective is how soon after injection the service must be healthy again (client
	// error rate below 1 % for 10 s); default 60s. It is a property of the platform, so
	// --time-scale leaves it unchanged.
	RecoveryObjective Duration    `yaml:"recovery_objective"`
	Target            FaultTarget `yaml:"target"`
	// Latency is the added delay of a network-delay fault.
	Latency Duration `yaml:"latency"`
	// Force allows a power-loss of the only zone that holds a service's replicas.
	Force bool `yaml:"force"`
	// Alerts are the alerts the fault must raise and that must resolve after its recovery;
	// they need the profile's alerts section.
	Alerts []AlertExpectation `yaml:"alerts,omitempty"`
}

// Alerting is the profile's alerts section: how the rules are run and judged.
type Alerting struct {
	// ForScale multiplies every rule's `for` clause in the rule file the harness runs (the
	// local target's embedded Prometheus): a profile that compresses the launch's timeline
	// (nightly: every stage a quarter as long) compresses the alerts' hold times the same way.
	// 0 means 1. A target whose Prometheus runs its own rules cannot scale them: there the
	// expectations of a profile with a for_scale other than 1 are not evaluated.
	ForScale float64 `yaml:"for_scale,omitempty"`
	// PageReceiver, when set, adds the objective that every critical rule and alert is routed
	// to this receiver of the run's Alertmanager configuration (the plan's: pagerduty).
	PageReceiver string `yaml:"page_receiver,omitempty"`
}

// AlertExpectation is one alert a fault must raise: firing within FireWithin of the fault's
// confirmed injection, and no longer firing within ResolveWithin of its confirmed recovery.
type AlertExpectation struct {
	// Alert is the alerting rule's name (the alertname label).
	Alert string `yaml:"alert"`
	// Labels, when given, must all be on the alert (zone: us-east-1a); others may be too.
	Labels        map[string]string `yaml:"labels,omitempty"`
	FireWithin    Duration          `yaml:"fire_within"`
	ResolveWithin Duration          `yaml:"resolve_within"`
}

// AlertForScale is the factor the rules' `for` clauses are multiplied by: 1 unless the
// profile's alerts section says otherwise.
func (p *Profile) AlertForScale() float64 {
	if p.Alerts == nil || p.Alerts.ForScale == 0 {
		return 1
	}
	return p.Alerts.ForScale
}

// FaultTarget selects what a fault hits: a zone, a pool and a count of nodes, a named node, or
// pods by service.
type FaultTarget struct {
	Zone    string `yaml:"zone"`
	Pool    string `yaml:"pool"`
	Count   int    `yaml:"count"`
	Node    string `yaml:"node"`
	Service string `yaml:"service"`
}

// WindowSpec declares a named window: either a stage range (From and To stage names, To
// defaulting to From) or explicit offsets.
type WindowSpec struct {
	Name     string   `yaml:"name"`
	Stage    string   `yaml:"stage"`
	ToStage  string   `yaml:"to_stage"`
	From     Duration `yaml:"from"`
	To       Duration `yaml:"to"`
	Scenario string   `yaml:"scenario"`
}

// Duration is a time.Duration written as in Go ("90s", "5m", "1h30m").
type Duration struct{ time.Duration }

// UnmarshalYAML parses a Go duration string; plain numbers are rejected because their unit
// would be a guess. Its errors are [yamlfile.ValueError]s, so that the decoder goes on and
// reports them at their field with every other problem.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return yamlfile.ValueError(n, "expected a duration such as 30s or 5m")
	}
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return yamlfile.ValueError(n, "invalid duration %q (use a unit: 30s, 5m, 1h)", n.Value)
	}
	d.Duration = v
	return nil
}

// MarshalYAML writes the duration back in Go syntax.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText writes the duration in Go syntax (used by JSON).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Executors are the k6 executor names this tool implements.
var Executors = []string{
	"constant-vus", "ramping-vus", "per-vu-iterations", "shared-iterations",
	"constant-arrival-rate", "ramping-arrival-rate",
}

// FaultKinds are the fault kinds the chaos engine knows.
var FaultKinds = []string{"zone-outage", "node-failure", "pod-kill", "network-delay"}
