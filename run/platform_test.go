package run

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/verdict"

	"github.com/dailydoco/ddp-verify/platform/alerts"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
)

// The test binary doubles as every platform process, so these tests run the real reference
// platform (real processes, real HTTP) with its faster test model clock.
func TestMain(m *testing.M) {
	runIfTestAgent()
	runIfPlatformPod()
	// The Chaos Mesh tests' controller-runtime clients log nothing the tests read.
	ctrllog.SetLogger(logr.Discard())
	platformtest.Main(m)
}

func options(t *testing.T, profileFile, sloFile string) Options {
	t.Helper()
	p, err := profile.Resolve(filepath.Join("testdata", profileFile), 1)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := slo.Load(filepath.Join("testdata", sloFile))
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Plan: p, SLO: spec, OutDir: t.TempDir(),
		Target:       &LocalTarget{Topology: platformtest.Topology(), Exec: platformtest.Exec},
		DrainTimeout: 20 * time.Second, Version: "test",
	}
}

func TestHealthyRunIsGo(t *testing.T) {
	o := options(t, "short.yaml", "reachable.slo.yaml")
	o.Seed = 7
	out, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != exitcode.Go || out.Run.Verdict != verdict.Go {
		t.Fatalf("code %d verdict %s, reasons %q", out.Code, out.Run.Verdict, out.Run.Reasons)
	}
	if out.Run.Load.Total.Count == 0 {
		t.Error("run.json reports no request")
	}
	back, err := reports.ReadRun(filepath.Join(out.Dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if back.RunID != out.Run.RunID || len(back.SLOs) != 2 || back.Seed != 7 {
		t.Errorf("run.json read back: run %s, %d objectives, seed %d (want 7)", back.RunID, len(back.SLOs), back.Seed)
	}
	for _, f := range []string{"report.html", "junit.xml", "summary.md"} {
		if _, err := os.Stat(filepath.Join(out.Dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// The gate can fail: an objective tightened beyond reach gives NO-GO (exit 1), and the
// report names it.
func TestUnreachableObjectiveIsNoGo(t *testing.T) {
	o := options(t, "short.yaml", "unreachable.slo.yaml")
	out, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != exitcode.NoGo || out.Run.Verdict != verdict.NoGo {
		t.Fatalf("code %d verdict %s, want NO-GO", out.Code, out.Run.Verdict)
	}
	if !strings.Contains(strings.Join(out.Run.Reasons, "\n"), "api_latency_p95_1ms") {
		t.Errorf("reasons %q do not name the failing objective", out.Run.Reasons)
	}
	summary, err := os.ReadFile(filepath.Join(out.Dir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(summary), "API latency p95 &lt; 1 ms") && !strings.Contains(string(summary), "API latency p95 < 1 ms") {
		t.Errorf("summary.md does not name the failing objective:\n%s", summary)
	}
}

// A time-scaled run leaves out the objectives that need full-length windows, names them in
// run.json with the reason, and decides on the rest.
func TestTimeScaledRunListsNotEvaluated(t *testing.T) {
	o := options(t, "short.yaml", "fulllength.slo.yaml")
	scaled, err := o.Plan.Profile.Scaled(0.5)
	if err != nil {
		t.Fatal(err)
	}
	if o.Plan, err = scaled.Plan(); err != nil {
		t.Fatal(err)
	}
	out, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	back, err := reports.ReadRun(filepath.Join(out.Dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if back.Verdict != verdict.Go || out.Code != exitcode.Go {
		t.Errorf("verdict %s (exit %d), reasons %q; want GO on the objectives evaluated", back.Verdict, out.Code, back.Reasons)
	}
	if back.TimeScale != 0.5 {
		t.Errorf("run.json time_scale %g, want 0.5", back.TimeScale)
	}
	if len(back.SLOs) != 1 || back.SLOs[0].ID != "requests_seen" {
		t.Errorf("evaluated %+v, want requests_seen only", back.SLOs)
	}
	if len(back.NotEvaluated) != 1 || back.NotEvaluated[0].ID != "api_latency_p95_1ms" || !back.NotEvaluated[0].Key ||
		!strings.Contains(back.NotEvaluated[0].Reason, "time-scaled (x0.5)") {
		t.Errorf("not evaluated %+v, want the full-length objective with its reason", back.NotEvaluated)
	}
}

// faultWatcher closes interrupt the first time the progress output shows a fault in force.
type faultWatcher struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	interrupt chan struct{}
	once      sync.Once
}

func (w *faultWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), "faults=general-node") {
		w.once.Do(func() { close(w.interrupt) })
	}
	return len(p), nil
}

// Interrupting a run while a fault is in force recovers the fault, exits 130 and still writes
// a report, marked ABORTED.
func TestInterruptDuringFaultRecoversAndAborts(t *testing.T) {
	o := options(t, "interrupt.yaml", "reachable.slo.yaml")
	w := &faultWatcher{interrupt: make(chan struct{})}
	o.Progress, o.ProgressEvery, o.Interrupt = w, time.Second, w.interrupt
	start := time.Now()
	out, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.interrupt:
	default:
		t.Fatalf("the fault never showed in the progress output:\n%s", w.buf.String())
	}
	if out.Code != exitcode.Interrupted || out.Run.Verdict != verdict.Aborted {
		t.Fatalf("code %d verdict %s, want 130 ABORTED", out.Code, out.Run.Verdict)
	}
	if d := time.Since(start); d > 55*time.Second {
		t.Logf("note: the run took %s; the interrupt should have cut its 60 s of load short", d)
	}
	if len(out.Run.Chaos) != 1 {
		t.Fatalf("chaos results %+v", out.Run.Chaos)
	}
	c := out.Run.Chaos[0]
	if c.InjectedAt == nil || c.RecoveredAt == nil || c.Error != "" {
		t.Errorf("fault not injected and recovered cleanly: %+v", c)
	}
	back, err := reports.ReadRun(filepath.Join(out.Dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if back.Verdict != verdict.Aborted {
		t.Errorf("run.json verdict %s", back.Verdict)
	}
}

// A preflight failure exits 3 within seconds and says what to fix.
func TestPreflightFailures(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ready" {
			http.NotFound(w, r)
		}
	}))
	defer ready.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // nothing listens there any more
	tests := []struct {
		name, target, prometheus string
		want                     string
	}{
		{"no platform at the target URL", closedURL, ready.URL, "is the platform running and the URL right?"},
		{"unreachable Prometheus", ready.URL, closedURL, "Prometheus is not reachable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := options(t, "short.yaml", "reachable.slo.yaml")
			o.Target, o.NoChaos = &URLTarget{URL: tc.target, PrometheusURL: tc.prometheus}, true
			o.PreflightTimeout = 2 * time.Second
			_, err := Run(context.Background(), o)
			if exitcode.Of(err) != exitcode.Infra {
				t.Fatalf("got %v, want an infrastructure error (exit 3)", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "refused") {
				t.Errorf("error %q should say %q and why", err, tc.want)
			}
		})
	}
}

// A URL target: the platform is already running and scraped by a Prometheus of its own; the
// generator's metrics reach that Prometheus by remote write.
func TestURLTarget(t *testing.T) {
	c := platformtest.Start(t, platformtest.Topology())
	srv, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir(), RemoteWriteReceiver: true,
		Jobs: []prom.Job{{Name: "platform", FileSD: []string{c.FileSDPath()}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	o := options(t, "short.yaml", "reachable.slo.yaml")
	o.Target, o.NoChaos = &URLTarget{URL: c.GatewayURL(), PrometheusURL: srv.URL(), ExpectJobs: []string{"platform"}}, true
	out, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Run.Verdict != verdict.Go {
		t.Fatalf("verdict %s: %q", out.Run.Verdict, out.Run.Reasons)
	}
	for _, s := range out.Run.SLOs {
		if s.ID == "error_rate" && s.Value == nil {
			t.Errorf("the pushed client metrics did not reach Prometheus: %+v", s)
		}
	}
	if out.Run.Target != c.GatewayURL() {
		t.Errorf("target %q", out.Run.Target)
	}
}

// A URL target's alerts are its Prometheus's own: one that evaluates no alerting rule gives
// NO_DATA for the alert objectives, naming why (no page could have fired), never a pass by
// omission; one that evaluates the plan's rules lets them pass, and so does the harness
// evaluating the plan's rules itself over a Prometheus that runs none (--alert-rules).
func TestURLTargetAlerts(t *testing.T) {
	c := platformtest.Start(t, platformtest.Topology())
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, alerts.Rules, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		rules   []string // the target Prometheus's
		harness []byte   // the rules the harness evaluates itself
		want    verdict.Status
	}{
		{"no rules", nil, nil, verdict.NoData},
		{"the plan's rules", []string{rules}, nil, verdict.Pass},
		{"the plan's rules evaluated by the harness", nil, alerts.Rules, verdict.Pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir(), RemoteWriteReceiver: true, RuleFiles: tc.rules,
				Jobs: []prom.Job{{Name: "platform", FileSD: []string{c.FileSDPath()}}}})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			o := options(t, "short-alerts.yaml", "reachable.slo.yaml")
			o.Target = &URLTarget{URL: c.GatewayURL(), PrometheusURL: srv.URL(), ExpectJobs: []string{"platform"}, AlertRules: tc.harness}
			out, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"critical_alerts_unexpected", "critical_alerts_paged"} {
				r := objectiveByID(out.Run.SLOs, id)
				if r == nil || r.Status != tc.want {
					t.Fatalf("%s: %+v, want %s", id, r, tc.want)
				}
				if tc.want == verdict.NoData && !strings.Contains(r.Error, "no alerting rule with severity=critical") {
					t.Errorf("%s says %q, want it to name the missing rules", id, r.Error)
				}
			}
			if wantGo := tc.want == verdict.Pass; (out.Run.Verdict == verdict.Go) != wantGo {
				t.Errorf("verdict %s: %q", out.Run.Verdict, out.Run.Reasons)
			}
			if v := out.Run.Versions["alert rules"]; (tc.harness != nil) != strings.Contains(v, "evaluated by ddp-verify") {
				t.Errorf("run.json says the alert rules were %q", v)
			}
		})
	}
}

