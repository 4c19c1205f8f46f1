package run

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/dailydoco/ddp-verify/alerting"
	"github.com/dailydoco/ddp-verify/chaos/chaostest"
	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/slo/slotest"
	"github.com/dailydoco/ddp-verify/verdict"
)

// fakeTarget is a platform without processes, for testing the run's sequencing: a real HTTP
// server (httptest) takes the load, a real embedded Prometheus over a TSDB filled with
// slotest's frames answers the queries, and chaostest's backend records the fault calls. It
// is a stand-in for the platform only (what the platform would do under faults is the local
// target's tests' business); everything the run itself does is real.
type fakeTarget struct {
	t         *testing.T
	checkErr  error
	openErr   error
	notReady  bool
	status    int // the answer to load requests; 0 is 200
	backend   *chaostest.Backend
	onRequest func() // called on every load request

	mu   sync.Mutex
	seen []string // "METHOD /path?query" of every request but /ready, in order

	requests atomic.Int64
	closes   atomic.Int32
	opened   atomic.Bool
}

func (f *fakeTarget) Check(*profile.Plan, bool) error { return f.checkErr }

func (f *fakeTarget) Open(ctx context.Context, env Env) (*Platform, error) {
	f.opened.Store(true)
	if f.openErr != nil {
		return nil, f.openErr
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			if f.notReady {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		f.requests.Add(1)
		f.mu.Lock()
		f.seen = append(f.seen, r.Method+" "+r.URL.RequestURI())
		f.mu.Unlock()
		if f.onRequest != nil {
			f.onRequest()
		}
		if f.status != 0 {
			w.WriteHeader(f.status)
		}
	}))
	f.t.Cleanup(srv.Close)
	api, err := prometheusAPI(fakePrometheus(f.t))
	if err != nil {
		return nil, err
	}
	p := &Platform{Name: "fake", BaseURL: srv.URL, Prometheus: api, Versions: map[string]string{"platform": "fake"},
		Close: func() error { f.closes.Add(1); srv.Close(); return nil }}
	if env.Faults {
		p.Chaos = f.backend
	}
	return p, nil
}

// fakePrometheus serves slotest's frames from a minute ago to five minutes ahead, so that the
// windows of a run starting now have data, with an empty video pipeline (every accepted video
// finished: slotest's constant backlog of 3 would be unfinished videos).
func fakePrometheus(t *testing.T) string {
	t.Helper()
	srv, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	frames := slotest.Frames(base, 360, time.Second, 1)
	for i, f := range frames {
		for j, s := range f.Series {
			if s.Labels.Get("__name__") == "dailydoco_queue_depth" {
				frames[i].Series[j].Value = 0
			}
		}
	}
	if err := slotest.Append(srv.Appender(context.Background()), frames, "job", "fake"); err != nil {
		t.Fatal(err)
	}
	return srv.URL()
}

// hits is a workload of users that request the base URL every 20 ms.
type hits struct{}

func (hits) Check(*profile.Plan) error { return nil }

func (hits) Scenarios(plan *profile.Plan, baseURL, _ string, _ prometheus.Registerer) ([]load.ScenarioConfig, error) {
	var out []load.ScenarioConfig
	for _, s := range plan.Scenarios {
		cfg := s.Load
		cfg.Exec = load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/v1/videos", nil)
			if err != nil {
				return err
			}
			c := vu.HTTP()
			c.DiscardBody = true
			if _, err := c.Do(ctx, "get", req); err != nil {
				return err
			}
			return vu.Sleep(ctx, 20*time.Millisecond)
		})
		out = append(out, cfg)
	}
	return out, nil
}

const passingSLO = `objectives:
  - id: requests_seen
    query: sum(increase(http_server_request_duration_seconds_count[$WINDOW]))
    op: ">"
    value: 0
    windows: [run]
`

