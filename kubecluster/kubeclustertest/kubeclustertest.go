// Package kubeclustertest starts the local Kubernetes cluster in tests: from the binaries in
// $KUBEBUILDER_ASSETS (make test builds them with hack/envtest-assets.sh), or the test fails
// with the command that provides them (internal/testenv).
package kubeclustertest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dailydoco/ddp-verify/internal/testenv"
	"github.com/dailydoco/ddp-verify/kubecluster"
)

// Assets returns the directory of the control plane's binaries, or ends the test with how to
// build them.
func Assets(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	for _, b := range kubecluster.Binaries {
		if _, err := os.Stat(filepath.Join(dir, b)); dir == "" || err != nil {
			testenv.Missing(tb, testenv.Envtest, "the control plane's binaries ("+strings.Join(kubecluster.Binaries, ", ")+") in $KUBEBUILDER_ASSETS")
		}
	}
	return dir
}

// Start starts a cluster of the default topology, stopped at the test's end: grace is the
// node lifecycle controller's grace period and heartbeat the node agents' interval (0: the
// defaults).
func Start(t *testing.T, grace, heartbeat time.Duration) *kubecluster.Cluster {
	t.Helper()
	return StartWith(t, kubecluster.ClusterOptions{Options: kubecluster.Options{NodeMonitorGracePeriod: grace}, Heartbeat: heartbeat})
}

// StartWith starts a cluster with o, its assets and directory filled in, stopped at the test's
// end.
func StartWith(t *testing.T, o kubecluster.ClusterOptions) *kubecluster.Cluster {
	t.Helper()
	o.Assets, o.Dir = Assets(t), t.TempDir()
	c, err := kubecluster.StartCluster(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// ChaosMeshAssets returns the directory of the Chaos Mesh controller manager and its CRDs
// ($CHAOS_MESH_ASSETS, which make test sets from hack/chaos-mesh.sh), or ends the test with how
// to build them.
func ChaosMeshAssets(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("CHAOS_MESH_ASSETS")
	for _, f := range []string{kubecluster.ChaosMeshBinary, kubecluster.ChaosMeshCRDs} {
		if _, err := os.Stat(filepath.Join(dir, f)); dir == "" || err != nil {
			testenv.Missing(tb, testenv.ChaosMesh, "the Chaos Mesh controller manager and its CRDs in $CHAOS_MESH_ASSETS")
		}
	}
	return dir
}

// MetricsServerAssets returns the directory of metrics-server ($METRICS_SERVER_ASSETS, which
// make test sets from hack/metrics-server.sh), or ends the test with how to build it.
func MetricsServerAssets(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("METRICS_SERVER_ASSETS")
	if _, err := os.Stat(filepath.Join(dir, kubecluster.MetricsServerBinary)); dir == "" || err != nil {
		testenv.Missing(tb, testenv.MetricsServer, "metrics-server in $METRICS_SERVER_ASSETS")
	}
	return dir
}

// InPodNetwork runs the calling test again in a network namespace of its own whose loopback
// carries [kubecluster.PodNetwork] (so the cluster's pods get addresses that EndpointSlices
// accept), passing its output through; it fails the test when that run fails. It returns true
// in that run, where the test goes on, and false in this one, where the test must return:
//
//	if !kubeclustertest.InPodNetwork(t) {
//		return
//	}
func InPodNetwork(t *testing.T) bool {
	t.Helper()
	if kubecluster.InNetworkNamespace() {
		if err := kubecluster.SetUpPodNetwork(); err != nil {
			t.Fatal(err)
		}
		return true
	}
	var run []string
	for _, part := range strings.Split(t.Name(), "/") {
		run = append(run, "^"+regexp.QuoteMeta(part)+"$")
	}
	args := []string{os.Args[0], "-test.run=" + strings.Join(run, "/"), "-test.v", "-test.count=1"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).Round(time.Second).String())
	}
	out := &testOutput{t: t}
	code, err := kubecluster.RunInNetworkNamespace(t.Context(), args, os.Environ(), out, out)
	out.flush()
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || !out.ran {
		t.Fatalf("%s in its network namespace: exit code %d, test ran: %v (its output is above)", t.Name(), code, out.ran)
	}
	return false
}

// testOutput logs a test run's output line by line and notes whether the test itself ran.
type testOutput struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
	ran bool
}

func (o *testOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	for {
		i := bytes.IndexByte(o.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		o.line(string(o.buf[:i]))
		o.buf = o.buf[i+1:]
	}
}

func (o *testOutput) line(l string) {
	if l == "=== RUN   "+o.t.Name() {
		o.ran = true
	}
	o.t.Log("netns: " + l)
}

func (o *testOutput) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.buf) > 0 {
		o.line(string(o.buf))
		o.buf = nil
	}
}

// LogPods logs the pods of namespace that selector matches, for a failing test: each pod's
// node, phase, readiness and container states, and the last lines of each container's output.
func LogPods(t *testing.T, c *kubecluster.Cluster, namespace, selector string) {
	t.Helper()
	client, err := c.Client()
	if err != nil {
		t.Log(err)
		return
	}
	pods, err := client.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Log(err)
		return
	}
	for _, p := range pods.Items {
		var conds []string
		for _, c := range p.Status.Conditions {
			conds = append(conds, string(c.Type)+"="+string(c.Status))
		}
		t.Logf("pod %s on %s: %s %v ip %s", p.Name, p.Spec.NodeName, p.Status.Phase, conds, p.Status.PodIP)
		for _, ct := range p.Spec.Containers {
			if pr := ct.ReadinessProbe; pr != nil && pr.HTTPGet != nil && p.Status.PodIP != "" {
				port := pr.HTTPGet.Port.String()
				for _, cp := range ct.Ports {
					if cp.Name == port {
						port = strconv.Itoa(int(cp.ContainerPort))
					}
				}
				url := "http://" + net.JoinHostPort(p.Status.PodIP, port) + pr.HTTPGet.Path
				resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					t.Logf("  GET %s now: %s %s", url, resp.Status, strings.TrimSpace(string(b)))
				} else {
					t.Logf("  GET %s now: %v", url, err)
				}
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			t.Logf("  container %s: ready %v, restarts %d, state %+v", cs.Name, cs.Ready, cs.RestartCount, cs.State)
			out, _ := os.ReadFile(c.ContainerLog(&p, cs.Name))
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			for _, l := range lines[max(0, len(lines)-10):] {
				t.Logf("    | %s", l)
			}
		}
	}
}
