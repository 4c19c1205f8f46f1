package deploy_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

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
// binds it and it becomes Ready; meanwhile every capture accepted just before and just after
// the power loss is processed to ready (a job the lost worker held is leased again once its
// lease expires): no accepted video is lost. The times are shortened (node grace 8 s,
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
	// Captures in processing when the node goes: the lost worker's leases expire and the
	// jobs are leased again elsewhere; no accepted video is lost.
	var accepted []platformtest.Video
	for range 4 {
		v, err := user.Upload(ctx, "720p", 30, 2, 64<<10)
		require.NoError(t, err)
		accepted = append(accepted, v)
	}
	start := time.Now()
	cluster.Node(lost).PowerOff()
	events := watchRecovery(t, client, lost, before[0].Name, topologyNodes, start)
	v, err := user.Upload(ctx, "720p", 4, 2, 64<<10)
	require.NoError(t, err, "a capture uploaded while GPU node %s is down", lost)
	accepted = append(accepted, v)
	retried := 0
	for _, a := range accepted {
		v, err := user.WaitReady(ctx, a.ID, 200*time.Millisecond)
		require.NoError(t, err, "video %s accepted around the power loss of %s", a.ID, lost)
		require.NotEqual(t, lost, v.GPUNode, "video %s's GPU step completed on the lost node", a.ID)
		if v.GPUAttempts > 1 {
			retried++
		}
	}
	t.Logf("GPU node %s lost: the %d videos accepted around it all ready %s after the power loss (%d leased again once the lost worker's lease expired)",
		lost, len(accepted), time.Since(start).Round(100*time.Millisecond), retried)

	times := <-events
	for _, step := range recoverySteps {
		require.Contains(t, times, step, "the recovery never reached: %s", step)
	}
	require.Less(t, times[stepNotReady], times[stepEvicted])
	require.Less(t, times[stepEvicted], times[stepReplacementReady])
	t.Logf("GPU node %s lost, after the power loss: %s", lost, recoveryLog(times))
}

// The steps of a lost GPU node's recovery that watchRecovery times.
const (
	stepNotReady         = "node NotReady"
	stepEvicted          = "its video worker evicted"
	stepNodeAdded        = "a GPU node added"
	stepReplacementReady = "the replacement Ready on the added node"
)

var recoverySteps = []string{stepNotReady, stepEvicted, stepNodeAdded, stepReplacementReady}

// watchRecovery polls the cluster every 100 ms from the power loss at start and sends, once
// the replacement is Ready (or after 3 minutes), when each recovery step was first seen.
func watchRecovery(t *testing.T, client kubernetes.Interface, lost, lostPod string, topologyNodes []string, start time.Time) <-chan map[string]time.Duration {
	out := make(chan map[string]time.Duration, 1)
	ctx := t.Context()
	go func() {
		times := map[string]time.Duration{}
		seen := func(step string, ok bool) {
			if _, done := times[step]; ok && !done {
				times[step] = time.Since(start)
			}
		}
		for time.Since(start) < 3*time.Minute && ctx.Err() == nil {
			nodes, err1 := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			pods, err2 := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=video-processor"})
			if err1 == nil && err2 == nil {
				for _, n := range nodes.Items {
					for _, c := range n.Status.Conditions {
						seen(stepNotReady, n.Name == lost && c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue)
					}
					seen(stepNodeAdded, !slices.Contains(topologyNodes, n.Name) && n.Labels[kubecluster.PoolLabel] == "gpu")
				}
				for _, p := range pods.Items {
					seen(stepEvicted, p.Name == lostPod && p.DeletionTimestamp != nil)
					seen(stepReplacementReady, kubecluster.PodReady(&p) && !slices.Contains(topologyNodes, p.Spec.NodeName))
				}
			}
			if _, done := times[stepReplacementReady]; done {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		out <- times
	}()
	return out
}

func recoveryLog(times map[string]time.Duration) string {
	var parts []string
	for _, step := range recoverySteps {
		parts = append(parts, fmt.Sprintf("%s %s", step, times[step].Round(100*time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}
