package deploy_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dailydoco/ddp-verify/deploy"
	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// A GPU node of the chart's platform loses power: the real node lifecycle controller marks it
// NotReady and taints it, the taint eviction controller evicts its video worker after the
// chart's toleration, the ReplicaSet controller creates a replacement, which no GPU node can
// take (one GPU each), so the cluster's autoscaler adds a GPU node, where the real scheduler
// binds it and it becomes Ready; meanwhile a capture uploaded right after the power loss is
// processed to ready by the surviving GPU worker. The times are shortened (node grace 8 s,
// toleration 2 s, GPU provisioning 2 s) to keep the test short; the controllers are the real
// ones.
func TestAGPUNodeLossUnderTheChartsPlatform(t *testing.T) {
	if !kubeclustertest.InPodNetwork(t) {
		return
	}
	topo := topology.Default()
	topo.Pool("gpu").ProvisioningDelay = topology.Duration(2 * time.Second)
	cluster := kubeclustertest.StartWith(t, kubecluster.ClusterOptions{PodNetwork: kubecluster.PodNetwork, Topology: topo,
		Autoscale: true, Heartbeat: time.Second, Options: kubecluster.Options{NodeMonitorGracePeriod: 8 * time.Second}})
	values := deploy.LocalClusterValues()
	values["nodeFailureTolerationSeconds"] = 2
	_, err := deploy.Install(t.Context(), cluster.Kubeconfig, release, namespace, values)
	require.NoError(t, err)
	waitReleaseReady(t, cluster, 11)
	srv := platformGateway(t, cluster)
	client, err := cluster.Client()
	require.NoError(t, err)

	workers := func() []corev1.Pod {
		l, err := client.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=video-processor"})
		require.NoError(t, err)
		return l.Items
	}
	before := workers()
	require.Len(t, before, 2)
	lost := before[0].Spec.NodeName
	var topologyNodes []string
	for _, n := range topo.Nodes() {
		topologyNodes = append(topologyNodes, n.Name)
	}

	user := &platformtest.Client{BaseURL: srv.URL, IP: "198.18.0.9"}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	require.NoError(t, user.Signup(ctx, "gpu-loss@example.com"))
	start := time.Now()
	cluster.Node(lost).PowerOff()
	v, err := user.Upload(ctx, "720p", 4, 2, 64<<10)
	require.NoError(t, err)
	v, err = user.WaitReady(ctx, v.ID, 200*time.Millisecond)
	require.NoError(t, err, "a capture uploaded while GPU node %s is down", lost)
	require.NotEqual(t, lost, v.GPUNode, "the video's GPU step ran on the lost node")
	t.Logf("a capture uploaded after the power loss of %s: ready %s later, GPU step on %s", lost, time.Since(start).Round(100*time.Millisecond), v.GPUNode)

	var replacement corev1.Pod
	require.Eventually(t, func() bool {
		for _, p := range workers() {
			if podReady(p) && p.Spec.NodeName != before[1].Spec.NodeName && p.Spec.NodeName != lost {
				replacement = p
				return true
			}
		}
		return false
	}, 2*time.Minute, 250*time.Millisecond, "a replacement video worker Ready on another GPU node")
	require.NotContains(t, topologyNodes, replacement.Spec.NodeName, "the replacement's node %s was added by the autoscaler", replacement.Spec.NodeName)
	node, err := client.CoreV1().Nodes().Get(t.Context(), replacement.Spec.NodeName, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "gpu", node.Labels[kubecluster.PoolLabel])
	t.Logf("GPU node %s lost: replacement video worker %s Ready on the added node %s %s after the power loss",
		lost, replacement.Name, replacement.Spec.NodeName, time.Since(start).Round(100*time.Millisecond))
	require.False(t, slices.ContainsFunc(workers(), func(p corev1.Pod) bool { return p.Name == before[0].Name && p.DeletionTimestamp == nil }),
		"the lost node's video worker was evicted")
}