// fakeRun builds a run's options against a fake target; edit them before calling Run.
func fakeRun(t *testing.T, sloYAML string) (Options, *fakeTarget) {
	t.Helper()
	plan, err := profile.Resolve(filepath.Join("testdata", "fake.yaml"), 1)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := slo.Parse("test.slo.yaml", []byte(sloYAML))
	if err != nil {
		t.Fatal(err)
	}
	target := &fakeTarget{t: t, backend: &chaostest.Backend{}}
	return Options{Plan: plan, SLO: spec, Target: target, Workload: hits{}, OutDir: filepath.Join(t.TempDir(), "run"),
		DrainTimeout: 500 * time.Millisecond, ProgressEvery: time.Second, Version: "test"}, target
}

var faultCycle = []string{"select node-a", "select node-a", "inject node-a", "wait-injected node-a", "recover node-a", "wait-recovered node-a"}

// The whole pipeline on a healthy fake platform: preflight (which resolves the fault once),
// load and the fault on one clock, drain, evaluation, the record and the reports; GO, exit 0,
// and the target closed exactly once.
func TestPipelineGo(t *testing.T) {
	t.Parallel()
	o, target := fakeRun(t, passingSLO)
	out, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != exitcode.Go || out.Run.Verdict != verdict.Go {
		t.Fatalf("exit %d, verdict %s, reasons %q", out.Code, out.Run.Verdict, out.Run.Reasons)
	}
	if got := target.backend.Calls(); !slices.Equal(got, faultCycle) {
		t.Errorf("fault calls %q, want %q", got, faultCycle)
	}
	if target.requests.Load() == 0 || out.Run.Load.Total.Count == 0 {
		t.Errorf("%d requests reached the target, run.json counts %d", target.requests.Load(), out.Run.Load.Total.Count)
	}
	if n := target.closes.Load(); n != 1 {
		t.Errorf("target closed %d times, want once", n)
	}
	back, err := reports.ReadRun(filepath.Join(out.Dir, reports.RunFile))
	if err != nil {
		t.Fatal(err)
	}
	if back.Target != "fake" || back.Versions["platform"] != "fake" || len(back.Chaos) != 1 || back.Chaos[0].InjectedAt == nil || back.Chaos[0].RecoveredAt == nil {
		t.Errorf("run.json: target %q, versions %v, chaos %+v", back.Target, back.Versions, back.Chaos)
	}
	for _, f := range []string{reports.HTMLFile, reports.JUnitFile, reports.MarkdownFile} {
		if _, err := os.Stat(filepath.Join(out.Dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// Missing data never passes: an objective over a metric nobody exports is NO_DATA, and the
// run is NO-GO (exit 1) naming it.
func TestPipelineNoDataIsNoGo(t *testing.T) {
	t.Parallel()
	o, _ := fakeRun(t, passingSLO+`  - id: exported_by_nobody
    query: sum(increase(nobody_exports_this_total[$WINDOW]))
    op: ">"
    value: 0
    windows: [run]
`)
	out, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != exitcode.NoGo || !strings.Contains(strings.Join(out.Run.Reasons, "\n"), "exported_by_nobody in run is NO_DATA") {
		t.Fatalf("exit %d, reasons %q; want NO-GO naming the objective without data", out.Code, out.Run.Reasons)
	}
}

// A fault the backend could not inject makes the run NO-GO, whatever the objectives say.
func TestPipelineFaultErrorIsNoGo(t *testing.T) {
	t.Parallel()
	o, target := fakeRun(t, passingSLO)
	target.backend.InjectErr = map[string]error{"node-a": errors.New("node-a: permission denied")}
	out, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != exitcode.NoGo || !strings.Contains(strings.Join(out.Run.Reasons, "\n"), "fault node-a") {
		t.Fatalf("exit %d, reasons %q; want NO-GO naming the fault", out.Code, out.Run.Reasons)
	}
}

// An abortOnFail threshold stops the load early: NO-GO, with the threshold named.
func TestPipelineThresholdAbortIsNoGo(t *testing.T) {
	t.Parallel()
	o, target := fakeRun(t, passingSLO)
	target.status = http.StatusInternalServerError
	var err error
	if o.Plan, err = profile.Resolve(filepath.Join("testdata", "fake-abort.yaml"), 1); err != nil {
		t.Fatal(err)
	}
	out, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != exitcode.NoGo || !strings.Contains(strings.Join(out.Run.Reasons, "\n"), "load stopped early: threshold http_req_failed:rate<0.5") {
		t.Fatalf("exit %d, reasons %q; want NO-GO from the threshold", out.Code, out.Run.Reasons)
	}
}

// The first interrupt stops the load, recovers the fault in force, skips the drain, evaluates
// what was collected and writes a report marked ABORTED (exit 130).
func TestPipelineFirstInterruptAborts(t *testing.T) {
	t.Parallel()
	o, target := fakeRun(t, passingSLO)
	interrupt := make(chan struct{})
	var once sync.Once
	target.backend.OnInjected = func() { once.Do(func() { close(interrupt) }) }
	o.Interrupt = interrupt
	out, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != exitcode.Interrupted || out.Run.Verdict != verdict.Aborted {
		t.Fatalf("exit %d, verdict %s; want 130 ABORTED", out.Code, out.Run.Verdict)
	}
	if got := target.backend.Calls(); !slices.Equal(got, faultCycle) {
		t.Errorf("fault calls %q, want the fault recovered: %q", got, faultCycle)
	}
	if _, err := reports.ReadRun(filepath.Join(out.Dir, reports.RunFile)); err != nil {
		t.Errorf("the ABORTED report: %v", err)
	}
}

// The second interrupt (the run's context) ends the run at once with exit 130: the fault is
// still recovered, nothing is evaluated or written, and the target is closed.
func TestPipelineSecondInterruptExits(t *testing.T) {
	t.Parallel()
	o, target := fakeRun(t, passingSLO)
	ctx, cancel := context.WithCancel(t.Context())
	target.backend.OnInjected = cancel
	_, err := Run(ctx, o)
	if exitcode.Of(err) != exitcode.Interrupted {
		t.Fatalf("err %v, want exit 130", err)
	}
	if got := target.backend.Calls(); !slices.Contains(got, "wait-recovered node-a") {
		t.Errorf("fault calls %q: the fault was not recovered", got)
	}
	if target.closes.Load() != 1 {
		t.Errorf("target closed %d times, want once", target.closes.Load())
	}
	if _, err := os.Stat(filepath.Join(o.OutDir, reports.RunFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run.json written after a second interrupt: %v", err)
	}
}

// Input the target refuses is bad input (exit 2) before anything is created; a target that
// cannot be opened fails the run and leaves no run directory behind; a platform that is not
// ready fails the preflight (exit 3) before any load is sent.
func TestPipelineEarlyFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(*fakeTarget)
		code  int
		want  string
	}{
		{"target refuses its settings", func(f *fakeTarget) { f.checkErr = errors.New("--prometheus-url is required") }, exitcode.BadInput, "--prometheus-url is required"},
		{"target cannot open", func(f *fakeTarget) { f.openErr = exitcode.Infraf("cluster unreachable") }, exitcode.Infra, "cluster unreachable"},
		{"platform not ready", func(f *fakeTarget) { f.notReady = true }, exitcode.Infra, "is not ready"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, target := fakeRun(t, passingSLO)
			o.PreflightTimeout = time.Second
			tc.setup(target)
			_, err := Run(t.Context(), o)
			if exitcode.Of(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v (exit %d), want exit %d saying %q", err, exitcode.Of(err), tc.code, tc.want)
			}
			if target.requests.Load() != 0 || len(target.backend.Calls()) > 1 {
				t.Errorf("%d load requests and fault calls %q after a failure before the load", target.requests.Load(), target.backend.Calls())
			}
			if tc.code == exitcode.BadInput && target.opened.Load() {
				t.Error("the target was opened despite bad input")
			}
			if _, err := os.Stat(o.OutDir); tc.code == exitcode.BadInput || target.openErr != nil {
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the run directory is left behind: %v", err)
				}
			}
		})
	}
}

// queuePrometheus serves dailydoco_queue_depth = depth(s) at each second s of the hour from base.
func queuePrometheus(t *testing.T, base time.Time, depth func(s int) float64) string {
	t.Helper()
	srv, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	app := srv.Appender(context.Background())
	for s := 0; s <= 3600; s++ {
		if _, err := app.Append(0, labels.FromStrings("__name__", "dailydoco_queue_depth", "job", "fake"), base.Add(time.Duration(s)*time.Second).UnixMilli(), depth(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return srv.URL()
}

// The drain waits on the run's clock: with videos that never finish it gives up after its
// timeout, saying how many are still in flight; an empty pipeline ends it once the emptiness
// is confirmed a settle time later, and a video that shows up in that time (accepted late)
// keeps it waiting. A fake clock makes all three exact and instant.
func TestDrainOnTheRunClock(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		depth     func(s int) float64
		wantEmpty bool
		inFlight  float64
		wantWait  time.Duration
	}{
		{"never finish", func(int) float64 { return 3 }, false, 3, 3 * time.Minute},
		{"empty", func(int) float64 { return 0 }, true, 0, settle},
		// Empty at first, then one late video for five seconds: confirmed empty only after it.
		{"late video", func(s int) float64 { return map[bool]float64{true: 1}[s >= 1 && s < 6] }, true, 0, 6*time.Second + settle},
	} {
		api, err := prometheusAPI(queuePrometheus(t, base, tc.depth))
		if err != nil {
			t.Fatal(err)
		}
		clk := clocktesting.NewFakeClock(base)
		r := &runner{clock: clk, platform: &Platform{Prometheus: api}}
		type result struct {
			empty    bool
			inFlight float64
		}
		done := make(chan result)
		go func() {
			e, n := r.waitDrained(t.Context(), 3*time.Minute)
			done <- result{e, n}
		}()
		var got result
	wait:
		for {
			select {
			case got = <-done:
				break wait
			default:
			}
			if clk.HasWaiters() {
				clk.Step(time.Second)
			} else {
				runtime.Gosched()
			}
		}
		if got.empty != tc.wantEmpty || got.inFlight != tc.inFlight {
			t.Errorf("%s: drained %v with %g in flight, want %v with %g", tc.name, got.empty, got.inFlight, tc.wantEmpty, tc.inFlight)
		}
		if waited := clk.Since(base); waited < tc.wantWait || waited > tc.wantWait+time.Second {
			t.Errorf("%s: waited %s on the run's clock, want %s", tc.name, waited, tc.wantWait)
		}
	}
}

// With --no-chaos the plan's faults are skipped: the record names them (every report then says
// resilience was not verified), their windows' objectives are listed as not evaluated, and the
// backend is never called.
func TestPipelineNoChaosSaysResilienceNotVerified(t *testing.T) {
	t.Parallel()
	o, target := fakeRun(t, passingSLO+`  - id: errors_during_faults
    query: vector(0)
    op: "<"
    value: 1
    windows: ["fault-*"]
`)
	o.NoChaos = true
	out, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Run.FaultsSkipped, []string{"node-a"}) || !strings.Contains(out.Run.ResilienceNote(), "resilience NOT verified") {
		t.Errorf("faults skipped %v, note %q", out.Run.FaultsSkipped, out.Run.ResilienceNote())
	}
	if len(out.Run.NotEvaluated) != 1 || out.Run.NotEvaluated[0].ID != "errors_during_faults" {
		t.Errorf("not evaluated %+v, want the fault window's objective", out.Run.NotEvaluated)
	}
	if calls := target.backend.Calls(); len(calls) != 0 || len(out.Run.Chaos) != 0 {
		t.Errorf("fault calls %q, chaos %+v under --no-chaos", calls, out.Run.Chaos)
	}
	for _, f := range []string{reports.MarkdownFile, reports.HTMLFile, reports.JUnitFile} {
		b, err := os.ReadFile(filepath.Join(out.Dir, f))
		if err != nil || !strings.Contains(string(b), "resilience NOT verified") {
			t.Errorf("%s does not say resilience was not verified (%v)", f, err)
		}
	}
}

// A profile's name never chooses where files go: a profile named x/../../../y writes its run
// directory, and everything in it, under reports/<run id> in the working directory, and
// nothing anywhere else.
func TestPipelineProfileNameChoosesNoPath(t *testing.T) {
	o, _ := fakeRun(t, passingSLO)
	text, err := os.ReadFile(filepath.Join("testdata", "fake.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	file := filepath.Join(root, "hostile.yaml")
	if err := os.WriteFile(file, []byte(strings.Replace(string(text), "name: fake", `name: "x/../../../y"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if o.Plan, err = profile.Resolve(file, 1); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	o.OutDir = ""
	out, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(out.Dir) != "reports" || filepath.Base(out.Dir) != out.Run.RunID || strings.Contains(out.Run.RunID, "..") {
		t.Fatalf("run directory %q for run id %q, want reports/<run id>", out.Dir, out.Run.RunID)
	}
	if out.Run.Profile != "x/../../../y" {
		t.Errorf("run.json names profile %q", out.Run.Profile)
	}
	runDir := filepath.Join(work, out.Dir) + string(filepath.Separator)
	var files int
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == file {
			return err
		}
		files++
		if !strings.HasPrefix(path, runDir) {
			t.Errorf("%s written outside the run directory %s", path, runDir)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 4 {
		t.Errorf("%d files in the run directory, want run.json and the three reports", files)
	}
}

// An explicit run directory that holds anything, or is not a directory we can write in, is
// bad input before anything starts: the target is never opened and nothing is written.
func TestPipelineRefusesBadOutDir(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	full := filepath.Join(tmp, "earlier-run")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, reports.RunFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dir, want string }{
		{"non-empty", full, "is not empty"},
		{"a file", filepath.Join(full, reports.RunFile), "is a file, not a directory"},
		{"under a file", filepath.Join(full, reports.RunFile, "out"), "is a file, not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, target := fakeRun(t, passingSLO)
			o.OutDir = tc.dir
			_, err := Run(t.Context(), o)
			if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "run directory (--out)") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v (exit %d), want exit 2 saying %q", err, exitcode.Of(err), tc.want)
			}
			if target.opened.Load() {
				t.Error("the target was opened despite a bad run directory")
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(full, reports.RunFile)); err != nil || string(b) != "{}" {
		t.Errorf("the earlier run's run.json was touched: %q, %v", b, err)
	}
}

// The alerts that fired come from the ALERTS series, one timeline event per firing span, in
// order, with severity and subject as the detail. As Prometheus's rule manager does, each span
// ends with a staleness marker when the alert resolves.
func TestAlertEventsFromALERTS(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srv, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	app := srv.Appender(context.Background())
	firing := func(name, severity, node string, from, to int) {
		l := labels.FromStrings("__name__", "ALERTS", "alertname", name, "alertstate", "firing", "severity", severity, "node", node, "job", "x")
		for s := from; s <= to+1; s++ {
			v := 1.0
			if s == to+1 {
				v = math.Float64frombits(value.StaleNaN) // resolved
			}
			if _, err := app.Append(0, l, base.Add(time.Duration(s)*time.Second).UnixMilli(), v); err != nil {
				t.Fatal(err)
			}
		}
	}
	firing("NodeNotReady", "critical", "gpu-1a-1", 10, 20)
	firing("NodeNotReady", "critical", "gpu-1a-1", 40, 45) // fired again after a gap
	firing("NodeHighCPU", "warning", "general-1a-1", 30, 35)
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	api, err := prometheusAPI(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{log: slog.New(slog.DiscardHandler), platform: &Platform{Prometheus: api}}
	got := r.alertEvents(t.Context(), base, base.Add(time.Minute))
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	want := []reports.Event{
		{Kind: reports.EventAlert, Name: "NodeNotReady", Detail: "severity=critical node=gpu-1a-1", Start: at(10), End: at(20)},
		{Kind: reports.EventAlert, Name: "NodeHighCPU", Detail: "severity=warning node=general-1a-1", Start: at(30), End: at(35)},
		{Kind: reports.EventAlert, Name: "NodeNotReady", Detail: "severity=critical node=gpu-1a-1", Start: at(40), End: at(45)},
	}
	if !slices.EqualFunc(got, want, func(a, b reports.Event) bool {
		return a.Kind == b.Kind && a.Name == b.Name && a.Detail == b.Detail && a.Start.Equal(b.Start) && a.End.Equal(b.End)
	}) {
		t.Errorf("alert events\n got %+v\nwant %+v", got, want)
	}
	// The spans the alert objectives judge carry the alert's labels, not the series' name.
	spans, err := alerting.ReadSpans(t.Context(), api, base, base.Add(time.Minute), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 3 || spans[0].String() != `NodeNotReady{job="x",node="gpu-1a-1",severity="critical"}` || spans[0].Severity() != "critical" {
		t.Errorf("spans %v", spans)
	}
}

// A profile scenario whose users run a k6 script's function (scripted.yaml: script and exec)
// instead of journeys: the run's default workload loads the script against the platform
// (__ENV.BASE_URL), runs its setup() once before the load and its teardown(data) once after,
// and the users run browse(data) under the profile's executor, not the script's options (two
// users, not fifty). Setup's and teardown's requests are not part of the load's count.
func TestPipelineRunsAProfileScript(t *testing.T) {
	t.Parallel()
	o, target := fakeRun(t, passingSLO)
	plan, err := profile.Resolve(filepath.Join("testdata", "scripted.yaml"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if s := plan.Scenarios[0]; s.Script != filepath.Join("testdata", "scripted.js") || s.Exec != "browse" {
		t.Fatalf("the plan's script %q, exec %q: want it beside the profile, and browse", s.Script, s.Exec)
	}
	o.Plan, o.Workload = plan, nil
	out, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != exitcode.Go {
		t.Fatalf("exit %d, verdict %s, reasons %q", out.Code, out.Run.Verdict, out.Run.Reasons)
	}
	target.mu.Lock()
	seen := slices.Clone(target.seen)
	target.mu.Unlock()
	if len(seen) < 3 || seen[0] != "POST /v1/sessions" || seen[len(seen)-1] != "DELETE /v1/sessions?token=from-setup" {
		t.Fatalf("requests %q: want the setup's first and the teardown's last", seen)
	}
	users := map[string]bool{}
	for _, r := range seen[1 : len(seen)-1] {
		user, ok := strings.CutPrefix(r, "GET /v1/videos?token=from-setup&vu=")
		if !ok {
			t.Fatalf("load request %q: want every one to list the videos with setup's token", r)
		}
		users[user] = true
	}
	if len(users) != 2 || !users["1"] || !users["2"] {
		t.Errorf("the requests came from users %v, want the profile's 1 and 2", users)
	}
	if got, want := out.Run.Load.Total.Count, int64(len(seen)-2); got != want {
		t.Errorf("run.json counts %d requests, want the load's %d", got, want)
	}
}

// A profile script is refused before anything starts when it does not load, exports no such
// function, or carries thresholds a profile's run would not apply; and with load agents,
// which cannot run it.
func TestProfileScriptBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("thresholds.js", "export const options = { thresholds: { checks: ['rate==1'] } };\nexport default function () {}\n")
	write("ws.js", "import ws from 'k6/ws';\nexport default function () {}\n")
	write("plain.js", "export default function () {}\n")
	write("agent.js", "export const options = { userAgent: 'mine', noConnectionReuse: true };\nexport default function () {}\n")
	profileFor := func(script, exec string) *profile.Plan {
		y := strings.Replace(string(must(os.ReadFile(filepath.Join("testdata", "scripted.yaml")))), "script: scripted.js", "script: "+script, 1)
		y = strings.Replace(y, "exec: browse", "exec: "+exec, 1)
		plan, err := profile.Resolve(write("p-"+script+exec+".yaml", y), 1)
		if err != nil {
			t.Fatal(err)
		}
		return plan
	}
	for _, tc := range []struct {
		plan   *profile.Plan
		agents int
		want   string
	}{
		{profileFor("ws.js", "default"), 0, `module "k6/ws" is not supported`},
		{profileFor("thresholds.js", "default"), 0, "its options.thresholds do not gate a profile's run"},
		{profileFor("agent.js", "default"), 0, "its options noConnectionReuse, userAgent do not apply in a profile's run"},
		{profileFor("plain.js", "browse"), 0, `"browse" is not an exported function`},
		{profileFor("missing.js", "default"), 0, "missing.js: no such file"},
		{profileFor("ws.js", "default"), 2, "--agents: scenarios[0] (users) runs the k6 script"},
	} {
		o, target := fakeRun(t, passingSLO)
		o.Plan, o.Workload, o.Agents = tc.plan, nil, tc.agents
		_, err := Run(t.Context(), o)
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want bad input with %q", tc.plan.Scenarios[0].Script, err, tc.want)
		}
		if target.opened.Load() {
			t.Errorf("%s: the target was opened: the script was not checked first", tc.plan.Scenarios[0].Script)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A profile script whose setup() throws ends the run before the load: exit 3 naming the
// script's error, and not one load request sent.
func TestProfileScriptSetupThatThrows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "broken.js")
	if err := os.WriteFile(script, []byte("export function setup() { throw new Error('no test account'); }\nexport default function () {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := scriptedProfile(t, script)
	o, target := fakeRun(t, passingSLO)
	o.Plan, o.Workload = plan, nil
	_, err := Run(t.Context(), o)
	if exitcode.Of(err) != exitcode.Infra || !strings.Contains(err.Error(), "no test account") || !strings.Contains(err.Error(), "nothing was sent") {
		t.Fatalf("%v: want exit 3 with the setup's error", err)
	}
	if n := target.requests.Load(); n != 0 {
		t.Errorf("%d requests reached the target, want none", n)
	}
}

// A profile script that calls test.abort() ends the run: exit 3 with the script's reason,
// nothing evaluated (an aborted load is never a GO).
func TestProfileScriptTestAbort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "abort.js")
	src := "import exec from 'k6/execution';\nexport default function () { exec.test.abort('no test data'); }\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := scriptedProfile(t, script)
	o, _ := fakeRun(t, passingSLO)
	o.Plan, o.Workload = plan, nil
	_, err := Run(t.Context(), o)
	if exitcode.Of(err) != exitcode.Infra || !strings.Contains(err.Error(), "test aborted: no test data") {
		t.Fatalf("%v: want exit 3 with the script's reason", err)
	}
}

// scriptedProfile is testdata/scripted.yaml with its users running script's default function.
func scriptedProfile(t *testing.T, script string) *profile.Plan {
	t.Helper()
	y := strings.Replace(string(must(os.ReadFile(filepath.Join("testdata", "scripted.yaml")))), "script: scripted.js", "script: "+script, 1)
	y = strings.Replace(y, "exec: browse", "exec: default", 1)
	prof := filepath.Join(t.TempDir(), "scripted.yaml")
	if err := os.WriteFile(prof, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := profile.Resolve(prof, 1)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}
