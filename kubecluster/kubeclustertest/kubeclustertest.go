// Package kubeclustertest starts the local Kubernetes cluster in tests: from the binaries in
// $KUBEBUILDER_ASSETS (make test builds them with hack/envtest-assets.sh), or the test fails
// with the command that provides them (internal/testenv).
package kubeclustertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	c, err := kubecluster.StartCluster(t.Context(), kubecluster.ClusterOptions{
		Options:   kubecluster.Options{Assets: Assets(t), Dir: t.TempDir(), NodeMonitorGracePeriod: grace},
		Heartbeat: heartbeat,
	})
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
