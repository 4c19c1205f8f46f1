package run

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	pmodel "github.com/prometheus/common/model"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/platform/alerts"
	"github.com/dailydoco/ddp-verify/platform/dashboards"
	"github.com/dailydoco/ddp-verify/platform/model"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/verdict"
)

// mutation is one way to break the reference platform on purpose, and what the gate must say.
type mutation struct {
	name   string
	breaks func(*topology.Topology)
	// rule, when set, breaks the plan's alert rules instead of the platform.
	rule *ruleEdit
	// fail are the objectives of the default SLO set that must fail (FAIL, NO_DATA or ERROR)
	// in at least one window, and no other may.
	fail []string
	// reasons are what else the verdict must say (video accounting, faults).
	reasons []string
}

// mutations are the defects of docs/platform.md ("Defects for the gate-mutation suite") with
// the objectives each must fail: the gate is proven by failing, each time for its own reason.
// The autoscaling-off knob needs a load beyond the starting cluster, so it runs in
// TestVerdictStableAcrossSeeds's batch (checkAutoscaling).
var mutations = []mutation{
	{name: "healthy"},
	{name: "slower GPU transcoding", breaks: func(t *topology.Topology) { t.Defects.GPUSlowdown = 8 },
		fail: []string{"video_processing_p95_realtime"}},
	// The stuck videos' backlog only grows: at the plateau, and after the fault, when the
	// service is never back to its pre-fault backlog either (recovery_time).
	{name: "a resolution whose videos never finish", breaks: func(t *topology.Topology) { t.Defects.HungResolution = model.R1080p },
		fail:    []string{"plateau_backlog_growth", "recovery_time", "video_processing_p95_realtime", "video_success", "videos_unfinished"},
		reasons: []string{"accepted videos never finished"}},
	{name: "a resolution no worker picks up", breaks: func(t *topology.Topology) { t.Defects.UnclaimedResolution = model.R720p },
		fail:    []string{"plateau_backlog_growth", "recovery_time", "video_processing_p95_realtime", "video_success", "videos_unfinished"},
		reasons: []string{"accepted videos never finished"}},
	{name: "an AI step that fails a share of videos", breaks: func(t *topology.Topology) { t.Defects.AIFailureShare = 0.3 },
		fail: []string{"video_processing_p95_realtime", "video_success"}},
	// A lost video is in no queue, so nothing but the accounting sees it: videos_lost, and the
	// two objectives whose denominator is every accepted video.
	{name: "videos lost between the GPU and the AI step", breaks: func(t *topology.Topology) { t.Defects.LostHandoffShare = 0.2 },
		fail:    []string{"video_processing_p95_realtime", "video_success", "videos_lost"},
		reasons: []string{"accepted videos were lost"}},
	{name: "added API latency", breaks: func(t *topology.Topology) { t.Defects.APIAddedLatency = topology.Duration(150 * time.Millisecond) },
		fail: []string{"api_latency_p95", "api_latency_p95_client", "api_latency_during_faults", "recovery_time"}},
	{name: "a share of 5xx answers", breaks: func(t *topology.Topology) { t.Defects.APIErrorShare = 0.2 },
		fail: []string{"availability", "error_rate", "availability_during_faults", "error_rate_during_faults", "recovery_time",
			// APIErrorRateHigh pages in steady state, as it should: no fault explains it.
			"critical_alerts_unexpected"}},
	{name: "pricier instances", breaks: func(t *topology.Topology) { t.Defects.PriceFactor = topology.MaxPriceFactor },
		fail: []string{"cost_per_video", "monthly_cost_projection"}},
	{name: "a fault that is not recovered", breaks: func(t *topology.Topology) { t.Defects.IgnoreRestores = true },
		fail:    []string{nodeAlertResolved},
		reasons: []string{"fault general-node", "faults left in force"}},
	// The alert rules broken, the platform healthy: a page that never comes, and one that
	// comes in steady state.
	{name: "an alert rule that cannot fire",
		rule: &ruleEdit{`expr: kube_node_status_condition{condition="Ready",status="true"} == 0`, `expr: kube_node_status_condition{condition="Ready",status="true"} < -1`},
		fail: []string{nodeAlertFired, nodeAlertResolved}, reasons: []string{`NodeNotReady{pool="general"} did not fire after general-node's injection`}},
	{name: "an alert rule that fires in steady state",
		rule: &ruleEdit{"    ) > 1\n", "    ) >= 0\n"},
		fail: []string{"critical_alerts_unexpected"}, reasons: []string{"critical alerts no fault expects: APIErrorRateHigh"}},
}

// The alert objectives of mutation.yaml's node failure.
const (
	nodeAlertFired    = `alert_fired:NodeNotReady{pool="general"}`
	nodeAlertResolved = `alert_resolved:NodeNotReady{pool="general"}`
)

