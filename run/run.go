package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/scenarios"
	"github.com/dailydoco/ddp-verify/slo"
)

// Exit codes of a run (DESIGN 4.1).
const (
	ExitGo          = 0
	ExitNoGo        = 1
	ExitBadInput    = 2
	ExitInfra       = 3
	ExitInterrupted = 130
)

// Error carries what went wrong and the exit code it maps to.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func badInput(format string, args ...any) error {
	return &Error{Code: ExitBadInput, Err: fmt.Errorf(format, args...)}
}

func infra(format string, args ...any) error {
	return &Error{Code: ExitInfra, Err: fmt.Errorf(format, args...)}
}

// Options are one verification run's inputs. Profile and SLO are required.
type Options struct {
	Profile *profile.Profile // already scaled by --time-scale
	SLO     *slo.Spec
	// OutDir is the run directory; default reports/<UTC time>-<profile>.
	OutDir string
	// NoChaos skips the fault schedule.
	NoChaos bool
	// Baseline is an earlier run for the SLO file's relative criteria.
	Baseline *reports.Run
	// Topology is the reference platform topology for the local target ("" = the profile's).
	Topology string
	// TopologyOverride replaces the topology outright (tests use a faster model clock).
	TopologyOverride *topology.Topology
	// Exec starts the platform's processes; nil runs this binary's `platform` commands.
	Exec cluster.ExecFunc
	// TargetURL, when set, verifies a platform that is already running at this URL (a staging
	// deployment, or `ddp-verify platform up`) instead of starting the local one. Its SLIs come
	// from PrometheusURL, and the generator's own metrics are pushed there by remote write.
	// Its faults need Chaos (or NoChaos).
	TargetURL      string
	PrometheusURL  string
	RemoteWriteURL string // default PrometheusURL + /api/v1/write
	// Chaos, with a URL target, returns the backend that injects the profile's faults (cmd
	// builds a Chaos Mesh one). It is called once, with the run's id, which must label
	// everything the backend creates, so that `ddp-verify chaos cleanup --run-id` finds what
	// a dead run left. A backend with a Preflight(ctx) error method is checked in preflight.
	// The local target always uses its supervisor's control API.
	Chaos func(runID string) (chaos.Backend, error)
	// Guardrails bound what a URL target's faults may hit (namespace allow-list, maximum
	// node and pod shares): each fault's blast radius is checked against them in preflight
	// and again when it is injected.
	Guardrails chaos.Guardrails
	// ExpectJobs are scrape jobs Prometheus must report healthy in preflight (URL target).
	ExpectJobs []string
	// Headers go with every request the load generator sends that does not set them itself
	// (e.g. a token an API gateway in front of a staging platform requires).
	Headers http.Header
	// PreflightTimeout bounds each preflight check; default 10 s.
	PreflightTimeout time.Duration
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
	// DrainTimeout bounds the wait for accepted videos to finish after the load; default 3 min.
	DrainTimeout time.Duration
	// Seed seeds the users' random draws (journeys, think times, media lengths): the same seed
	// offers the same load. 0 means 1, the default.
	Seed uint64
	// Version is stamped into run.json.
	Version string
	Logger  *slog.Logger
}

// Outcome is what a run decided, with the run directory it wrote.
type Outcome struct {
	Run  *reports.Run
	Dir  string
	Code int // exit code: 0 GO, 1 NO-GO, 130 ABORTED
}

// platformHandle is the system under test as a run sees it.
type platformHandle struct {
	name    string // "local" or the target URL
	url     string // base URL of the gateway or API
	jobs    []prom.Job
	backend chaos.Backend
	guard   chaos.Guardrails
	stop    func() error
	// versions describe the platform for run.json.
	versions map[string]string
}

