package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/utils/clock"

	"github.com/dailydoco/ddp-verify/alerting"
	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/internal/outdir"
	"github.com/dailydoco/ddp-verify/internal/printable"
	"github.com/dailydoco/ddp-verify/platform/httpserver"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/verdict"
)

// Run performs one verification: the phases of the package doc, in order. An error carries
// its exit code ([exitcode.Of]: bad input, infrastructure, interrupted twice); otherwise the
// Outcome's Code says GO, NO-GO or ABORTED.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	r, err := check(o)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if err := r.open(ctx); err != nil {
		return nil, err
	}
	if err := r.preflight(ctx); err != nil {
		return nil, err
	}
	ex, err := r.execute(ctx)
	if err != nil {
		return nil, err
	}
	end := r.drain(ctx, ex)
	r.wall.end()
	rep := r.evaluate(ctx, ex, end)
	rec := r.assemble(ctx, ex, end, rep)
	decide(rec, rep, ex, r.plan.Faults)
	return r.write(rec)
}

// runner is one run's state, built up phase by phase.
type runner struct {
	o     Options
	log   *slog.Logger
	clock clock.WithTicker
	// plan is the plan as it runs: without faults under --no-chaos.
	plan     *profile.Plan
	workload Workload
	runID    string
	dir      string

	// set by open
	reg         *prometheus.Registry
	recovery    *recoveryGauges
	genSrv      *http.Server
	platform    *Platform
	closeTarget func() error

	// set by execute: places the run's instants on the wall clock Prometheus stamps its
	// samples with
	wall *wallClock
}

// check validates every input before anything is created (bad input, exit 2).
func check(o Options) (*runner, error) {
	if o.Plan == nil || o.SLO == nil || o.Target == nil {
		return nil, badInput("run: a plan, an SLO set and a target are required")
	}
	r := &runner{o: o, log: o.Logger, clock: o.Clock, plan: o.Plan, workload: o.Workload}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.clock == nil {
		r.clock = clock.RealClock{}
	}
	if r.workload == nil {
		r.workload = Journeys{}
	}
	if o.NoChaos {
		r.plan = o.Plan.WithoutFaults()
	}
	// The run directory is --out, else made of the run id alone: a profile's name, which
	// may hold separators and "..", never chooses where files go.
	r.runID = newRunID(r.clock.Now(), o.Plan.Name())
	r.dir = o.OutDir
	if r.dir == "" {
		r.dir = filepath.Join("reports", r.runID)
	}
	if err := errors.Join(
		checkWindows(o.SLO, o.Plan.Timeline),
		checkBaselineScale(o.Baseline, o.Plan),
		checkPageReceiver(o.Plan.Profile, o.routing()),
		checkAgents(o.Agents, o.AgentsOn, r.workload),
		checkAgentScripts(o.Agents, r.plan),
		r.workload.Check(r.plan),
		o.Target.Check(r.plan, r.faults()),
		checkOutDir(r.dir),
	); err != nil {
		return nil, exitcode.New(exitcode.BadInput, err)
	}
	return r, nil
}

// checkAgents refuses load agents for a workload they cannot run: an agent builds the
// DailyDoco journeys from the profile it is sent.
func checkAgents(n int, on string, w Workload) error {
	switch on {
	case "", AgentsOnLocal, AgentsOnKubernetes:
	default:
		return badInput("--agents-on %q: want %s or %s", on, AgentsOnLocal, AgentsOnKubernetes)
	}
	if on == AgentsOnKubernetes && n == 0 {
		return badInput("--agents-on kubernetes needs --agents N")
	}
	if _, journeys := w.(Journeys); n > 0 && !journeys {
		return badInput("--agents: load agents run the profile's DailyDoco journeys, not the workload %T", w)
	}
	if n < 0 {
		return badInput("--agents %d: want 0 (no agents) or more", n)
	}
	return nil
}

// checkPageReceiver refuses a profile whose alerts.page_receiver the routing never sends to:
// no critical alert could reach it.
func checkPageReceiver(p *profile.Profile, routes *alerting.Routes) error {
	if p.Alerts == nil || p.Alerts.PageReceiver == "" || slices.Contains(routes.Routed(), p.Alerts.PageReceiver) {
		return nil
	}
	return p.FieldError("alerts.page_receiver", "no route of the Alertmanager configuration %s sends to %q (its routes send to %s)",
		routes.Source, p.Alerts.PageReceiver, strings.Join(routes.Routed(), ", "))
}

// checkOutDir refuses a run directory the run could not write its results into, or one that
// holds an earlier run's files, before anything starts.
func checkOutDir(dir string) error {
	if err := outdir.Check(dir); err != nil {
		return fmt.Errorf("run directory (--out): %w", err)
	}
	return nil
}

// faults says whether the run injects faults.
func (r *runner) faults() bool { return len(r.plan.Faults) > 0 }

