package prom_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/dailydoco/ddp-verify/internal/testenv"
	"github.com/dailydoco/ddp-verify/prom"
)

const demoRules = `groups:
  - name: demo
    rules:
      - alert: DemoHigh
        expr: demo_value > 0
        for: 2s
        labels: {severity: critical}
`

// demoExporter serves the gauge demo_value on a loopback /metrics; it returns the gauge and the
// host:port to scrape.
func demoExporter(t *testing.T) (prometheus.Gauge, string) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "demo_value", Help: "h"})
	reg.MustRegister(g)
	exp := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(exp.Close)
	return g, strings.TrimPrefix(exp.URL, "http://")
}

// Prometheus's own rule manager runs in the embedded server: an alert over a scraped gauge goes
// pending, fires after its "for", and resolves when the gauge drops, as the ALERTS series in
// the TSDB and /api/v1/alerts both say.
func TestRuleFilesFireAndResolve(t *testing.T) {
	g, target := demoExporter(t)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(demoRules), 0o644))
	srv, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir(), ScrapeInterval: 200 * time.Millisecond,
		EvaluationInterval: 200 * time.Millisecond, RuleFiles: []string{rules},
		Jobs: []prom.Job{{Name: "demo", Targets: []string{target}}}})
	require.NoError(t, err)
	defer srv.Close()
	cl := newClient(t, srv.URL())
	ctx := context.Background()
	state := func() string {
		res, err := cl.Alerts(ctx)
		if err != nil || len(res.Alerts) == 0 {
			return "none"
		}
		return string(res.Alerts[0].State)
	}

	waitFor(t, 30*time.Second, "the gauge scraped", func() bool {
		v, _, _, err := cl.Query(ctx, `demo_value`, time.Now())
		_, ok := scalarOf(t, v)
		return err == nil && ok
	})
	require.Equal(t, "none", state(), "an alert before the gauge rose")
	g.Set(1)
	waitFor(t, 30*time.Second, "the alert firing", func() bool { return state() == "firing" })
	v, _, _, err := cl.Query(ctx, `ALERTS{alertname="DemoHigh",alertstate="firing",severity="critical"}`, time.Now())
	require.NoError(t, err)
	_, ok := scalarOf(t, v)
	require.True(t, ok, "no ALERTS series in the TSDB: %v", v)
	g.Set(0)
	waitFor(t, 30*time.Second, "the alert resolved", func() bool { return state() == "none" })
}

// A rule file that does not load stops the server from starting, naming the file.
func TestBadRuleFileIsAnError(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(strings.Replace(demoRules, "demo_value > 0", "demo_value >", 1)), 0o644))
	_, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir(), RuleFiles: []string{rules}})
	require.ErrorContains(t, err, "bad.yaml")
}

// With RuleSourceURL the rules query another Prometheus (here a second embedded one that
// scrapes the gauge) and the alerts land in this one: the way a platform whose Prometheus runs
// no rules gets its alerts evaluated. An unreachable source leaves the rule unhealthy, naming
// it, rather than quiet.
func TestRulesOverARemoteSource(t *testing.T) {
	g, target := demoExporter(t)
	source, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir(), ScrapeInterval: 200 * time.Millisecond,
		Jobs: []prom.Job{{Name: "demo", Targets: []string{target}}}})
	require.NoError(t, err)
	defer source.Close()
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(demoRules), 0o644))
	evaluator, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir(), EvaluationInterval: 200 * time.Millisecond,
		RuleFiles: []string{rules}, RuleSourceURL: source.URL()})
	require.NoError(t, err)
	defer evaluator.Close()
	cl := newClient(t, evaluator.URL())
	ctx := context.Background()
	firing := func() bool {
		v, _, _, err := cl.Query(ctx, `ALERTS{alertname="DemoHigh",alertstate="firing"}`, time.Now())
		_, ok := scalarOf(t, v)
		return err == nil && ok
	}
	g.Set(1)
	waitFor(t, 30*time.Second, "the alert firing in the evaluator's TSDB", firing)
	g.Set(0)
	waitFor(t, 30*time.Second, "the alert resolved", func() bool { return !firing() })

	unreachable, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir(), EvaluationInterval: 200 * time.Millisecond,
		RuleFiles: []string{rules}, RuleSourceURL: "http://" + testenv.RefusedAddr(t)})
	require.NoError(t, err)
	defer unreachable.Close()
	ucl := newClient(t, unreachable.URL())
	waitFor(t, 30*time.Second, "the rule unhealthy, naming its source", func() bool {
		res, err := ucl.Rules(ctx, nil)
		if err != nil || len(res.Groups) == 0 || len(res.Groups[0].Rules) == 0 {
			return false
		}
		r, ok := res.Groups[0].Rules[0].(v1.AlertingRule)
		return ok && r.Health == v1.RuleHealthBad && strings.Contains(r.LastError, "rule source http://")
	})
}
