package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

func newGateway(t *testing.T, limits topology.RateLimits, bs ...Backend) *Gateway {
	t.Helper()
	g, err := New(Config{
		RateLimits: limits, TrustedProxies: []string{"127.0.0.0/8", "10.0.0.0/8"},
		HealthInterval: time.Hour, Retries: 2, UpstreamTimeout: 5 * time.Second,
	}, bs, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	g.CheckNow(context.Background())
	return g
}

func TestClientIP(t *testing.T) {
	g := newGateway(t, topology.RateLimits{API: 1, Web: 1, Video: 1})
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct client", "192.0.2.1:5000", "", "192.0.2.1"},
		{"untrusted peer's header is ignored", "192.0.2.1:5000", "198.51.100.9", "192.0.2.1"},
		{"trusted proxy", "127.0.0.1:5000", "198.51.100.9", "198.51.100.9"},
		{"chain through trusted proxies", "127.0.0.1:5000", "198.51.100.9, 10.1.2.3", "198.51.100.9"},
		{"spoofed left hop is not believed", "127.0.0.1:5000", "1.2.3.4, 198.51.100.9, 10.1.2.3", "198.51.100.9"},
		{"only trusted hops", "127.0.0.1:5000", "10.0.0.1", "10.0.0.1"},
		{"trusted proxy, no header", "127.0.0.1:5000", "", "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := g.ClientIP(r); got != tc.want {
				t.Errorf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRetryOnAnotherReplica(t *testing.T) {
	var hits atomic.Int32
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("ok"))
	}))
	defer ok.Close()
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	deadURL := dead.URL
	g := newGateway(t, topology.RateLimits{API: 1000, Web: 1000, Video: 1000},
		Backend{Service: "api", Name: "api-1", URL: deadURL}, Backend{Service: "api", Name: "api-2", URL: ok.URL})
	dead.Close() // healthy at the last probe, gone now: as a node killed between probes

	for i := 0; i < 4; i++ {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/me", nil))
		if rec.Code != 200 {
			t.Fatalf("GET %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if got := testutil.ToFloat64(g.retries.WithLabelValues("api")); got != 1 {
		t.Errorf("retries = %v, want 1 (then the dead replica is out of rotation)", got)
	}
	if g.Backends()["api-1"] {
		t.Error("the dead replica is still routed to")
	}
	// A non-idempotent request that reached nothing is safe to retry as well.
	g.SetBackends([]Backend{{Service: "api", Name: "api-1", URL: deadURL}, {Service: "api", Name: "api-2", URL: ok.URL}})
	for _, b := range g.backends["api"] {
		b.healthy.Store(true)
	}
	for i := 0; i < 2; i++ {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/users", strings.NewReader("{}")))
		if rec.Code != 200 {
			t.Errorf("POST %d after a refused connection: %d", i, rec.Code)
		}
	}
}

func TestRateLimit(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	g := newGateway(t, topology.RateLimits{API: 1000, Web: 3, Video: 1000}, Backend{Service: "dashboard", Name: "d", URL: up.URL})
	get := func(ip string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:1"
		r.Header.Set("X-Forwarded-For", ip)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, r)
		return rec
	}
	for i := 0; i < 3; i++ {
		if rec := get("198.51.100.1"); rec.Code != 200 {
			t.Fatalf("request %d: %d", i+1, rec.Code)
		}
	}
	rec := get("198.51.100.1")
	// 3 per minute: the next token comes in 20 s.
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "20" || !strings.Contains(rec.Body.String(), `"rate_limited"`) {
		t.Errorf("4th request: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if rec := get("198.51.100.2"); rec.Code != 200 {
		t.Errorf("another client: %d", rec.Code)
	}
}

func TestNoHealthyReplica(t *testing.T) {
	g := newGateway(t, topology.RateLimits{API: 10, Web: 10, Video: 10}, Backend{Service: "api", Name: "api-1", URL: "http://127.0.0.1:1"})
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/me", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "no_healthy_upstream") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}
