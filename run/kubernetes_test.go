package run

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pmodel "github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dailydoco/ddp-verify/deploy"
	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/verdict"
)

// runIfPlatformPod makes this test binary the program of the chart's pods on the local
// cluster (image ddp-verify runs it with "platform pod SERVICE"), as the ddp-verify binary is
// outside tests.
func runIfPlatformPod() {
	if !kubeclustertest.IsPod() {
		return
	}
	code, ok := kubeclustertest.PlatformPod(os.Args[1:])
	if !ok {
		fmt.Fprintf(os.Stderr, "a pod of the run tests with arguments %q, not a platform service\n", os.Args[1:])
		code = 2
	}
	os.Exit(code)
}

// The smoke profile on the Kubernetes target: a local cluster of the plan's topology (real
// control plane, node agents running the chart's pods as processes), the plan's chart, the
// gateway routing from EndpointSlices, the embedded Prometheus discovering the pods, and the
// general node failure injected and recovered by the real Chaos Mesh controller (AWSChaos
// ec2-stop against the cluster's EC2 endpoint). Every objective is evaluated from the pods',
// the cluster's and the generator's series, and the run is GO. (`run --target kubernetes
// --profile smoke --no-chaos` is this run less the fault.)
func TestKubernetesTargetSmokeIsGo(t *testing.T) {
	assets, chaosMesh, metricsServer := kubeclustertest.Assets(t), kubeclustertest.ChaosMeshAssets(t), kubeclustertest.MetricsServerAssets(t)
	if !kubeclustertest.InPodNetwork(t) {
		return
	}
	plan, err := profile.Resolve("smoke", 1)
	require.NoError(t, err)
	spec, err := slo.Default()
	require.NoError(t, err)
	var progress strings.Builder
	out, err := Run(t.Context(), Options{Plan: plan, SLO: spec, OutDir: t.TempDir(), Seed: 1, Version: "test",
		Target: &KubernetesTarget{Assets: assets, ChaosMesh: chaosMesh, MetricsServer: metricsServer}, Progress: &progress})
	require.NoError(t, err, progress.String())
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(progress.String())
			for _, o := range out.Run.SLOs {
				t.Logf("%-40s %-10s %-8s %s", o.ID, o.Window, o.Status, valueText(o.Value))
			}
		}
	})
	require.Equal(t, exitcode.Go, out.Code, "verdict %s: %q", out.Run.Verdict, out.Run.Reasons)
	assert.Equal(t, verdict.Go, out.Run.Verdict)
	assert.Equal(t, "kubernetes (local)", out.Run.Target)
	assert.Contains(t, out.Run.Versions["platform"], "from chart dailydoco")
	assert.Contains(t, out.Run.Versions["chaos"], "Chaos Mesh controller manager")
	assert.Empty(t, out.Run.NotEvaluated, "every objective evaluated")
	for _, o := range out.Run.SLOs {
		assert.Equal(t, verdict.Pass, o.Status, "%s in %s", o.ID, o.Window)
	}
	// The controller's own times: the node's instance stopped and started again.
	require.Len(t, out.Run.Chaos, 1)
	f := out.Run.Chaos[0]
	assert.Equal(t, "general-node", f.Fault)
	require.NotNil(t, f.BackendInjectedAt, "the controller's injection time")
	require.NotNil(t, f.BackendRecoveredAt, "the controller's recovery time")
	assert.Contains(t, f.Targets, "general-1a-1", "the pool's first node by name")
	assert.Contains(t, progress.String(), "pods Ready")
	assert.Contains(t, out.Run.Versions["metrics"], "metrics-server")
	t.Run("node series", func(t *testing.T) { checkNodeSeries(t, out, "general-1a-1") })
}

// checkNodeSeries checks that the run's Prometheus scraped every node's machine under
// node_exporter's names, so the plan's node alerts (NodeHighCPU, NodeHighMemory, NodeDiskFull)
// had their data: their expressions, without the threshold, give one series per node of the
// topology, the nodes ran the platform's pods (CPU in use), and the powered-off node's target
// was down during its fault.
func checkNodeSeries(t *testing.T, out *Outcome, off string) {
	api := savedPrometheus(t, out)
	nodes := len(topology.Default().Nodes())
	for _, q := range []string{
		`100 * (1 - avg by (node) (rate(node_cpu_seconds_total{mode="idle"}[5m])))`,
		`100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)`,
		`100 * (1 - node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"})`,
	} {
		v, _, _, err := api.Query(t.Context(), q, out.Run.EndedAt)
		require.NoError(t, err, q)
		assert.Len(t, v.(pmodel.Vector), nodes, "%s: a series per node", q)
	}
	v, _, _, err := api.Query(t.Context(), `max(max_over_time(rate(node_cpu_seconds_total{job="node-exporter",mode="user"}[30s])[10m:5s]))`, out.Run.EndedAt)
	require.NoError(t, err)
	if vec := v.(pmodel.Vector); assert.Len(t, vec, 1) {
		assert.Positive(t, float64(vec[0].Value), "the nodes' pods used CPU")
	}
	v, _, _, err = api.Query(t.Context(), fmt.Sprintf(`min_over_time(up{job=%q,node=%q}[10m])`, NodeExporterJob, off), out.Run.EndedAt)
	require.NoError(t, err)
	if vec := v.(pmodel.Vector); assert.Len(t, vec, 1) {
		assert.Zero(t, float64(vec[0].Value), "node %s's target was down while it was off", off)
	}
}

