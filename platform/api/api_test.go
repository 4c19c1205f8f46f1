package api

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dailydoco/ddp-verify/platform/datatier"
	"github.com/dailydoco/ddp-verify/platform/metrics"
)

// served is the API as a node serves it: its routes under the server-side request histogram.
// The data tier is never reached: the requests below are answered before it is needed.
func served(cfg Config) (http.Handler, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	svc := New(datatier.NewClient("http://datatier.invalid", "token", nil), cfg)
	return metrics.NewHTTP(reg, metrics.ServerDuration).Middleware("api", svc.Handler()), reg
}

// get serves one request and returns its status and error code.
func get(h http.Handler, path string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	code := ""
	if _, after, ok := strings.Cut(rec.Body.String(), `"code":"`); ok {
		code, _, _ = strings.Cut(after, `"`)
	}
	return rec.Code, code
}

// The added latency is part of every request's service time, as the server-side histogram
// measures it; without it the same requests take no time (on the bubble's fake clock).
func TestAddedLatency(t *testing.T) {
	for _, added := range []time.Duration{0, 150 * time.Millisecond} {
		t.Run(added.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, reg := served(Config{AddedLatency: added})
				for _, path := range []string{"/api/v1/me", "/api/v1/no-such-route"} {
					start := time.Now()
					status, _ := get(h, path)
					if d := time.Since(start); d != added {
						t.Errorf("GET %s took %v, want %v", path, d, added)
					}
					if status != http.StatusUnauthorized && status != http.StatusNotFound {
						t.Errorf("GET %s: %d, want its usual answer", path, status)
					}
				}
				want := `
# HELP http_server_request_duration_seconds Duration of HTTP server requests.
# TYPE http_server_request_duration_seconds histogram
` + histogram("/api/v1/me", "401", added) + histogram("/api/", "404", added)
				if err := testutil.GatherAndCompare(reg, strings.NewReader(want), metrics.ServerDuration); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

// histogram is the exposition of one request of route and status that took d.
func histogram(route, status string, d time.Duration) string {
	var b strings.Builder
	labels := `http_request_method="GET",http_response_status_code="` + status + `",http_route="` + route + `",service="api"`
	for _, le := range metrics.HTTPBuckets {
		n := 0
		if d.Seconds() <= le {
			n = 1
		}
		b.WriteString("http_server_request_duration_seconds_bucket{" + labels + `,le="` + strconv.FormatFloat(le, 'g', -1, 64) + `"} ` + strconv.Itoa(n) + "\n")
	}
	b.WriteString("http_server_request_duration_seconds_bucket{" + labels + `,le="+Inf"} 1` + "\n")
	b.WriteString("http_server_request_duration_seconds_sum{" + labels + "} " + strconv.FormatFloat(d.Seconds(), 'g', -1, 64) + "\n")
	b.WriteString("http_server_request_duration_seconds_count{" + labels + "} 1\n")
	return b.String()
}

// A share of the requests is answered 500 internal_error, evenly spread and counted as 5xx
// by the server-side histogram; the others get their usual answer.
func TestErrorShare(t *testing.T) {
	tests := []struct {
		share float64
		want  string // the status of requests 1, 2, ... in order
	}{
		{share: 0, want: "401 401 401 401 401 401 401 401"},
		{share: 0.25, want: "401 401 401 500 401 401 401 500"},
		{share: 0.5, want: "401 500 401 500 401 500 401 500"},
		{share: 1, want: "500 500 500 500 500 500 500 500"},
	}
	for _, tc := range tests {
		t.Run(strconv.FormatFloat(tc.share, 'g', -1, 64), func(t *testing.T) {
			t.Parallel()
			h, reg := served(Config{ErrorShare: tc.share})
			var got []string
			for range 8 {
				status, code := get(h, "/api/v1/me")
				if status == http.StatusInternalServerError && code != "internal_error" {
					t.Errorf("500 with code %q, want internal_error", code)
				}
				got = append(got, strconv.Itoa(status))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("statuses\n got %s\nwant %s", g, tc.want)
			}
			fails := strings.Count(tc.want, "500")
			if fails == 0 {
				return
			}
			if n := countOf(t, reg, "500"); n != uint64(fails) {
				t.Errorf("histogram counts %d requests answered 500, want %d", n, fails)
			}
		})
	}
}

// countOf is the server-side request count of status in reg.
func countOf(t *testing.T, reg *prometheus.Registry, status string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "http_response_status_code" && l.GetValue() == status {
					n += m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return n
}
