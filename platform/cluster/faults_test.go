package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// control calls the control API as the chaos engine does.
func control(t *testing.T, c *cluster.Cluster, method, path string, out any) error {
	t.Helper()
	cl := jsonhttp.Client{BaseURL: c.ControlURL(), Header: http.Header{"Authorization": {"Bearer " + c.ControlToken()}}}
	return cl.Do(context.Background(), method, path, nil, out)
}

func nodeInfo(c *cluster.Cluster, name string) cluster.NodeInfo {
	for _, n := range c.Nodes() {
		if n.Name == name {
			return n
		}
	}
	return cluster.NodeInfo{}
}

// routed is how many replicas matching labels the gateway routes to now, from its own
// dailydoco_gateway_backend_up: what users' requests meet, which can lag the supervisor's view.
func routed(t *testing.T, c *cluster.Cluster, labels map[string]string) int {
	t.Helper()
	return int(scrapeRole(t, c, cluster.RoleGateway, "").Sum("dailydoco_gateway_backend_up", labels))
}

// waitFor polls cond every 20 ms for up to d and returns when it first saw cond hold. The
// sleep is the polling interval: the test waits on the condition, with d only as a deadline.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s after %v", what, d)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	return time.Now()
}

// traffic is steady background load: goroutines reading the API and the dashboard.
type traffic struct {
	mu      sync.Mutex
	results []result
	stop    context.CancelFunc
	done    sync.WaitGroup
}

type result struct {
	sent, at time.Time // request sent, answer received
	ok       bool
}

func startTraffic(t *testing.T, c *cluster.Cluster, workers int) *traffic {
	t.Helper()
	cl := signup(t, c, "198.51.100.60")
	ctx, cancel := context.WithCancel(context.Background())
	tr := &traffic{stop: cancel}
	for i := 0; i < workers; i++ {
		tr.done.Add(1)
		go func() {
			defer tr.done.Done()
			me := &platformtest.Client{BaseURL: c.GatewayURL(), Token: cl.Token, IP: fmt.Sprintf("198.51.101.%d", i)}
			for k := 0; ctx.Err() == nil; k++ {
				path := "/api/v1/me"
				if k%3 == 2 {
					path = "/"
				}
				sent := time.Now()
				resp, err := me.Raw(ctx, http.MethodGet, path, nil)
				ok := err == nil && resp.StatusCode < 500
				if resp != nil {
					resp.Body.Close()
				}
				if ctx.Err() != nil {
					return
				}
				tr.mu.Lock()
				tr.results = append(tr.results, result{sent, time.Now(), ok})
				tr.mu.Unlock()
				time.Sleep(5 * time.Millisecond) // the load's pacing, not a wait for an event
			}
		}()
	}
	t.Cleanup(tr.close)
	return tr
}

func (tr *traffic) close() { tr.stop(); tr.done.Wait() }

// errorRate is the share of failed requests among those answered in [from, to), and their
// number.
func (tr *traffic) errorRate(from, to time.Time) (float64, int) {
	return tr.rate(func(r result) bool { return !r.at.Before(from) && r.at.Before(to) })
}

// sentSince is the share of failed requests among those sent at or after from and answered
// by now, and their number.
func (tr *traffic) sentSince(from time.Time) (float64, int) {
	return tr.rate(func(r result) bool { return !r.sent.Before(from) })
}

// waitSentSince waits until n requests sent at or after from have been answered.
func (tr *traffic) waitSentSince(t *testing.T, from time.Time, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d requests answered", n), func() bool {
		_, got := tr.sentSince(from)
		return got >= n
	})
}

func (tr *traffic) rate(match func(result) bool) (float64, int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n, bad := 0, 0
	for _, r := range tr.results {
		if match(r) {
			n++
			if !r.ok {
				bad++
			}
		}
	}
	if n == 0 {
		return 1, 0
	}
	return float64(bad) / float64(n), n
}

