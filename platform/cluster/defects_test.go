package cluster_test

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/datatier"
	"github.com/dailydoco/ddp-verify/platform/model"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// lockedBuffer is a bytes.Buffer for a logger written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Each defect reaches the process where it acts, through the topology the supervisor was
// given (platformtest.Topology() with Defects set, as the gate-mutation tests write it): the
// cost exporter, the API replicas, the GPU and AI workers and the control API. The package's
// unit tests show each effect exactly; the healthy platform is every other test here.
func TestDefectsReachTheirProcesses(t *testing.T) {
	t.Parallel()
	topo := platformtest.Topology()
	topo.Defects = topology.Defects{
		GPUSlowdown: 2, UnclaimedResolution: model.R4K, AIFailureShare: 1,
		APIAddedLatency: topology.Duration(120 * time.Millisecond), PriceFactor: 10, IgnoreRestores: true,
	}
	var log lockedBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{Topology: topo, Exec: platformtest.Exec, Dir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	if l := log.String(); !strings.Contains(l, "level=WARN msg=\"DEFECTS SET") || !strings.Contains(l, "price_factor=10") {
		t.Errorf("no warning naming the defects at start:\n%s", l)
	}

	t.Run("cost exporter", func(t *testing.T) {
		m := scrapeRole(t, c, "supervisor", "")
		if got := m.Sum("node_total_hourly_cost", map[string]string{"instance_type": "g4dn.xlarge"}); math.Abs(got-2*10*0.526) > 1e-9 {
			t.Errorf("two GPU nodes cost %v/h, want 10 x 1.052", got)
		}
	})

	cl := &platformtest.Client{BaseURL: c.GatewayURL(), IP: "198.51.100.70"}
	t.Run("API replicas", func(t *testing.T) {
		start := time.Now()
		if err := cl.Signup(ctx, "slow@example.com"); err != nil { // register and log in
			t.Fatal(err)
		}
		if d := time.Since(start); d < 2*120*time.Millisecond {
			t.Errorf("two API requests took %v, want at least 2 x 120ms", d)
		}
		m := scrapeRole(t, c, "node", "general")
		count, fast := 0.0, 0.0
		for _, s := range m["http_server_request_duration_seconds"].GetMetric() {
			api := false
			for _, l := range s.GetLabel() {
				api = api || (l.GetName() == "service" && l.GetValue() == "api")
			}
			if !api {
				continue
			}
			count += float64(s.GetHistogram().GetSampleCount())
			for _, b := range s.GetHistogram().GetBucket() {
				if b.GetUpperBound() == 0.1 {
					fast += float64(b.GetCumulativeCount())
				}
			}
		}
		if count < 2 || fast != 0 {
			t.Errorf("server histogram: %v API requests, %v of them within 100ms; want every one slower", count, fast)
		}
	})

	t.Run("workers", func(t *testing.T) {
		clip, err := cl.Upload(ctx, "720p", 10, 1, 1000)
		if err != nil {
			t.Fatal(err)
		}
		big, err := cl.Upload(ctx, "4k", 10, 1, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var v datatier.Video
		waitFor(t, 20*time.Second, "the 720p video failed", func() bool {
			v, err = c.DataTier().Video(ctx, clip.ID, "")
			return err == nil && v.State == datatier.StateFailed
		})
		if !strings.Contains(v.Error, "ai_failure_share") {
			t.Errorf("failed video's error %q does not name the defect", v.Error)
		}
		// Twice the model's GPU time (2.5 s transcode + 1 s thumbnail), in model seconds.
		if gpu := v.GPUDoneAt.Sub(*v.ProcessingStartedAt).Seconds() * platformtest.Speed; gpu < 2*3.5 {
			t.Errorf("GPU steps took %.2f model seconds, want at least 7 (twice the model's 3.5)", gpu)
		}
		b, err := c.DataTier().Video(ctx, big.ID, "")
		if err != nil || b.State != datatier.StateQueued || b.GPUAttempts != 0 {
			t.Errorf("unclaimed 4K video is %s after %d attempts (%v), want queued, never leased", b.State, b.GPUAttempts, err)
		}
	})

	t.Run("control API", func(t *testing.T) {
		const node, zone = "general-1c-1", "us-east-1b"
		var ch cluster.Change
		for _, step := range []struct{ path, action string }{
			{"/v1/nodes/" + node + "/kill", "kill"},
			{"/v1/nodes/" + node + "/restore", "restore"},
			{"/v1/nodes/" + node + "/restore", "restore"}, // still faulted: accepted again
			{"/v1/zones/" + zone + "/partition", "partition"},
			{"/v1/zones/" + zone + "/restore", "restore"},
		} {
			if err := control(t, c, http.MethodPost, step.path, &ch); err != nil || ch.Action != step.action {
				t.Fatalf("POST %s: %+v %v", step.path, ch, err)
			}
		}
		if len(ch.Targets) == 0 {
			t.Errorf("zone restore answered no targets: %+v", ch)
		}
		// Long past the grace period and the heartbeats a restarted node would send.
		time.Sleep(3 * c.Topology().Timing.NodeGracePeriod.D())
		for _, n := range c.Nodes() {
			want := map[string]string{node: cluster.StateKilled, "general-1b-1": cluster.StatePartitioned, "gpu-1b-1": cluster.StatePartitioned, "memory-1b-1": cluster.StatePartitioned}[n.Name]
			if want != "" && (n.State != want || n.Ready) {
				t.Errorf("%s is %s (ready %v) after its restore, want %s: restores change nothing", n.Name, n.State, n.Ready, want)
			}
		}
		if n := nodeInfo(c, node); n.PID != 0 {
			t.Errorf("killed node %s has a process (pid %d) after an ignored restore", node, n.PID)
		}
		if err := control(t, c, http.MethodPost, "/v1/nodes/general-1a-1/restore", nil); err == nil || !strings.Contains(err.Error(), "not_faulted") {
			t.Errorf("restoring a healthy node: %v, want 409 not_faulted as before", err)
		}
	})
}

// A topology changed in Go with a bad defect is refused before anything starts.
func TestStartRefusesBadDefects(t *testing.T) {
	t.Parallel()
	topo := platformtest.Topology()
	topo.Defects.UnclaimedResolution = "8k"
	topo.Defects.APIErrorShare = 2
	_, err := cluster.Start(context.Background(), cluster.Options{Topology: topo, Exec: platformtest.Exec, Dir: t.TempDir()})
	if err == nil {
		t.Fatal("started with bad defects")
	}
	for _, w := range []string{`defects.unclaimed_resolution: unknown resolution "8k"`, "defects.api_error_share: want a share from 0 to 1, got 2"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}
