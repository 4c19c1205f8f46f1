package run

import (
	"context"
	"io"
	"log/slog"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/profile"
)

// Target is where the platform under test is. The run asks it twice: Check before anything
// is created, Open when the run directory and the generator's metrics exist.
type Target interface {
	// Check validates the target's settings for the plan, touching nothing. faults says
	// whether the plan's faults will run. A problem is bad input ([exitcode.BadInput]).
	Check(plan *profile.Plan, faults bool) error
	// Open starts or connects to the platform for one run. The run calls the returned
	// Platform's Close once, however it ends.
	Open(ctx context.Context, env Env) (*Platform, error)
}

// Env is what a target gets from the run that opens it.
type Env struct {
	// RunID labels everything the run creates (chaos objects, pushed samples).
	RunID string
	// Dir is the run directory; a target keeps its own data below it.
	Dir  string
	Plan *profile.Plan
	// Faults says whether the plan's faults will run: the platform must then have a backend.
	Faults bool
	// Generator is the load generator's own metrics, for the target's Prometheus to scrape
	// (Addr) or for the target to push (Gatherer).
	Generator Generator
	Logger    *slog.Logger
	// Progress takes a target's lines about long steps (starting a cluster); nil discards them.
	Progress io.Writer
}

func (e Env) progress() io.Writer {
	if e.Progress == nil {
		return io.Discard
	}
	return e.Progress
}

// Generator is the load generator's metrics endpoint. A target may add series of its own
// to it (Registerer): they are scraped or pushed with the generator's.
type Generator struct {
	Addr       string // host:port serving /metrics
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
}

// GeneratorJob is the job label of the load generator's own metrics.
const GeneratorJob = "ddp-verify"

// Platform is an opened target: what the run needs of the platform under test.
type Platform struct {
	// Name is the target as run.json records it: "local", or the URL.
	Name string
	// BaseURL is where the load goes.
	BaseURL string
	// Prometheus is where the SLIs are read.
	Prometheus v1.API
	// RemoteWriteURL is where load agents (Options.Agents) push their metrics, which this
	// Prometheus must store with the generator's; empty when it takes none.
	RemoteWriteURL string
	// ExpectJobs are the scrape jobs Prometheus must report healthy before the run starts.
	ExpectJobs []string
	// Chaos injects the plan's faults; nil when none will run. Guardrails bound what each
	// fault may hit: preflight checks every fault's blast radius against them, and the
	// scheduler checks again at injection.
	Chaos      chaos.Backend
	Guardrails chaos.Guardrails
	// Alerts, when set, is where the alerts are read (ALERTS, /api/v1/rules) when they are
	// not in Prometheus: the harness's own rule evaluator over the target's data.
	Alerts v1.API
	// HarnessRules is set when the target's Prometheus evaluates the rule file the harness
	// gave it, with the profile's alerts.for_scale applied; otherwise it runs its own rules
	// as they are, and the expectations of a profile that scales them are not evaluated.
	HarnessRules bool
	// Versions describe the platform and its Prometheus for run.json.
	Versions map[string]string
	// Start, when set, is called once preflight has passed, right before the load: the
	// target starts what only a run that goes ahead needs (a pusher of the generator's
	// metrics, whose first push is its last preflight check). An error stops the run.
	Start func(ctx context.Context) error
	// Flush, when set, is called once the load has ended, before the drain: the target sends
	// what it buffers (a pusher's last samples of the generator's metrics).
	Flush func(ctx context.Context)
	// Close stops what the target started (processes, an embedded Prometheus that compacts its
	// data on close, a pusher). It is called before the run directory is written.
	Close func() error
}

// alertsAPI is where the run reads the alerts: Alerts when the harness evaluates the rules
// itself, else the target's Prometheus.
func (p *Platform) alertsAPI() v1.API {
	if p.Alerts != nil {
		return p.Alerts
	}
	return p.Prometheus
}