func TestControlAPIRejectsBadRequests(t *testing.T) {
	t.Parallel()
	c := platformtest.Start(t, nil)
	before := c.Nodes()
	tests := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"no token", "GET", "/v1/topology", "", 401, "unauthorized"},
		{"wrong token", "POST", "/v1/nodes/gpu-1a-1/kill", "nope", 401, "unauthorized"},
		{"unknown node", "POST", "/v1/nodes/gpu-9z-9/kill", c.ControlToken(), 404, "unknown_node"},
		{"unknown zone", "POST", "/v1/zones/mars-1a/power-loss", c.ControlToken(), 404, "unknown_zone"},
		{"restore a healthy node", "POST", "/v1/nodes/gpu-1a-1/restore", c.ControlToken(), 409, "not_faulted"},
		{"restore a healthy zone", "POST", "/v1/zones/us-east-1a/restore", c.ControlToken(), 409, "not_faulted"},
		{"unknown action", "POST", "/v1/nodes/gpu-1a-1/reboot", c.ControlToken(), 400, "unknown_action"},
		{"unknown route", "GET", "/v1/pods", c.ControlToken(), 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := jsonhttp.Client{BaseURL: c.ControlURL(), Header: http.Header{"Authorization": {"Bearer " + tc.token}}}
			err := cl.Do(context.Background(), tc.method, tc.path, nil, nil)
			var je *jsonhttp.Error
			if !errors.As(err, &je) || je.Status != tc.status || je.Code != tc.code || je.Message == "" {
				t.Errorf("%s %s: %v, want %d %s with a message", tc.method, tc.path, err, tc.status, tc.code)
			}
		})
	}
	// Faulting twice is refused too.
	if err := control(t, c, "POST", "/v1/nodes/memory-1b-1/partition", nil); err != nil {
		t.Fatal(err)
	}
	if err := control(t, c, "POST", "/v1/nodes/memory-1b-1/kill", nil); jsonhttp.Code(err) != "already_faulted" {
		t.Errorf("kill of a partitioned node: %v, want already_faulted", err)
	}
	if err := control(t, c, "POST", "/v1/nodes/memory-1b-1/restore", nil); err != nil {
		t.Fatal(err)
	}
	var changes struct{ Changes []cluster.Change }
	if err := control(t, c, "GET", "/v1/changes", &changes); err != nil {
		t.Fatal(err)
	}
	if len(changes.Changes) != 2 || changes.Changes[0].Action != "partition" || changes.Changes[1].Action != "restore" {
		t.Errorf("changes %+v: want only the partition and its restore", changes.Changes)
	}
	if !changes.Changes[1].At.After(changes.Changes[0].At) || changes.Changes[0].ID != 1 {
		t.Errorf("changes are not numbered and timed in order: %+v", changes.Changes)
	}
	for i, n := range before {
		if n.Name != "memory-1b-1" && c.Nodes()[i].State != n.State {
			t.Errorf("%s changed state to %s", n.Name, c.Nodes()[i].State)
		}
	}
}

