package externalmetrics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	emv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"

	"github.com/dailydoco/ddp-verify/externalmetrics"
	"github.com/dailydoco/ddp-verify/prom"
)

func TestQuery(t *testing.T) {
	for _, tc := range []struct{ selector, want, err string }{
		{"", `sum(m{namespace="prod"})`, ""},
		{"stage=gpu", `sum(m{namespace="prod",stage="gpu"})`, ""},
		{"stage==gpu,tier!=db", `sum(m{namespace="prod",stage="gpu",tier!="db"})`, ""},
		{"stage in (gpu,ai.x)", `sum(m{namespace="prod",stage=~"ai\\.x|gpu"})`, ""},
		{"stage notin (gpu)", `sum(m{namespace="prod",stage!~"gpu"})`, ""},
		{"stage,!tier", `sum(m{namespace="prod",stage!="",tier=""})`, ""},
		{"app.kubernetes.io/name=api", "", `"app.kubernetes.io/name" is not a Prometheus label name`},
		{"namespace=other", "", "the namespace is the request's"},
		{"n>3", "", `operator "gt" on "n" is not supported`},
	} {
		sel, err := labels.Parse(tc.selector)
		require.NoError(t, err, tc.selector)
		got, err := externalmetrics.Query("m", "prod", sel)
		if tc.err != "" {
			require.Error(t, err, tc.selector)
			assert.Contains(t, err.Error(), tc.err, tc.selector)
			continue
		}
		require.NoError(t, err, tc.selector)
		assert.Equal(t, tc.want, got, tc.selector)
	}
}

func TestNewRefusesWhatItCannotServe(t *testing.T) {
	_, err := externalmetrics.New(nil, nil, nil)
	assert.ErrorContains(t, err, "no metric to serve")
	_, err = externalmetrics.New(nil, []string{"queue-depth"}, nil)
	assert.ErrorContains(t, err, `"queue-depth" is not a Prometheus metric name`)
}

// exporter serves the series the handler reads: a queue in two namespaces, and a NaN gauge.
const exporter = `# TYPE dailydoco_queue_waiting gauge
dailydoco_queue_waiting{namespace="prod",stage="gpu"} 7
dailydoco_queue_waiting{namespace="prod",stage="ai"} 2.5
dailydoco_queue_waiting{namespace="staging",stage="gpu"} 100
# TYPE broken_gauge gauge
broken_gauge{namespace="prod"} NaN
`