// ruleEdit replaces old, which must occur once in the plan's alert rules, with new.
type ruleEdit struct{ old, new string }

// apply returns the plan's rules with the edit made.
func (e *ruleEdit) apply(t *testing.T) []byte {
	t.Helper()
	if n := strings.Count(string(alerts.Rules), e.old); n != 1 {
		t.Fatalf("the plan's alert rules hold %q %d times, want once", e.old, n)
	}
	return []byte(strings.Replace(string(alerts.Rules), e.old, e.new, 1))
}

// concurrentRuns is how many of a suite's runs go at once: each is a real platform of a dozen
// mostly idle processes, and a 2-core machine carries a few without inflating their latency.
const concurrentRuns = 3

// runAll runs every options concurrently (at most concurrentRuns at a time) and returns their
// outcomes in order; a run that fails with an error fails the test.
func runAll(t *testing.T, opts []Options) []*Outcome {
	t.Helper()
	out := make([]*Outcome, len(opts))
	errs := make([]error, len(opts))
	sem := make(chan struct{}, concurrentRuns)
	var wg sync.WaitGroup
	for i, o := range opts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = Run(context.Background(), o)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	return out
}

// suiteRun is a run of the default SLO set on a platform of topo under the plan.
func suiteRun(t *testing.T, plan *profile.Plan, spec *slo.Spec, topo *topology.Topology, seed uint64) Options {
	return Options{Plan: plan, SLO: spec, OutDir: t.TempDir(), Version: "test", Seed: seed,
		Target:       &LocalTarget{Topology: topo, Exec: platformtest.Exec},
		DrainTimeout: 20 * time.Second, RecoveryTimeout: 10 * time.Second}
}

// The gate-mutation suite: the reference platform broken on purpose, one defect at a time,
// gets NO-GO (exit 1) with exactly the failing objectives documented for that defect, and the
// healthy platform gets GO under the same profile and SLO set. The runs go concurrently; each
// case then checks its own outcome.
func TestGateMutations(t *testing.T) {
	plan, err := profile.Resolve(filepath.Join("testdata", "mutation.yaml"), 1)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := slo.Default()
	if err != nil {
		t.Fatal(err)
	}
	opts := make([]Options, len(mutations))
	for i, m := range mutations {
		topo := platformtest.Topology()
		if m.breaks != nil {
			m.breaks(topo)
		}
		opts[i] = suiteRun(t, plan, spec, topo, 1)
		if m.rule != nil {
			opts[i].Target.(*LocalTarget).AlertRules = m.rule.apply(t)
		}
	}
	outs := runAll(t, opts)
	for i, m := range mutations {
		t.Run(m.name, func(t *testing.T) { checkMutation(t, m, outs[i]) })
	}
	t.Run("alert timeline", func(t *testing.T) { checkAlertDuringFault(t, outs[0]) })
	t.Run("dashboards return data", func(t *testing.T) { checkDashboardsReturnData(t, outs[0]) })
	t.Run("k6 names beside the engine's", func(t *testing.T) { checkK6Series(t, outs[0]) })
}

// checkK6Series checks that the run's Prometheus holds the load under k6's names too
// (load.Engine.K6Collector): at the run's end, k6_http_reqs_total counts the same requests
// as ddp_client_requests_total (both read from the engine at the same scrape), and the
// request trend and the checks are there.
func checkK6Series(t *testing.T, out *Outcome) {
	api := savedPrometheus(t, out)
	value := func(q string) float64 {
		v, _, _, err := api.Query(t.Context(), q, out.Run.EndedAt)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		vec, ok := v.(pmodel.Vector)
		if !ok || len(vec) != 1 {
			t.Fatalf("%s: %v, want one sample", q, v)
		}
		return float64(vec[0].Value)
	}
	k6, ddp := value("sum(k6_http_reqs_total)"), value("sum(ddp_client_requests_total)")
	if k6 != ddp || k6 == 0 {
		t.Errorf("k6_http_reqs_total %v, ddp_client_requests_total %v: want the same, not 0", k6, ddp)
	}
	if p := value("max(k6_http_req_duration_p95)"); !(p > 0 && p < 60) {
		t.Errorf("k6_http_req_duration_p95 %v, want seconds", p)
	}
	if r := value("min(k6_checks_rate)"); !(r >= 0 && r <= 1) {
		t.Errorf("k6_checks_rate %v, want a share", r)
	}
}