func valueText(v *float64) string {
	if v == nil {
		return "no data"
	}
	return fmt.Sprintf("%.4g", *v)
}

// A gate is proven by failing: the chart installed without video workers (the
// video-processor Deployment at zero replicas) accepts captures that are never processed,
// and the run on the Kubernetes target is NO-GO for that reason, from the pods' own series.
func TestKubernetesTargetWithoutVideoWorkersIsNoGo(t *testing.T) {
	assets := kubeclustertest.Assets(t)
	if !kubeclustertest.InPodNetwork(t) {
		return
	}
	plan, err := profile.Resolve("smoke", 0.3)
	require.NoError(t, err)
	spec, err := slo.Default()
	require.NoError(t, err)
	values := deploy.LocalClusterValues()
	values["workloads"].(map[string]any)["video-processor"].(map[string]any)["replicas"] = 0
	out, err := Run(t.Context(), Options{Plan: plan, SLO: spec, OutDir: t.TempDir(), NoChaos: true, Seed: 1, Version: "test",
		DrainTimeout: 15 * time.Second, Target: &KubernetesTarget{Assets: assets, Values: values}})
	require.NoError(t, err)
	assert.Equal(t, exitcode.NoGo, out.Code)
	assert.Equal(t, verdict.NoGo, out.Run.Verdict)
	status := map[string]verdict.Status{}
	for _, o := range out.Run.SLOs {
		if o.Window == "run" {
			status[o.ID] = o.Status
		}
	}
	assert.Equal(t, verdict.Fail, status["video_success"], "video_success")
	assert.Equal(t, verdict.Fail, status["videos_unfinished"], "videos_unfinished")
	assert.Equal(t, verdict.Pass, status["api_latency_p95"], "the API itself is healthy")
	assert.Contains(t, strings.Join(out.Run.Reasons, "\n"), "accepted videos never finished")
}

// The other way a platform fails a launch: too few GPUs. On the Kubernetes target with one GPU
// node and node autoscaling off, the chart's second GPU worker (and any the HPA adds) stays
// Pending, which is the platform's state and not a failed install; videos offered at 6,000 an
// hour (a GPU node processes about 2,700 of this mix at the plan's model speed) pile up, and the
// run is NO-GO for the capacity reasons and none other, as on the local target
// (TestVerdictStableAcrossSeeds).
func TestKubernetesTargetWithTooFewGPUsIsNoGo(t *testing.T) {
	assets := kubeclustertest.Assets(t)
	if !kubeclustertest.InPodNetwork(t) {
		return
	}
	plan, err := profile.Resolve(filepath.Join("testdata", "capacity.yaml"), 1)
	require.NoError(t, err)
	spec, err := slo.Default()
	require.NoError(t, err)
	topo := topology.Default()
	gpu := topo.Pool("gpu")
	gpu.Nodes, gpu.Min, gpu.Max = 1, 1, 1
	topo.Autoscaler.Enabled = false
	out, err := Run(t.Context(), Options{Plan: plan, SLO: spec, OutDir: t.TempDir(), NoChaos: true, Seed: 1, Version: "test",
		DrainTimeout: 15 * time.Second, Target: &KubernetesTarget{Assets: assets, Topology: topo}})
	require.NoError(t, err)
	assert.Contains(t, out.Run.Versions["platform"], "10 pods and 1 Pending for want of a node", "the second GPU worker has no node")
	failing := failingObjectives(out.Run.SLOs)
	t.Logf("one GPU node: %s %v, videos %s", out.Run.Verdict, failing, out.Run.Videos.Summary())
	assert.Equal(t, exitcode.NoGo, out.Code)
	checkCapacityReasons(t, "one GPU node on the Kubernetes target", failing)
}
