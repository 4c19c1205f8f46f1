// Package platformtest runs the reference platform inside tests with real processes: the test
// binary re-executes itself as each platform process (the os/exec helper-process pattern), so
// kills, partitions and restarts are real. A test package opts in from TestMain:
//
//	func TestMain(m *testing.M) { platformtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		c := platformtest.Start(t, platformtest.Topology())
//		resp, err := http.Get(c.GatewayURL() + "/")
//		...
//	}
package platformtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

const envRole = "DDP_PLATFORMTEST_ROLE"

// Main runs the tests of m, unless this process is a platform process started by [Exec]: then
// it runs that process until the supervisor stops it, and exits.
func Main(m *testing.M) {
	if role := os.Getenv(envRole); role != "" {
		os.Exit(runChild(role))
	}
	os.Exit(m.Run())
}

func runChild(role string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := cluster.RunProcess(ctx, role, os.Stdin, os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "platform process:", err)
		return 1
	}
	return 0
}

// Exec is a cluster.ExecFunc that re-executes the running test binary as a platform process.
// The test binary's TestMain must call [Main].
func Exec(role string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envRole+"="+role)
	return cmd
}

// Speed is the processing-time model's speed in [Topology]: ten model seconds per second, so a
// 60 s 1080p video takes 2.6 s end to end on an idle cluster.
const Speed = 10

// Topology returns the default (plan) topology with timings for tests: model speed [Speed],
// 1 s job leases, gateway probes every 100 ms. Each call returns a new topology, so a test may
// change it; the gate-mutation suite breaks it on purpose through its Defects:
//
//	topo := platformtest.Topology()
//	topo.Defects.UnclaimedResolution = model.R720p
//	c := platformtest.Start(t, topo)
func Topology() *topology.Topology {
	t := topology.Default()
	t.Model.Speed = Speed
	t.Timing.Lease = topology.Duration(time.Second)
	t.Timing.StopGrace = topology.Duration(2 * time.Second)
	t.Timing.StartTimeout = topology.Duration(20 * time.Second)
	t.Timing.HeartbeatInterval = topology.Duration(200 * time.Millisecond)
	t.Timing.NodeGracePeriod = topology.Duration(time.Second)
	t.Timing.EvictionDelay = topology.Duration(500 * time.Millisecond)
	t.Gateway.HealthInterval = topology.Duration(100 * time.Millisecond)
	t.Gateway.UpstreamTimeout = topology.Duration(5 * time.Second)
	return t
}

// Start starts a cluster of topo (nil for [Topology]) with [Exec] and stops it when the test
// ends. Each process's log is in the cluster's directory (c.Dir()/logs), printed on failure.
func Start(t testing.TB, topo *topology.Topology) *cluster.Cluster {
	t.Helper()
	if topo == nil {
		topo = Topology()
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{Topology: topo, Exec: Exec, Dir: dir})
	if err != nil {
		t.Fatalf("start platform: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop platform: %v", err)
		}
		if t.Failed() {
			dumpLogs(t, dir)
		}
	})
	return c
}

func dumpLogs(t testing.TB, dir string) {
	entries, _ := os.ReadDir(dir + "/logs")
	for _, e := range entries {
		b, _ := os.ReadFile(dir + "/logs/" + e.Name())
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		t.Logf("--- %s (tail)\n%s", e.Name(), b)
	}
}