// checkAlertDuringFault checks that the embedded Prometheus evaluated the plan's alert rules
// over the real platform: the node the fault took down raised NodeNotReady, which started
// while the fault was in force and is in run.json's timeline, routed by the plan's
// Alertmanager configuration to the pager and the team's channel.
func checkAlertDuringFault(t *testing.T, out *Outcome) {
	t.Helper()
	if len(out.Run.Chaos) != 1 || out.Run.Chaos[0].InjectedAt == nil || out.Run.Chaos[0].RecoveredAt == nil {
		t.Fatalf("the healthy run's fault: %+v", out.Run.Chaos)
	}
	from, to := *out.Run.Chaos[0].InjectedAt, out.Run.Chaos[0].RecoveredAt.Add(5*time.Second)
	for _, e := range out.Run.Timeline {
		if e.Kind == reports.EventAlert && e.Name == "NodeNotReady" && strings.Contains(e.Detail, "node=general-") &&
			slices.Equal(e.Receivers, []string{"pagerduty", "slack"}) &&
			!e.Start.Before(from) && !e.Start.After(to) {
			return
		}
	}
	t.Errorf("no NodeNotReady alert for the general node between %s and %s; timeline %+v", from, to, out.Run.Timeline)
}

// checkMutation checks one run of the suite: its verdict and exit code, exactly the failing
// objectives documented for its defect, and the other reasons it must give.
func checkMutation(t *testing.T, m mutation, out *Outcome) {
	t.Helper()
	failing := failingObjectives(out.Run.SLOs)
	t.Logf("%s: %s, failing %v, videos %s, reasons %q", m.name, out.Run.Verdict, failing, out.Run.Videos.Summary(), out.Run.Reasons)
	want := append([]string(nil), m.fail...)
	sort.Strings(want)
	if !slices.Equal(failing, want) {
		t.Errorf("failing objectives %v, want exactly %v", failing, want)
	}
	wantCode, wantVerdict := exitcode.NoGo, verdict.NoGo
	if m.breaks == nil && m.rule == nil {
		wantCode, wantVerdict = exitcode.Go, verdict.Go
	}
	if out.Code != wantCode || out.Run.Verdict != wantVerdict {
		t.Errorf("exit %d verdict %s, want %d %s; reasons %q", out.Code, out.Run.Verdict, wantCode, wantVerdict, out.Run.Reasons)
	}
	for _, r := range m.reasons {
		if !strings.Contains(strings.Join(out.Run.Reasons, "\n"), r) {
			t.Errorf("reasons %q lack %q", out.Run.Reasons, r)
		}
	}
	if m.breaks != nil && !strings.Contains(out.Run.Versions["platform"], "BROKEN ON PURPOSE") {
		t.Errorf("run.json does not say the platform was broken on purpose: %q", out.Run.Versions["platform"])
	}
}

// failingObjectives lists, sorted and once each, the objectives that failed in some window.
func failingObjectives(results []verdict.Objective) []string {
	var out []string
	for _, r := range results {
		if r.Status.Failing() && !slices.Contains(out, r.ID) {
			out = append(out, r.ID)
		}
	}
	sort.Strings(out)
	return out
}

// checkDashboardsReturnData evaluates every panel query of the plan's dashboards and of the
// verification run's over the healthy run's saved TSDB (reopened read-only, as `evaluate`
// does): each must return a series with a value, so no panel ships an empty or broken query.
func checkDashboardsReturnData(t *testing.T, out *Outcome) {
	t.Helper()
	api := savedPrometheus(t, out)
	span := v1.Range{Start: out.Run.StartedAt, End: out.Run.EndedAt, Step: 5 * time.Second}
	n := 0
	for _, d := range append(dashboards.All(), dashboards.Verification()) {
		for _, p := range d.Panels {
			for _, q := range p.Targets {
				n++
				val, _, _, err := api.QueryRange(t.Context(), q.Expr, span)
				if err != nil {
					t.Errorf("%s / %s: %s: %v", d.Title, p.Title, q.Expr, err)
					continue
				}
				if !hasValue(val) {
					t.Errorf("%s / %s: %s returned no data over the run", d.Title, p.Title, q.Expr)
				}
			}
		}
	}
	t.Logf("%d panel queries returned data over the run", n)
}

// savedPrometheus is a Prometheus API over the run's saved TSDB, reopened read-only (as
// `evaluate` does) until the test ends.
func savedPrometheus(t *testing.T, out *Outcome) v1.API {
	t.Helper()
	ro, err := prom.OpenReadOnly(filepath.Join(out.Dir, "tsdb"), prom.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ro.Close() })
	api, err := prometheusAPI(ro.URL())
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// hasValue reports whether a range result holds a finite sample.
func hasValue(v pmodel.Value) bool {
	m, ok := v.(pmodel.Matrix)
	if !ok {
		return false
	}
	for _, s := range m {
		for _, p := range s.Values {
			if !math.IsNaN(float64(p.Value)) && !math.IsInf(float64(p.Value), 0) {
				return true
			}
		}
	}
	return false
}
