package run

import (
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/dailydoco/ddp-verify/alerting"
	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/platform/alerts"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
)

// Defaults of the optional settings.
const (
	// DefaultPreflightTimeout bounds each preflight check, so a missing target fails within seconds.
	DefaultPreflightTimeout = 10 * time.Second
	// DefaultDrainTimeout bounds the wait for accepted videos to finish after the load.
	DefaultDrainTimeout = 3 * time.Minute
)

// Options are one verification run's inputs. Plan, SLO and Target are required.
type Options struct {
	// Plan is the resolved profile (already scaled by --time-scale).
	Plan *profile.Plan
	// SLO is the objective set.
	SLO *slo.Spec
	// Target is where the platform under test is: [*LocalTarget] or [*URLTarget].
	Target Target
	// Workload is what the virtual users do; nil runs the plan's DailyDoco journeys.
	Workload Workload
	// OutDir is the run directory; default reports/<run id>.
	OutDir string
	// NoChaos skips the fault schedule; the fault and recovery windows' objectives are then
	// listed as not evaluated.
	NoChaos bool
	// Baseline is an earlier run for the SLO file's relative criteria.
	Baseline *reports.Run
	// Headers go with every request the load generator sends that does not set them itself
	// (e.g. a token an API gateway in front of a staging platform requires).
	Headers http.Header
	// AlertRouting routes the alerts that fired to their receivers (timeline events, and the
	// profile's alerts.page_receiver objective); nil is the deployment plan's Alertmanager
	// configuration (platform/alerts).
	AlertRouting *alerting.Routes
	// Agents, when above 0, spreads the load over that many agent processes on this machine,
	// each running its execution segment, coordinated and merged by the run (package agents);
	// AgentExec starts them (nil: this binary's `agent` command).
	Agents    int
	AgentExec AgentExec
	// AgentsOn is where the agents run: AgentsOnLocal (processes, the default) or
	// AgentsOnKubernetes (the pods of an Indexed Job, AgentJob, in a cluster; they reach the
	// run at AgentJob.CoordinatorURL, by default its loopback address, which the pods of the
	// local cluster of `ddp-verify cluster up` reach).
	AgentsOn string
	AgentJob AgentJob
	// Seed seeds the users' random draws (journeys, think times, media lengths): the same seed
	// offers the same load. 0 means 1, the default.
	Seed uint64
	// PreflightTimeout bounds each preflight check; default [DefaultPreflightTimeout].
	PreflightTimeout time.Duration
	// DrainTimeout bounds the wait for accepted videos to finish; default [DefaultDrainTimeout].
	DrainTimeout time.Duration
	// RecoveryTimeout bounds the wait for a fault's undo to be confirmed; default
	// chaos.DefaultRecoveryTimeout. A fault still in force after it is reported as left.
	RecoveryTimeout time.Duration
	// Interrupt is closed (or receives) on the first Ctrl-C: load stops, faults are recovered,
	// what was collected is evaluated and the report is written marked ABORTED. Cancelling
	// the context passed to Run is the second Ctrl-C: faults are still recovered, but nothing
	// more is evaluated.
	Interrupt <-chan struct{}
	// Progress receives live status; Terminal selects the in-place view.
	Progress io.Writer
	Terminal bool
	// ProgressEvery is the interval of progress updates; default 1 s on a terminal, 10 s otherwise.
	ProgressEvery time.Duration
	// Clock is the run's time: t0, the phases' waits, the engine's and the scheduler's
	// schedules; nil is the real clock.
	Clock clock.WithTicker
	// Version is stamped into run.json.
	Version string
	Logger  *slog.Logger
}

// Outcome is what a run decided, with the run directory it wrote.
type Outcome struct {
	Run  *reports.Run
	Dir  string
	Code int // exit code: exitcode.Go, NoGo or Interrupted
	// ClockSteps are the steps of the machine's wall clock during the run, which its windows
	// followed (wallClock); the log says each one too.
	ClockSteps []ClockStep
}

func (o Options) seed() uint64 {
	if o.Seed == 0 {
		return 1
	}
	return o.Seed
}

// planRouting is the deployment plan's Alertmanager routing (platform/alerts), loaded once.
var planRouting = sync.OnceValue(func() *alerting.Routes {
	r, err := alerting.LoadRoutes("builtin:alertmanager", alerts.Routing)
	if err != nil {
		panic("the embedded Alertmanager configuration does not load: " + err.Error()) // a build defect, caught by its tests
	}
	return r
})

// routing is the run's alert routing.
func (o Options) routing() *alerting.Routes {
	if o.AlertRouting == nil {
		return planRouting()
	}
	return o.AlertRouting
}

func (o Options) progress() io.Writer {
	if o.Progress == nil {
		return io.Discard
	}
	return o.Progress
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func badInput(format string, args ...any) error { return exitcode.BadInputf(format, args...) }

func infra(format string, args ...any) error { return exitcode.Infraf(format, args...) }