// Run performs one verification. An *Error carries the exit code of input and infrastructure
// failures; otherwise the Outcome's Code says GO, NO-GO or ABORTED.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	if o.Profile == nil || o.SLO == nil {
		return nil, badInput("run: a profile and an SLO set are required")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := o.Profile
	tl := p.Timeline()
	runID := newRunID(p.Name)
	dir := o.OutDir
	if dir == "" {
		dir = filepath.Join("reports", time.Now().UTC().Format("20060102T150405Z")+"-"+p.Name)
	}
	if err := checkWindows(o.SLO, tl); err != nil {
		return nil, &Error{Code: ExitBadInput, Err: err}
	}
	if err := checkBaselineScale(o.Baseline, p); err != nil {
		return nil, &Error{Code: ExitBadInput, Err: err}
	}
	var (
		plat     *platformHandle
		papi     v1.API
		jobs     []prom.Job
		promName = "embedded v0.316.0"
	)
	if o.TargetURL != "" {
		// Check the target's settings before anything is created, so bad input leaves nothing behind.
		var err error
		if plat, papi, jobs, err = external(o, runID); err != nil {
			return nil, err
		}
		promName = "external " + o.PrometheusURL
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, infra("create the run directory: %w", err)
	}

	// The generator's own metrics, scraped by the same Prometheus as the platform's, so client
	// and server views of the run can be compared in one query.
	reg := prometheus.NewRegistry()
	recovery := newRecoveryGauges()
	reg.MustRegister(recovery.seconds, recovery.objective)
	genLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, infra("listen for the generator's metrics: %w", err)
	}
	genSrv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go genSrv.Serve(genLn)
	defer genSrv.Close()

	fmt.Fprintf(progressOut(o), "ddp-verify: run %s, profile %s (%s), out %s\n", runID, p.Name, tl.Duration, dir)
	closeProm := func() {}
	if o.TargetURL == "" {
		fmt.Fprintf(progressOut(o), "ddp-verify: starting the local reference platform\n")
		if plat, err = startLocal(ctx, o, dir, log); err != nil {
			return nil, err
		}
		jobs = append([]prom.Job{{Name: GeneratorJob, Targets: []string{genLn.Addr().String()}}}, plat.jobs...)
		promSrv, err := prom.New(ctx, prom.Options{Dir: filepath.Join(dir, "tsdb"), Jobs: jobs, Logger: log})
		if err != nil {
			plat.stop()
			return nil, infra("start the embedded Prometheus: %w", err)
		}
		var once sync.Once
		closeProm = func() {
			once.Do(func() {
				if err := promSrv.Close(); err != nil {
					log.Warn("prometheus close", "err", err)
				}
			})
		}
		if papi, err = prometheusAPI(promSrv.URL()); err != nil {
			plat.stop()
			closeProm()
			return nil, err
		}
	}
	defer func() {
		if err := plat.stop(); err != nil {
			log.Warn("platform stop", "err", err)
		}
	}()
	defer closeProm()

	if err := preflight(ctx, plat.url, papi, jobs, o.PreflightTimeout); err != nil {
		return nil, err
	}
	if o.TargetURL != "" && plat.backend != nil {
		if err := chaosPreflight(ctx, plat.backend, chaosFaults(p), plat.guard, o.PreflightTimeout); err != nil {
			return nil, err
		}
	}
	stopPush := func() {}
	if o.TargetURL != "" {
		// Nothing scrapes this process on a remote target: push its metrics instead.
		if stopPush, err = startPusher(ctx, o, reg, runID, log); err != nil {
			return nil, err
		}
	}

	journeyMetrics := dailydoco.NewMetrics()
	reg.MustRegister(journeyMetrics)
	scen, err := scenarios.FromProfile(p, scenarios.Target{BaseURL: plat.url, Metrics: journeyMetrics, RunID: runID})
	if err != nil {
		return nil, badInput("%w", err)
	}
	var ths []load.Threshold
	for _, s := range p.Thresholds {
		th, err := load.ParseThresholdSpec(s)
		if err != nil {
			return nil, badInput("profile threshold %q: %w", s, err)
		}
		ths = append(ths, th)
	}
	eng, err := load.NewEngine(scen, load.WithThresholds(ths...), load.WithLogger(log), load.WithHTTP(load.HTTPOptions{Headers: o.Headers}), load.WithSeed(seedOf(o)))
	if err != nil {
		return nil, badInput("load model: %w", err)
	}
	reg.MustRegister(eng.Collector())

	var sched *chaos.Scheduler
	faults := chaosFaults(p)
	if !o.NoChaos && len(faults) > 0 {
		sched = chaos.NewScheduler(plat.backend, faults, chaos.WithLogger(log), chaos.WithGuardrails(plat.guard))
	}

	// Load and chaos share one start: the scheduler's offsets and the engine's stages are both
	// measured from t0.
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var aborted atomic.Bool
	if o.Interrupt != nil {
		go func() {
			select {
			case <-o.Interrupt:
				aborted.Store(true)
				stopLoad()
			case <-loadCtx.Done():
			}
		}()
	}

	t0 := time.Now()
	var (
		wg       sync.WaitGroup
		loadRes  *load.Result
		loadErr  error
		chaosRes []chaos.Result
		chaosErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		loadRes, loadErr = eng.Run(loadCtx)
		// However the load ended (its schedule, an abortOnFail threshold, an interrupt), no
		// fault stays: the scheduler recovers what is in force and skips what has not started.
		stopLoad()
	}()
	if sched != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chaosRes, chaosErr = sched.Run(loadCtx)
			if chaosErr != nil {
				log.Warn("chaos", "err", chaosErr)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	watch := &watcher{opts: o, tl: tl, t0: t0, eng: eng, sched: sched, api: papi, recovery: recovery, faults: p.Chaos}
	watch.loop(loadCtx, done)
	<-done
	stopPush()
	loadEnd := time.Now()
	if ctx.Err() != nil {
		return nil, &Error{Code: ExitInterrupted, Err: errors.New("interrupted twice: faults were recovered, nothing was evaluated")}
	}
	if loadErr != nil && !errors.Is(loadErr, context.Canceled) && !errors.Is(loadErr, load.ErrThresholdAbort) {
		return nil, infra("load: %w", loadErr)
	}

	// Drain: accepted videos keep processing after the last user leaves; wait for them so that
	// "lost" means lost, bounded so a stuck pipeline cannot hold the run forever.
	if !aborted.Load() {
		fmt.Fprintln(progressOut(o), "ddp-verify: load done, draining the video pipeline")
		drain(ctx, papi, o.DrainTimeout)
	}
	// One more scrape interval so the last samples are in the TSDB.
	waitScrape(ctx)
	end := time.Now()

	evalTL := tl
	if sched == nil {
		// No fault ran, so fault and recovery windows would only ever report NO_DATA; their
		// objectives are listed as not evaluated instead.
		evalTL = withoutFaults(p)
	}
	rep := slo.Evaluate(ctx, papi, o.SLO, runWindows(evalTL, t0, loadEnd, end), slo.Options{Baseline: baselineOf(o.Baseline), Logger: log, TimeScale: p.TimeScale()})
	r := &reports.Run{
		Schema: reports.Schema, RunID: runID, Profile: p.Name, Target: plat.name,
		Versions:  map[string]string{"ddp-verify": o.Version, "go": runtime.Version(), "prometheus": promName},
		StartedAt: t0.UTC(), EndedAt: end.UTC(),
		Timeline:     timelineEvents(tl, t0),
		SLOs:         sloResults(o.SLO, rep),
		Chaos:        chaosResults(p, t0, chaosRes),
		TimeScale:    p.TimeScale(),
		Seed:         seedOf(o),
		NotEvaluated: notEvaluated(rep),
	}
	for k, v := range plat.versions {
		r.Versions[k] = v
	}
	if loadRes != nil && loadRes.Snapshot != nil {
		r.Load = loadResults(loadRes.Snapshot, tl, t0)
	}
	r.Series = series(ctx, papi, loadRes, t0, end)
	r.Videos, r.Cost = videosAndCost(ctx, papi, t0, end)
	if cfg, err := json.Marshal(p); err == nil {
		r.Config = cfg
	}
	decide(r, rep, loadRes, aborted.Load(), chaosErr)
	closeProm()
	if err := reports.WriteRunDir(dir, r); err != nil {
		return nil, infra("write the run directory: %w", err)
	}
	code := ExitGo
	switch r.Verdict {
	case reports.VerdictNoGo:
		code = ExitNoGo
	case reports.VerdictAborted:
		code = ExitInterrupted
	}
	return &Outcome{Run: r, Dir: dir, Code: code}, nil
}

