package prom_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dailydoco/ddp-verify/prom"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The HTTP client's idle keep-alive connections close on their own schedule.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
	)
}

// exporter serves a registry with one counter and one histogram whose values the test sets.
func exporter(t *testing.T) (*httptest.Server, prometheus.Counter) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_requests_total", Help: "h"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "test_latency_seconds", Help: "h", Buckets: []float64{0.1, 2}})
	reg.MustRegister(c, h)
	c.Add(41)
	h.Observe(0.05)
	h.Observe(1)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return srv, c
}

func newClient(t *testing.T, u string) v1.API {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: u})
	require.NoError(t, err)
	return v1.NewAPI(c)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for an event
	}
}

func scalarOf(t *testing.T, v model.Value) (float64, bool) {
	t.Helper()
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 1 {
		return 0, false
	}
	return float64(vec[0].Value), true
}

func TestScrapeQueryCloseReopen(t *testing.T) {
	exp, c := exporter(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tsdb")
	host := strings.TrimPrefix(exp.URL, "http://")

	// The second job comes from a file_sd file, as a supervisor would write it.
	sd := filepath.Join(t.TempDir(), "targets.json")
	require.NoError(t, os.WriteFile(sd, []byte(`[{"targets":["`+host+`"],"labels":{"zone":"a"}}]`), 0o644))

	srv, err := prom.New(ctx, prom.Options{Dir: dir, Jobs: []prom.Job{
		{Name: "static", Targets: []string{host}},
		{Name: "filesd", FileSD: []string{sd}},
	}})
	require.NoError(t, err)
	defer srv.Close()
	cl := newClient(t, srv.URL())

	waitFor(t, 30*time.Second, "both jobs scraped", func() bool {
		v, _, _, err := cl.Query(ctx, `count(test_requests_total)`, time.Now())
		f, ok := scalarOf(t, v)
		return err == nil && ok && f == 2
	})
	v, _, _, err := cl.Query(ctx, `test_requests_total{job="filesd"}`, time.Now())
	require.NoError(t, err)
	vec := v.(model.Vector)
	require.Len(t, vec, 1)
	require.Equal(t, model.LabelValue("a"), vec[0].Metric["zone"])
	require.Equal(t, 41.0, float64(vec[0].Value))

	// Prometheus 3 normalises float label values: the exporter's le="2" is stored as "2.0".
	lv, _, _, err := cl.LabelValues(ctx, "le", []string{"test_latency_seconds_bucket"}, time.Now().Add(-time.Hour), time.Now())
	require.NoError(t, err)
	require.Equal(t, model.LabelValues{"+Inf", "0.1", "2.0"}, lv)

	names, _, _, err := cl.LabelNames(ctx, nil, time.Now().Add(-time.Hour), time.Now())
	require.NoError(t, err)
	require.Contains(t, names, model.LabelName("job"))
	series, _, _, err := cl.Series(ctx, []string{`test_requests_total`}, time.Now().Add(-time.Hour), time.Now())
	require.NoError(t, err)
	require.Len(t, series, 2)

	tr, err := cl.Targets(ctx)
	require.NoError(t, err)
	require.Len(t, tr.Active, 2)
	for _, at := range tr.Active {
		require.Equal(t, v1.HealthGood, at.Health, at.LastError)
	}

	rng, _, _, err := cl.QueryRange(ctx, `test_requests_total{job="static"}`, v1.Range{Start: time.Now().Add(-time.Minute), End: time.Now(), Step: time.Second})
	require.NoError(t, err)
	require.Len(t, rng.(model.Matrix), 1)

	// Errors have Prometheus's shape: a bad_data error for an unparsable query.
	_, _, _, err = cl.Query(ctx, `sum(`, time.Now())
	var perr *v1.Error
	require.ErrorAs(t, err, &perr)
	require.Equal(t, v1.ErrBadData, perr.Type)

	// A change at the exporter arrives with a later scrape.
	c.Add(1)
	waitFor(t, 30*time.Second, "the new value scraped", func() bool {
		v, _, _, err := cl.Query(ctx, `min(test_requests_total)`, time.Now())
		f, ok := scalarOf(t, v)
		return err == nil && ok && f == 42
	})
	end := time.Now()
	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close(), "Close is idempotent")

	ro, err := prom.OpenReadOnly(dir, prom.Options{})
	require.NoError(t, err)
	defer ro.Close()
	rc := newClient(t, ro.URL())
	v, _, _, err = rc.Query(ctx, `max_over_time(test_requests_total{job="static"}[5m])`, end)
	require.NoError(t, err)
	f, ok := scalarOf(t, v)
	require.True(t, ok, "reopened TSDB has the series: %v", v)
	require.Equal(t, 42.0, f)
	tr, err = rc.Targets(ctx)
	require.NoError(t, err)
	require.Empty(t, tr.Active)
	require.NoError(t, ro.Close())
	_, err = os.Stat(filepath.Join(dir, "lock"))
	require.True(t, err == nil || os.IsNotExist(err))
}

