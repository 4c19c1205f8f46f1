package gateway

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

// Routing from a cluster's endpoints, the gateway does not probe them: each takes requests at
// once. One that refuses a connection (its pod is gone, the EndpointSlice not yet updated)
// costs no request (it is retried on another) and is left out for passiveFailTimeout, then
// tried again, as nginx's max_fails 1 / fail_timeout.
func TestEndpointThatRefusesIsLeftOutForAWhile(t *testing.T) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(live.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused

	g, err := New(Config{Retries: 2, UpstreamTimeout: 5 * time.Second, HealthInterval: time.Hour, RateLimits: topology.RateLimits{}}, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	g.routeFromSlices()
	g.SetEndpoints([]Backend{{Service: "api", Name: "gone", URL: gone}, {Service: "api", Name: "live", URL: live.URL}})
	if b := g.Backends(); !b["gone"] || !b["live"] {
		t.Fatalf("endpoints the cluster reports ready are routed to at once: %v", b)
	}
	front := httptest.NewServer(g)
	t.Cleanup(front.Close)
	for i := range 4 {
		resp, err := http.Get(front.URL + "/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable {
			t.Fatalf("request %d: %s; a refused endpoint must cost no request", i, resp.Status)
		}
	}
	if b := g.Backends(); b["gone"] || !b["live"] {
		t.Fatalf("after a refusal: %v, want gone left out and live routed to", b)
	}
	g.CheckNow(t.Context()) // no probes from slices: nothing changes
	if g.Backends()["gone"] {
		t.Fatal("a probe put the refusing endpoint back")
	}
	for _, b := range g.backends["api"] {
		if b.Name == "gone" {
			b.downUntil.Store(time.Now().Add(-time.Second).UnixNano()) // its fail timeout passed
		}
	}
	if !g.Backends()["gone"] {
		t.Fatal("the endpoint is not tried again after its fail timeout")
	}
}