// After a general node is killed under traffic, the node goes NotReady (after the grace
// period: TestReadyUntilTheGracePeriodPassesWithoutHeartbeats pins the time), its API and
// dashboard replicas move to the surviving general nodes, and once the gateway routes to none
// of the dead node's replicas users see no errors; a restored node rejoins. Each step waits
// for its condition, so a busy machine makes the test slower, not flaky: how fast errors stop
// (the health-check interval plus a retry) is a matter of wall time and is not asserted here.
func TestGeneralNodeKillUnderTraffic(t *testing.T) {
	t.Parallel()
	topo := platformtest.Topology()
	c := platformtest.Start(t, topo)
	tr := startTraffic(t, c, 4)
	tr.waitSentSince(t, time.Time{}, 20) // traffic flows before the kill

	var ch cluster.Change
	if err := control(t, c, "POST", "/v1/nodes/general-1a-1/kill", &ch); err != nil {
		t.Fatal(err)
	}
	if ch.Action != "kill" || !slices.Equal(ch.Targets, []string{"general-1a-1"}) {
		t.Errorf("change %+v", ch)
	}
	if st := nodeInfo(c, "general-1a-1").State; st != cluster.StateKilled {
		t.Errorf("state right after the kill: %s", st)
	}
	// Ready turns false once the grace period passes without heartbeats, as in Kubernetes.
	waitFor(t, 10*time.Second, "NotReady", func() bool { return !nodeInfo(c, "general-1a-1").Ready })
	waitFor(t, 5*time.Second, "rescheduled", func() bool {
		per := map[string]int{}
		for _, n := range c.Nodes() {
			for _, r := range n.Replicas {
				if n.Pool == "general" && n.Name != "general-1a-1" {
					per[r.Service]++
				}
			}
		}
		return per["api"] == 3 && per["dashboard"] == 3
	})
	recovered := waitFor(t, 10*time.Second, "the dead node's replicas out of the gateway's rotation", func() bool {
		return routed(t, c, map[string]string{"node": "general-1a-1"}) == 0 &&
			routed(t, c, map[string]string{"service": "api"}) >= 1 && routed(t, c, map[string]string{"service": "dashboard"}) >= 1
	})
	tr.waitSentSince(t, recovered, 50)
	if rate, n := tr.sentSince(recovered); rate >= 0.01 {
		t.Errorf("error rate %.2f%% over %d requests once the gateway routed around the dead node, want < 1%%", rate*100, n)
	}
	if rate, n := tr.errorRate(ch.At.Add(-time.Hour), ch.At); rate > 0 {
		t.Errorf("errors before the kill: %.2f%% of %d", rate*100, n)
	}
	// The supervisor's metrics show it.
	sup := scrapeRole(t, c, "supervisor", "")
	if v := sup.Sum("ddp_platform_node_ready", map[string]string{"node": "general-1a-1"}); v != 0 {
		t.Errorf("ddp_platform_node_ready{node=general-1a-1} = %v", v)
	}
	// Under kube-state-metrics' name too, which the NodeNotReady alert reads.
	for status, want := range map[string]float64{"true": 0, "false": 1} {
		if v := sup.Sum("kube_node_status_condition", map[string]string{"node": "general-1a-1", "condition": "Ready", "status": status}); v != want {
			t.Errorf("kube_node_status_condition{node=general-1a-1,condition=Ready,status=%s} = %v, want %v", status, v, want)
		}
	}
	if v := sup.Sum("ddp_platform_replicas", map[string]string{"service": "api"}); v != 3 {
		t.Errorf("api replicas = %v, want 3 (rescheduled)", v)
	}

	if err := control(t, c, "POST", "/v1/nodes/general-1a-1/restore", &ch); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "Ready after restore", func() bool {
		n := nodeInfo(c, "general-1a-1")
		return n.Ready && n.State == cluster.StateReady && n.PID != 0
	})
	if n := nodeInfo(c, "general-1a-1"); !n.Since.After(ch.At) && !n.Since.Equal(ch.At) {
		t.Errorf("since %v is before the restore at %v", n.Since, ch.At)
	}
}

// A zone power-loss kills its nodes; the API stays available from the other zones, nothing is
// rescheduled into the dead zone, and the zone's nodes come back on restore.
func TestZonePowerLoss(t *testing.T) {
	t.Parallel()
	c := platformtest.Start(t, nil)
	tr := startTraffic(t, c, 4)
	tr.waitSentSince(t, time.Time{}, 20) // traffic flows before the fault
	var ch cluster.Change
	if err := control(t, c, "POST", "/v1/zones/us-east-1a/power-loss", &ch); err != nil {
		t.Fatal(err)
	}
	if want := []string{"general-1a-1", "gpu-1a-1"}; !slices.Equal(ch.Targets, want) || ch.Action != "power-loss" {
		t.Errorf("change %+v, want targets %v", ch, want)
	}
	if err := control(t, c, "POST", "/v1/nodes/gpu-1a-1/restore", nil); jsonhttp.Code(err) != "zone_faulted" {
		t.Errorf("restoring one node of a dead zone: %v, want zone_faulted", err)
	}
	waitFor(t, 5*time.Second, "replicas out of the dead zone", func() bool {
		api := 0
		for _, n := range c.Nodes() {
			for _, r := range n.Replicas {
				if n.Zone == "us-east-1a" && r.Service == "api" {
					return false
				}
				if r.Service == "api" {
					api++
				}
			}
		}
		return api == 3
	})
	// Users see no errors once the gateway routes around the dead zone (how soon it does is
	// wall time, not asserted).
	around := waitFor(t, 10*time.Second, "the dead zone out of the gateway's rotation", func() bool {
		return routed(t, c, map[string]string{"zone": "us-east-1a"}) == 0 &&
			routed(t, c, map[string]string{"service": "api"}) >= 1 && routed(t, c, map[string]string{"service": "dashboard"}) >= 1
	})
	tr.waitSentSince(t, around, 50)
	if rate, n := tr.sentSince(around); rate >= 0.01 {
		t.Errorf("error rate %.2f%% over %d requests during the outage, want < 1%%", rate*100, n)
	}
	var view cluster.TopologyView
	if err := control(t, c, "GET", "/v1/topology", &view); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(view.ZonesDown, []string{"us-east-1a"}) {
		t.Errorf("zones down %v", view.ZonesDown)
	}

	if err := control(t, c, "POST", "/v1/zones/us-east-1a/restore", &ch); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the zone's nodes Ready", func() bool {
		return nodeInfo(c, "general-1a-1").State == cluster.StateReady && nodeInfo(c, "gpu-1a-1").State == cluster.StateReady
	})
	if len(c.Changes()) != 2 {
		t.Errorf("changes %+v", c.Changes())
	}
}