// open creates the run directory, serves the generator's metrics and opens the target. When
// the target cannot be opened, a run directory open created is removed again: a run that never
// started leaves nothing behind.
func (r *runner) open(ctx context.Context) (err error) {
	if _, statErr := os.Stat(r.dir); errors.Is(statErr, os.ErrNotExist) {
		defer func() {
			if err != nil {
				_ = os.RemoveAll(r.dir)
			}
		}()
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return infra("create the run directory: %w", err)
	}
	r.reg = prometheus.NewRegistry()
	r.recovery = newRecoveryGauges()
	r.reg.MustRegister(r.recovery.seconds, r.recovery.objective)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return infra("listen for the generator's metrics: %w", err)
	}
	r.genSrv = generatorServer(promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}))
	go r.genSrv.Serve(ln)

	out := r.o.progress()
	fmt.Fprintf(out, "ddp-verify: run %s, profile %s (%s), out %s\n", r.runID, printable.String(r.plan.Name()), r.plan.Timeline.Duration, printable.String(r.dir))
	if _, local := r.o.Target.(*LocalTarget); local {
		fmt.Fprintln(out, "ddp-verify: starting the local reference platform")
	}
	r.platform, err = r.o.Target.Open(ctx, Env{
		RunID: r.runID, Dir: r.dir, Plan: r.plan, Faults: r.faults(),
		Generator: Generator{Addr: ln.Addr().String(), Gatherer: r.reg, Registerer: r.reg}, Logger: r.log, Progress: out,
	})
	if err != nil {
		return err
	}
	r.closeTarget = sync.OnceValue(func() error {
		if r.platform.Close == nil {
			return nil
		}
		return r.platform.Close()
	})
	return nil
}

// generatorTimeouts bound the connections of the generator's metrics server: Prometheus
// scrapes it over keep-alive connections every few seconds and reads a few hundred kilobytes
// at most, so a client that sends or reads slower than this is not Prometheus.
var generatorTimeouts = httpserver.Timeouts{ReadHeader: 5 * time.Second, Read: 10 * time.Second, Write: 30 * time.Second, Idle: 2 * time.Minute}

// generatorServer serves the generator's metrics (h) with generatorTimeouts.
func generatorServer(h http.Handler) *http.Server { return httpserver.New(h, generatorTimeouts) }

// close releases what open made; it runs however the run ended.
func (r *runner) close() {
	r.wall.end()
	if r.closeTarget != nil {
		if err := r.closeTarget(); err != nil {
			r.log.Warn("close the target", "err", err)
		}
	}
	if r.genSrv != nil {
		r.genSrv.Close()
	}
}

// write closes the target (an embedded Prometheus compacts its data into the run directory)
// and writes run.json and the reports.
func (r *runner) write(rec *reports.Run) (*Outcome, error) {
	if err := r.closeTarget(); err != nil {
		r.log.Warn("close the target", "err", err)
	}
	if err := reports.WriteRunDir(r.dir, rec); err != nil {
		return nil, infra("write the run directory: %w", err)
	}
	return &Outcome{Run: rec, Dir: r.dir, Code: codeOf(rec.Verdict), ClockSteps: r.wall.Steps()}, nil
}

func codeOf(v verdict.Verdict) int {
	switch v {
	case verdict.Go:
		return exitcode.Go
	case verdict.Aborted:
		return exitcode.Interrupted
	}
	return exitcode.NoGo
}

// newRunID returns "<UTC time>-<profile>-<6 hex digits>". It is a Kubernetes label value
// (every chaos object carries it) and a safe directory name: the profile part keeps lower-case
// letters, digits and '-', and at most 20 of them, so that the id (at most 44 characters) also
// fits in the chaos objects' names with its random part.
func newRunID(now time.Time, profileName string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + labelPart(profileName, 20) + "-" + hex.EncodeToString(b[:])
}

// labelPart turns s into at most n characters of a label value: lower case, runs of other
// characters as one '-', no '-' at either end; "run" when nothing is left.
func labelPart(s string, n int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	out := b.String()
	if len(out) > n {
		out = strings.TrimRight(out[:n], "-")
	}
	if out == "" {
		return "run"
	}
	return out
}

// checkWindows refuses an SLO set with an objective that names a window the profile does not
// have: a misspelt window would otherwise be skipped silently. A pattern (recovery-*) may match
// nothing, as in a profile without faults; its objective is then listed as not evaluated.
func checkWindows(spec *slo.Spec, tl profile.Timeline) error {
	var errs []error
	for _, o := range spec.Objectives {
		for _, pat := range o.Windows {
			if strings.ContainsAny(pat, "*?[") {
				continue
			}
			if _, ok := tl.Window(pat); !ok {
				errs = append(errs, fmt.Errorf("%s: objective %s: the profile has no window %q (declare it under windows:)", spec.File, o.ID, pat))
			}
		}
	}
	return errors.Join(errs...)
}

// checkBaselineScale refuses a baseline run at another time scale: its windows had other
// lengths, so relative criteria would compare values that mean different things.
func checkBaselineScale(b *reports.Run, p *profile.Plan) error {
	if b == nil {
		return nil
	}
	was := b.TimeScale
	if was == 0 {
		was = 1
	}
	if was != p.TimeScale() {
		return fmt.Errorf("--baseline run %s ran at time scale %g and this run is at %g: its windows had other lengths, so relative criteria would compare unlike values; use a baseline run at time scale %g", b.RunID, was, p.TimeScale(), p.TimeScale())
	}
	return nil
}

// checkAgentScripts refuses load agents for a plan whose scenarios run k6 scripts: the agents
// build the journeys from the plan and have no copy of the scripts.
func checkAgentScripts(n int, plan *profile.Plan) error {
	if n == 0 {
		return nil
	}
	for i, s := range plan.Scenarios {
		if s.Script != "" {
			return badInput("--agents: scenarios[%d] (%s) runs the k6 script %s, which load agents cannot run: run it without --agents", i, s.Load.Name, s.Script)
		}
	}
	return nil
}
