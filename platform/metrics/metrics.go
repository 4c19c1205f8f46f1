// Package metrics defines the reference platform's shared metrics (names from the design's
// section 4.3) and the HTTP instrumentation every service uses.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTPBuckets are the latency buckets of http_server_request_duration_seconds: 0.1 exactly, so
// "p95 < 100 ms" is decided exactly, and dense around it and around 50 ms.
var HTTPBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09,
	0.1, 0.11, 0.125, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10,
}

// RealtimeRatioBuckets are the buckets of dailydoco_video_processing_realtime_ratio: 2 exactly
// (the plan's objective) and dense around it.
var RealtimeRatioBuckets = []float64{
	0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 1.9, 2, 2.1, 2.25, 2.5, 3, 4, 5, 7.5, 10, 20, 50,
}

// DurationBuckets are for pipeline steps measured in seconds (queue wait, processing).
var DurationBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200}

// NewRegistry returns a registry with the Go and process collectors, and a registerer that adds
// labels (node, zone, pool) to everything registered through it.
func NewRegistry(labels prometheus.Labels) (*prometheus.Registry, prometheus.Registerer) {
	reg := prometheus.NewRegistry()
	wrapped := prometheus.WrapRegistererWith(labels, reg)
	wrapped.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, wrapped
}

// Handler serves reg in the Prometheus exposition formats.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// Names of the request-duration histograms. Each user request is counted once under
// ServerDuration, by the replica that served it (the OpenTelemetry metric the SLOs read); the
// gateway and the data tier record their own view under names of their own, as an ingress
// controller and a database would, so that sums over ServerDuration never count a request twice.
const (
	ServerDuration   = "http_server_request_duration_seconds"
	GatewayDuration  = "dailydoco_gateway_request_duration_seconds"
	DataTierDuration = "dailydoco_datatier_request_duration_seconds"
)

// HTTP records a request-duration histogram with the labels service, http_route,
// http_request_method and http_response_status_code (OpenTelemetry semantic conventions).
type HTTP struct {
	hist *prometheus.HistogramVec
}

// NewHTTP registers the histogram called name (one of the *Duration constants) with reg.
func NewHTTP(reg prometheus.Registerer, name string) *HTTP {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    name,
		Help:    "Duration of HTTP server requests.",
		Buckets: HTTPBuckets,
	}, []string{"service", "http_route", "http_request_method", "http_response_status_code"})
	reg.MustRegister(h)
	return &HTTP{hist: h}
}

// Observe records one request.
func (m *HTTP) Observe(service, route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.hist.WithLabelValues(service, route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// Middleware records every request next serves; next must be (or wrap) a ServeMux so that the
// matched pattern becomes the http_route label.
func (m *HTTP) Middleware(service string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &StatusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		m.Observe(service, Route(r.Pattern), r.Method, sw.Status(), time.Since(start))
	})
}

// Route turns a ServeMux pattern into an http_route value: "GET /api/v1/videos/{id}" gives
// "/api/v1/videos/{id}" and "GET /{$}" gives "/".
func Route(pattern string) string {
	if _, path, ok := strings.Cut(pattern, " "); ok {
		pattern = path
	}
	return strings.TrimSuffix(pattern, "{$}")
}

// StatusWriter remembers the status code written through it.
type StatusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader implements http.ResponseWriter.
func (w *StatusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Status is the code written, 200 if none was.
func (w *StatusWriter) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