// A partitioned node keeps running but cannot reach the data tier and is not routed to; its
// GPU work goes to the other GPU node.
func TestPartitionedNode(t *testing.T) {
	t.Parallel()
	c := platformtest.Start(t, nil)
	var ch cluster.Change
	if err := control(t, c, "POST", "/v1/nodes/general-1b-1/partition", &ch); err != nil {
		t.Fatal(err)
	}
	if err := control(t, c, "POST", "/v1/nodes/gpu-1a-1/partition", nil); err != nil {
		t.Fatal(err)
	}
	n := nodeInfo(c, "general-1b-1")
	if n.State != cluster.StatePartitioned || n.PID == 0 {
		t.Fatalf("partitioned node: %+v, want its process alive", n)
	}
	// Nothing reaches it: its replica and its agent reset connections.
	for _, addr := range []string{n.Addr, n.IP + ":8080"} {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.SetReadDeadline(time.Now().Add(time.Second))
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		if err == nil {
			t.Errorf("%s answered during the partition", addr)
		}
	}
	// The gateway stops routing to it; users see no errors.
	gwURL := "http://" + c.Targets()[0].Addr
	waitFor(t, 3*time.Second, "out of the gateway's rotation", func() bool {
		var backends map[string]bool
		gc := jsonhttp.Client{BaseURL: gwURL}
		gc.Do(context.Background(), "GET", "/backends", nil, &backends)
		return !backends["api-2"] && backends["api-1"]
	})
	cl := signup(t, c, "198.51.100.70")
	for i := 0; i < 20; i++ {
		if err := cl.Do(context.Background(), "GET", "/api/v1/me", nil, nil); err != nil {
			t.Fatalf("request %d during the partition: %v", i, err)
		}
	}
	// Videos go to the GPU node that can reach the data tier.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		v, err := cl.Upload(ctx, "1080p", 10, 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		if v, err = cl.WaitReady(ctx, v.ID, 50*time.Millisecond); err != nil || v.GPUNode != "gpu-1b-1" {
			t.Errorf("video %d on %q (%v), want gpu-1b-1", i, v.GPUNode, err)
		}
	}
	// Its metrics are out of reach too, as Prometheus would find them.
	if _, err := platformtest.Scrape(nodeInfo(c, "gpu-1a-1").Addr); err == nil {
		t.Error("scraped a partitioned node")
	}
	if err := control(t, c, "POST", "/v1/nodes/general-1b-1/restore", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "Ready after the partition heals", func() bool { return nodeInfo(c, "general-1b-1").State == cluster.StateReady })
}

