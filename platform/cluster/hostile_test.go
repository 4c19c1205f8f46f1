package cluster_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/httpserver/httpservertest"
	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// hostileBound is how long a test waits for a server to close a hostile client's connection:
// far above the short timeouts the test's topology sets, so that a busy machine still passes.
const hostileBound = 30 * time.Second

// Clients on the host that are not the platform's own: on every server of the platform, one
// that sends its request body one byte a second, one that sends its headers that slowly and
// one that idles on a keep-alive connection are all disconnected (the topology's http
// timeouts, short here); the data tier refuses requests without its token; and the platform
// still works end to end, with long polls much longer than the read timeout.
func TestHostileClients(t *testing.T) {
	t.Parallel()
	topo := platformtest.Topology()
	topo.HTTP.ReadHeaderTimeout = topology.Duration(time.Second)
	topo.HTTP.ReadTimeout = topology.Duration(2 * time.Second)
	topo.HTTP.IdleTimeout = topology.Duration(2 * time.Second)
	c := platformtest.Start(t, topo)

	auth := http.Header{"Authorization": {"Bearer " + c.ControlToken()}}
	type server struct {
		name, addr, method, path string
		header                   http.Header
	}
	targets := map[string]string{}
	for _, tg := range c.Targets() {
		targets[tg.Name] = tg.Addr
	}
	servers := []server{
		{"gateway", hostOf(c.GatewayURL()), http.MethodPost, "/api/v1/users", nil},
		{"gateway admin", targets["gateway"], http.MethodPut, "/backends", nil},
		{"data tier", hostOf(c.DataTierURL()), http.MethodPost, "/v1/users", nil},
		{"supervisor (cost exporter, heartbeats)", targets["supervisor"], http.MethodPost, "/heartbeat", nil},
		{"control API", hostOf(c.ControlURL()), http.MethodGet, "/v1/changes", auth},
	}
	var api, dashboard bool
	for _, n := range c.Nodes() {
		if n.Pool != "general" {
			continue
		}
		servers = append(servers, server{"node agent " + n.Name, n.Addr, http.MethodGet, "/metrics", nil})
		for _, r := range n.Replicas {
			addr := n.IP + ":" + strconv.Itoa(r.Port)
			switch {
			case r.Service == topology.ServiceAPI && !api:
				api = true
				servers = append(servers, server{"API replica " + r.Name, addr, http.MethodPost, "/api/v1/users", nil})
			case r.Service == topology.ServiceDashboard && !dashboard:
				dashboard = true
				servers = append(servers, server{"dashboard replica " + r.Name, addr, http.MethodPost, "/", nil})
			}
		}
		break
	}
	if !api || !dashboard {
		t.Fatalf("the first general node runs no API or no dashboard replica: %+v", c.Nodes())
	}
	type hostile struct {
		what   string
		closed <-chan struct{}
	}
	var clients []hostile
	for _, s := range servers {
		clients = append(clients,
			hostile{s.name + ": slow body", httpservertest.SlowBody(t, s.addr, s.method, s.path, s.header)},
			hostile{s.name + ": slow headers", httpservertest.SlowHeaders(t, s.addr)},
			hostile{s.name + ": idle keep-alive", httpservertest.Idle(t, s.addr, "/health")})
	}
	deadline := time.Now().Add(hostileBound)
	for _, h := range clients {
		httpservertest.WaitClosed(t, h.what, h.closed, deadline)
	}

	// The data tier: nothing without its token, from anyone.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tok := range []string{"", "wrong", c.ControlToken()} {
		for _, rq := range []struct{ method, path, body string }{
			{http.MethodGet, "/v1/users?email=someone%40example.com", ""},
			{http.MethodPost, "/v1/sessions", `{"user_id":"u","ttl":3600000000000}`},
			{http.MethodGet, "/v1/stats", ""},
		} {
			req, _ := http.NewRequestWithContext(ctx, rq.method, c.DataTierURL()+rq.path, strings.NewReader(rq.body))
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			err = jsonhttp.DecodeResponse(resp, nil)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("data tier %s %s with token %q: %d %v, want 401", rq.method, rq.path, tok, resp.StatusCode, err)
			}
		}
	}
	for _, open := range []string{"/metrics", "/health", "/ready"} {
		resp, err := http.Get(c.DataTierURL() + open)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("data tier %s: %d, want 200 without a token", open, resp.StatusCode)
		}
	}

	// The platform's own processes still reach the data tier, and the workers' 10 s long polls
	// outlast the 2 s read timeout: a video goes all the way through, and the supervisor's
	// client (it has the token) counts it.
	idleVideo(t, c, "198.51.100.30")
	st, err := c.DataTier().Stats(ctx)
	if err != nil || st.Ready < 1 {
		t.Errorf("data tier stats with the platform's token: %+v, %v", st, err)
	}
}

func hostOf(url string) string { return strings.TrimPrefix(url, "http://") }