func TestRemoteWriteToEmbeddedReceiver(t *testing.T) {
	ctx := context.Background()
	srv, err := prom.New(ctx, prom.Options{Dir: t.TempDir(), RemoteWriteReceiver: true})
	require.NoError(t, err)
	defer srv.Close()

	reg := prometheus.NewRegistry()
	cnt := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ddp_client_requests_total", Help: "h"}, []string{"scenario"})
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ddp_client_request_duration_seconds", Help: "h", Buckets: []float64{0.1, 1}})
	reg.MustRegister(cnt, hist)
	cnt.WithLabelValues("upload").Add(7)
	hist.Observe(0.05)
	hist.Observe(0.5)
	hist.Observe(3)

	ts := time.Now().Truncate(time.Second)
	p := &prom.Pusher{URL: srv.URL() + "/api/v1/write", Gatherer: reg, ExtraLabels: map[string]string{"instance": "lg-0"},
		Now: func() time.Time { return ts }}
	require.NoError(t, p.Push(ctx))

	cl := newClient(t, srv.URL())
	for q, want := range map[string]float64{
		`ddp_client_requests_total{scenario="upload",instance="lg-0"}`:      7,
		`ddp_client_request_duration_seconds_bucket{le="0.1"}`:              1,
		`ddp_client_request_duration_seconds_bucket{le="+Inf"}`:             3,
		`ddp_client_request_duration_seconds_count`:                         3,
		`ddp_client_request_duration_seconds_sum`:                           3.55,
		`count(ddp_client_request_duration_seconds_bucket)`:                 3,
		`count({__name__=~"ddp_client_.*", instance!="lg-0"}) or vector(0)`: 0,
	} {
		v, _, _, err := cl.Query(ctx, q, ts)
		require.NoError(t, err, q)
		f, ok := scalarOf(t, v)
		require.True(t, ok, "%s: %v", q, v)
		require.InDelta(t, want, f, 1e-12, q)
	}

	// A receiver that refuses the request surfaces as an error naming the URL.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "nope", http.StatusBadRequest) }))
	defer bad.Close()
	err = (&prom.Pusher{URL: bad.URL, Gatherer: reg}).Push(ctx)
	require.ErrorContains(t, err, bad.URL)
	require.ErrorContains(t, err, "nope")
}

func TestListenAddressMustBeLoopback(t *testing.T) {
	_, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir(), ListenAddress: "0.0.0.0:0"})
	require.ErrorContains(t, err, "not a loopback address")
}

// A Kubernetes job discovers pods or nodes; another role is refused, naming the job, not
// taken for pods.
func TestKubernetesRoleIsPodOrNode(t *testing.T) {
	_, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir(),
		Jobs: []prom.Job{{Name: "machines", Kubernetes: &prom.KubernetesSD{Kubeconfig: "/nonexistent", Role: "nodes"}}}})
	require.ErrorContains(t, err, `jobs[0] (machines): kubernetes role "nodes": want pod or node`)
}

func TestStatusEndpointsServe(t *testing.T) {
	srv, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir()})
	require.NoError(t, err)
	defer srv.Close()
	for _, p := range []string{"/api/v1/status/buildinfo", "/api/v1/status/tsdb", "/api/v1/status/runtimeinfo", "/api/v1/targets", "/api/v1/labels"} {
		resp, err := http.Get(srv.URL() + p)
		require.NoError(t, err)
		var body struct {
			Status string `json:"status"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), p)
		resp.Body.Close()
		require.Equal(t, "success", body.Status, p)
	}
	_, err = url.Parse(srv.URL())
	require.NoError(t, err)
}

// A job's DropMetrics keeps those metrics out of the TSDB (a metric_relabel_configs drop rule),
// and only those.
func TestJobDropMetrics(t *testing.T) {
	exp, _ := exporter(t)
	ctx := context.Background()
	srv, err := prom.New(ctx, prom.Options{Dir: t.TempDir(), Jobs: []prom.Job{
		{Name: "dropping", Targets: []string{strings.TrimPrefix(exp.URL, "http://")}, DropMetrics: []string{"test_requests_total"}},
	}})
	require.NoError(t, err)
	defer srv.Close()
	cl := newClient(t, srv.URL())
	waitFor(t, 30*time.Second, "the job scraped", func() bool {
		v, _, _, err := cl.Query(ctx, `count(test_latency_seconds_count)`, time.Now())
		f, ok := scalarOf(t, v)
		return err == nil && ok && f == 1
	})
	v, _, _, err := cl.Query(ctx, `count(test_requests_total) or vector(0)`, time.Now())
	require.NoError(t, err)
	f, ok := scalarOf(t, v)
	require.True(t, ok)
	require.Zero(t, f, "the dropped metric reached the TSDB")
}