// objectiveByID is the first result of the objective id, or nil.
func objectiveByID(results []verdict.Objective, id string) *verdict.Objective {
	for i := range results {
		if results[i].ID == id {
			return &results[i]
		}
	}
	return nil
}

// A URL target whose Prometheus holds no fixed (managed-service) cost gets the cost objectives
// NO_DATA, naming the missing source, never a cost computed without it (about half the plan's
// month); with the costs declared in the run configuration (fixed_costs:) they are pushed with
// the generator's metrics and count.
func TestURLTargetCostNeedsAFixedCostSource(t *testing.T) {
	c := platformtest.Start(t, platformtest.Topology())
	srv, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir(), RemoteWriteReceiver: true,
		Jobs: []prom.Job{{Name: "platform", FileSD: []string{c.FileSDPath()}, DropMetrics: []string{"dailydoco_fixed_hourly_cost"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	spec, err := slo.Default()
	if err != nil {
		t.Fatal(err)
	}
	spec.Objectives = slices.DeleteFunc(spec.Objectives, func(o slo.Objective) bool {
		return o.ID != "cost_per_video" && o.ID != "monthly_cost_projection"
	})
	declared := &FixedCosts{AsOf: "2026-11-01", Source: "test", MonthlyUSD: map[string]float64{"postgres": 1500, "redis": 500}}
	for _, tc := range []struct {
		name  string
		fixed *FixedCosts
	}{{"no fixed-cost source", nil}, {"declared in the run configuration", declared}} {
		t.Run(tc.name, func(t *testing.T) {
			o := options(t, "short.yaml", "reachable.slo.yaml")
			o.SLO, o.NoChaos = spec, true
			o.Target = &URLTarget{URL: c.GatewayURL(), PrometheusURL: srv.URL(), FixedCosts: tc.fixed}
			out, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			byID := map[string]verdict.Objective{}
			for _, r := range out.Run.SLOs {
				byID[r.ID] = r
			}
			monthly := byID["monthly_cost_projection"]
			if tc.fixed == nil {
				for _, id := range []string{"cost_per_video", "monthly_cost_projection"} {
					if r := byID[id]; r.Status != verdict.NoData || !strings.Contains(r.Error, "no dailydoco_fixed_hourly_cost series") || !strings.Contains(r.Error, "fixed_costs:") {
						t.Errorf("%s: %s %q, want NO_DATA naming the missing fixed cost", id, r.Status, r.Error)
					}
				}
				if out.Run.Verdict != verdict.NoGo || out.Run.Cost.Unknown == "" {
					t.Errorf("verdict %s, cost %+v: want NO-GO and the cost unknown", out.Run.Verdict, out.Run.Cost)
				}
				return
			}
			// The nodes' cost plus the declared $2,000 a month: the projection counts both.
			if monthly.Value == nil || *monthly.Value < 2000 || out.Run.Cost.Unknown != "" {
				t.Errorf("monthly projection %+v, cost %+v: want the declared fixed cost counted", monthly, out.Run.Cost)
			}
		})
	}
}