// The handler answers the HPA controller's requests with the values a real Prometheus
// computes from what it scraped, and every request it cannot answer truthfully (no series, a
// NaN, Prometheus down, a metric not served, a bad selector) with an error status, never a
// value.
func TestServesPrometheusValues(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, exporter) }))
	t.Cleanup(target.Close)
	srv, err := prom.New(t.Context(), prom.Options{Dir: t.TempDir(), ScrapeInterval: 200 * time.Millisecond,
		Jobs: []prom.Job{{Name: "platform", Targets: []string{strings.TrimPrefix(target.URL, "http://")}}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	h := handler(t, srv.URL(), "dailydoco_queue_waiting", "broken_gauge", "never_scraped")
	require.Eventually(t, func() bool {
		code, _ := get(t, h, "/apis/external.metrics.k8s.io/v1beta1/namespaces/prod/dailydoco_queue_waiting")
		return code == http.StatusOK
	}, time.Minute, 100*time.Millisecond, "the target scraped")

	for _, tc := range []struct {
		path  string
		value float64
	}{
		{"namespaces/prod/dailydoco_queue_waiting?labelSelector=stage%3Dgpu", 7},
		{"namespaces/prod/dailydoco_queue_waiting", 9.5},
		{"namespaces/prod/dailydoco_queue_waiting?labelSelector=stage+in+(gpu,ai)", 9.5},
		{"namespaces/staging/dailydoco_queue_waiting?labelSelector=stage%3Dgpu", 100},
	} {
		code, body := get(t, h, "/apis/external.metrics.k8s.io/v1beta1/"+tc.path)
		require.Equal(t, http.StatusOK, code, "%s: %s", tc.path, body)
		var l emv1beta1.ExternalMetricValueList
		require.NoError(t, json.Unmarshal(body, &l), tc.path)
		require.Len(t, l.Items, 1, tc.path)
		assert.Equal(t, "dailydoco_queue_waiting", l.Items[0].MetricName)
		assert.InDelta(t, tc.value, l.Items[0].Value.AsApproximateFloat64(), 1e-9, tc.path)
		assert.WithinDuration(t, time.Now(), l.Items[0].Timestamp.Time, time.Minute, tc.path)
	}

	for _, tc := range []struct {
		path string
		code int
		msg  string
	}{
		{"namespaces/dev/dailydoco_queue_waiting", http.StatusNotFound, "no series (no data is not a zero)"},
		{"namespaces/prod/never_scraped", http.StatusNotFound, "no series"},
		{"namespaces/prod/broken_gauge", http.StatusNotFound, "value NaN is not a number"},
		{"namespaces/prod/up", http.StatusNotFound, `external metric "up" is not served`},
		{"namespaces/prod/dailydoco_queue_waiting?labelSelector=stage%3D%3D%3D", http.StatusBadRequest, "labelSelector"},
		{"namespaces/prod/dailydoco_queue_waiting?labelSelector=app.kubernetes.io%2Fname%3Dx", http.StatusBadRequest, "not a Prometheus label name"},
		{"namespaces/Prod_X/dailydoco_queue_waiting", http.StatusBadRequest, `namespace "Prod_X"`},
		{"namespaces/prod/dailydoco_queue_waiting/extra", http.StatusNotFound, "no such path"},
	} {
		code, body := get(t, h, "/apis/external.metrics.k8s.io/v1beta1/"+tc.path)
		assert.Equal(t, tc.code, code, "%s: %s", tc.path, body)
		var st metav1.Status
		require.NoError(t, json.Unmarshal(body, &st), tc.path)
		assert.Equal(t, "Status", st.Kind, tc.path)
		assert.Contains(t, st.Message, tc.msg, tc.path)
	}

	// Discovery: the group and the served metrics as its resources.
	code, body := get(t, h, "/apis/external.metrics.k8s.io/v1beta1")
	require.Equal(t, http.StatusOK, code)
	var rl metav1.APIResourceList
	require.NoError(t, json.Unmarshal(body, &rl))
	var names []string
	for _, r := range rl.APIResources {
		names = append(names, r.Name)
		assert.True(t, r.Namespaced)
	}
	assert.Equal(t, []string{"dailydoco_queue_waiting", "broken_gauge", "never_scraped"}, names)
	code, body = get(t, h, "/apis")
	require.Equal(t, http.StatusOK, code)
	var gl metav1.APIGroupList
	require.NoError(t, json.Unmarshal(body, &gl))
	require.Len(t, gl.Groups, 1)
	assert.Equal(t, "external.metrics.k8s.io/v1beta1", gl.Groups[0].PreferredVersion.GroupVersion)

	req := httptest.NewRequest(http.MethodPost, "/apis/external.metrics.k8s.io/v1beta1/namespaces/prod/dailydoco_queue_waiting", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

// Prometheus gone: the request fails with the reason, as the autoscaler must then hold.
func TestPrometheusDownIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	h := handler(t, "http://"+addr, "dailydoco_queue_waiting")
	code, body := get(t, h, "/apis/external.metrics.k8s.io/v1beta1/namespaces/prod/dailydoco_queue_waiting")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, string(body), "connection refused")
}

func handler(t *testing.T, url string, metrics ...string) *externalmetrics.Handler {
	t.Helper()
	c, err := promapi.NewClient(promapi.Config{Address: url})
	require.NoError(t, err)
	h, err := externalmetrics.New(promv1.NewAPI(c), metrics, nil)
	require.NoError(t, err)
	return h
}

func get(t *testing.T, h http.Handler, path string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}