func progressOut(o Options) io.Writer {
	if o.Progress == nil {
		return io.Discard
	}
	return o.Progress
}

// newRunID returns "<UTC time>-<profile>-<6 hex digits>". It is a Kubernetes label value
// (every chaos object carries it): the profile part keeps lower-case letters, digits and
// '-', and at most 20 of them, so that the id (at most 44 characters) also fits in the
// chaos objects' names with its random part.
func newRunID(profileName string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + labelPart(profileName, 20) + "-" + hex.EncodeToString(b[:])
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

// runWindows places the profile's windows on the clock; the "run" window reaches to the end
// of the drain so that videos finished after the last user left are counted.
func runWindows(tl profile.Timeline, t0, loadEnd, end time.Time) []slo.Window {
	ws := sloWindows(tl, t0, loadEnd)
	for i := range ws {
		if ws[i].Name == profile.WindowRun {
			ws[i].End = end
		}
	}
	return ws
}

// withoutFaults is the profile's timeline with no fault, for a run with --no-chaos.
func withoutFaults(p *profile.Profile) profile.Timeline {
	q := *p
	q.Chaos = nil
	return q.Timeline()
}

// checkWindows refuses an SLO set with an objective that names a window the profile does not
// have: a misspelt window would otherwise be skipped silently. A pattern (recovery-*) may match
// nothing, as in a profile without faults; its objective is then listed as skipped.
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

// seedOf is the run's seed: Options.Seed, or 1.
func seedOf(o Options) uint64 {
	if o.Seed == 0 {
		return 1
	}
	return o.Seed
}

// checkBaselineScale refuses a baseline run at another time scale: its windows had other
// lengths, so relative criteria would compare values that mean different things.
func checkBaselineScale(b *reports.Run, p *profile.Profile) error {
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

// baselineOf turns an earlier run's results into the evaluator's baseline.
func baselineOf(r *reports.Run) *slo.Baseline {
	if r == nil {
		return nil
	}
	b := &slo.Baseline{RunID: r.RunID, Values: map[string]float64{}}
	for _, s := range r.SLOs {
		if s.Value != nil && !math.IsNaN(*s.Value) {
			b.Set(s.ID, s.Window, *s.Value)
		}
	}
	return b
}