// Under sustained queue pressure the GPU pool grows after its provisioning delay, the new node
// costs from the moment it is provisioned, and the pool shrinks back after the idle period.
func TestGPUPoolAutoscales(t *testing.T) {
	t.Parallel()
	topo := platformtest.Topology()
	topo.Autoscaler.ScaleUpAfter = topology.Duration(200 * time.Millisecond)
	topo.Autoscaler.ScaleDownIdle = topology.Duration(time.Second)
	topo.Pool("gpu").ProvisioningDelay = topology.Duration(time.Second)
	c := platformtest.Start(t, topo)
	cl := signup(t, c, "198.51.100.80")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// 24 videos of 60 s: 2 nodes take 4 at a time for 1.9 s, 20 wait (2.5 per slot).
	var ids []string
	for i := 0; i < 24; i++ {
		v, err := cl.Upload(ctx, "1080p", 60, 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	gpuNodes := func() []cluster.NodeInfo {
		var out []cluster.NodeInfo
		for _, n := range c.Nodes() {
			if n.Pool == "gpu" {
				out = append(out, n)
			}
		}
		return out
	}
	waitFor(t, 5*time.Second, "a third GPU node provisioned", func() bool { return len(gpuNodes()) == 3 })
	added := gpuNodes()[2]
	if added.State != cluster.StateProvisioning {
		t.Errorf("new node %s is %s, want Provisioning during its delay", added.Name, added.State)
	}
	sup := scrapeRole(t, c, "supervisor", "")
	if n := sup.Sum("node_gpu_count", nil); n != 3 {
		t.Errorf("GPUs priced while provisioning: %v, want 3", n)
	}
	// An instance still booting is not yet a Node: kube-state-metrics has no condition for it,
	// so NodeNotReady does not page for every scale-up.
	if n := sup.Count("kube_node_status_condition", map[string]string{"node": added.Name}); n != 0 {
		t.Errorf("kube_node_status_condition has %d series for %s while it is provisioned, want none", n, added.Name)
	}
	joined := waitFor(t, 10*time.Second, "the new node Ready", func() bool { return nodeInfo(c, added.Name).State == cluster.StateReady })
	sup = scrapeRole(t, c, "supervisor", "")
	if v := sup.Sum("kube_node_status_condition", map[string]string{"node": added.Name, "condition": "Ready", "status": "true"}); v != 1 {
		t.Errorf("kube_node_status_condition{node=%s,status=true} = %v once it joined, want 1", added.Name, v)
	}
	// A lower bound, which a busy machine cannot break: the process starts only once the
	// provisioning delay has passed since Since, and joins with its first heartbeat after that.
	if d := joined.Sub(added.Since); d < time.Second {
		t.Errorf("new node joined %v after it was provisioned, before its 1 s delay", d)
	}
	byNode := map[string]int{}
	for _, id := range ids {
		v, err := cl.WaitReady(ctx, id, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		byNode[v.GPUNode]++
	}
	if byNode[added.Name] == 0 {
		t.Errorf("the added node processed nothing: %v", byNode)
	}
	waitFor(t, 10*time.Second, "the pool back at 2 nodes", func() bool { return len(gpuNodes()) == 2 })
	sup = scrapeRole(t, c, "supervisor", "")
	if n := sup.Sum("node_gpu_count", nil); n != 2 {
		t.Errorf("GPUs priced after scale-down: %v, want 2", n)
	}
	if up, down := sup.Sum("ddp_platform_autoscaler_actions_total", map[string]string{"pool": "gpu", "action": "scale_up"}),
		sup.Sum("ddp_platform_autoscaler_actions_total", map[string]string{"pool": "gpu", "action": "scale_down"}); up < 1 || down < 1 {
		t.Errorf("autoscaler actions: %v up, %v down", up, down)
	}
	st, _ := c.DataTier().Stats(ctx)
	if st.Accepted != 24 || st.Ready != 24 {
		t.Errorf("stats %+v", st)
	}
}

// API replicas follow the request rate (HPA-like) and shrink back once it falls, without
// failing requests on the way.
func TestAPIReplicasScaleWithLoad(t *testing.T) {
	t.Parallel()
	topo := platformtest.Topology()
	api := topo.Service("api")
	// Six replicas at 5 requests/s each: the traffic's API requests (two in three) reach the
	// maximum above 25/s, which 4 workers send even when a busy machine slows each request to
	// ~100 ms; the load a test can generate shrinks with the machine, so the target is set
	// well below it.
	api.MaxReplicas, api.TargetRPS = 6, 5
	topo.Autoscaler.HPASyncPeriod = topology.Duration(300 * time.Millisecond)
	topo.Autoscaler.HPAScaleDownAfter = topology.Duration(time.Second)
	c := platformtest.Start(t, topo)
	apiReplicas := func() int {
		n := 0
		for _, ni := range c.Nodes() {
			for _, r := range ni.Replicas {
				if r.Service == "api" {
					n++
				}
			}
		}
		return n
	}
	tr := startTraffic(t, c, 4)
	start := time.Now()
	waitFor(t, 10*time.Second, "6 API replicas under load", func() bool { return apiReplicas() == 6 })
	// The traffic goes on until the gateway routes to all six, and then for 50 requests more.
	all := waitFor(t, 10*time.Second, "the gateway routing to 6 API replicas", func() bool {
		return routed(t, c, map[string]string{"service": "api"}) == 6
	})
	tr.waitSentSince(t, all, 50)
	tr.close()
	if rate, n := tr.errorRate(start, time.Now()); rate >= 0.01 || n < 100 {
		t.Errorf("error rate %.2f%% over %d requests while scaling up", rate*100, n)
	}
	waitFor(t, 10*time.Second, "back to 3 API replicas", func() bool { return apiReplicas() == 3 })
	sup := scrapeRole(t, c, "supervisor", "")
	if v := sup.Sum("ddp_platform_replicas", map[string]string{"service": "api"}); v != 3 {
		t.Errorf("ddp_platform_replicas{service=api} = %v", v)
	}
	// The gateway routes to exactly the remaining replicas.
	gc := jsonhttp.Client{BaseURL: "http://" + c.Targets()[0].Addr}
	waitFor(t, 5*time.Second, "the gateway following", func() bool {
		var backends map[string]bool
		gc.Do(context.Background(), "GET", "/backends", nil, &backends)
		n := 0
		for name := range backends {
			if len(name) > 4 && name[:4] == "api-" {
				n++
			}
		}
		return n == 3
	})
}

// Replicas the general pool has no room for are pending, and the cluster autoscaler adds a
// general node for them; once load falls, the replicas and then the idle node go away.
func TestPendingReplicasGrowTheGeneralPool(t *testing.T) {
	t.Parallel()
	topo := platformtest.Topology()
	api := topo.Service("api")
	// 12 API + 3 dashboard > 3 nodes x 4. Ten API replicas (one more than fits) at 3
	// requests/s each need 27 API requests/s, which 4 workers send even at ~100 ms a request
	// on a busy machine.
	api.MaxReplicas, api.TargetRPS = 12, 3
	topo.Autoscaler.HPASyncPeriod = topology.Duration(300 * time.Millisecond)
	topo.Autoscaler.HPAScaleDownAfter = topology.Duration(time.Second)
	topo.Autoscaler.ScaleUpAfter = topology.Duration(200 * time.Millisecond)
	topo.Autoscaler.ScaleDownIdle = topology.Duration(time.Second)
	topo.Pool("general").ProvisioningDelay = topology.Duration(time.Second)
	c := platformtest.Start(t, topo)
	general := func() []cluster.NodeInfo {
		var out []cluster.NodeInfo
		for _, n := range c.Nodes() {
			if n.Pool == "general" {
				out = append(out, n)
			}
		}
		return out
	}
	tr := startTraffic(t, c, 4)
	waitFor(t, 10*time.Second, "a fourth general node", func() bool { return len(general()) == 4 })
	sup := scrapeRole(t, c, "supervisor", "")
	if p := sup.Sum("ddp_platform_pending_replicas", map[string]string{"service": "api"}); p < 1 {
		t.Errorf("pending API replicas = %v while the new node provisions", p)
	}
	added := general()[3]
	waitFor(t, 10*time.Second, "API replicas on the new node", func() bool { return len(nodeInfo(c, added.Name).Replicas) > 0 })
	tr.close()
	waitFor(t, 15*time.Second, "the general pool back at 3 nodes", func() bool { return len(general()) == 3 })
}
