package mesh_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/dailydoco/ddp-verify/chaos/mesh/meshtest"
)

const (
	ns        = "dailydoco"
	poolLabel = "eks.amazonaws.com/nodegroup"
	svcLabel  = "app.kubernetes.io/name"
)

// seedCluster creates the test topology: three zones, each with a general and a gpu node;
// the DailyDoco pods on them, a redis only in zone-a, and in zone-c a DaemonSet pod and a
// hostNetwork pod that the guardrails must protect. There is no kubelet or scheduler:
// pods are bound by spec.nodeName and their phase is written by the test.
func seedCluster(ctx context.Context) error {
	for _, n := range []string{ns, "billing", "chaos-mesh"} {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
			return err
		}
	}
	for _, z := range []string{"a", "b", "c"} {
		for _, pool := range []string{"general", "gpu"} {
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: pool + "-" + z, Labels: map[string]string{
				corev1.LabelTopologyZone: "zone-" + z, corev1.LabelTopologyRegion: "us-east-1", poolLabel: pool,
			}}, Spec: corev1.NodeSpec{ProviderID: fmt.Sprintf("aws:///zone-%s/i-%s%s", z, pool, z)}}
			if err := k8s.Create(ctx, n); err != nil {
				return err
			}
		}
	}
	type podSpec struct {
		ns, name, svc, node string
		daemonSet, hostNet  bool
	}
	pods := []podSpec{
		{ns, "api-a", "api", "general-a", false, false},
		{ns, "api-b", "api", "general-b", false, false},
		{ns, "api-c", "api", "general-c", false, false},
		{ns, "worker-a", "worker", "gpu-a", false, false},
		{ns, "worker-b", "worker", "gpu-b", false, false},
		{ns, "worker-c", "worker", "gpu-c", false, false},
		{ns, "redis-0", "redis", "general-a", false, false},
		{ns, "node-agent-c", "node-agent", "general-c", true, false},
		{ns, "edge-proxy-c", "edge-proxy", "general-c", false, true},
		{"kube-system", "coredns-0", "coredns", "general-b", false, false},
		{"chaos-mesh", "chaos-controller-0", "chaos-controller", "general-b", false, false},
		{"billing", "invoice-0", "invoice", "general-b", false, false},
	}
	for _, p := range pods {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Name: p.name, Labels: map[string]string{svcLabel: p.svc}},
			Spec: corev1.PodSpec{NodeName: p.node, HostNetwork: p.hostNet,
				Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app:1"}}},
		}
		if p.daemonSet {
			pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "node-agent", UID: "0d5e7d0e-0000-4000-8000-000000000001", Controller: ptr.To(true)}}
		}
		if err := k8s.Create(ctx, pod); err != nil {
			return err
		}
		pod.Status.Phase = corev1.PodRunning
		if err := k8s.Status().Update(ctx, pod); err != nil {
			return err
		}
	}
	return nil
}

// leftovers lists the chaos objects of a run still in the cluster.
func leftovers(t *testing.T, runID string) []string {
	t.Helper()
	return meshtest.Leftovers(t, k8s, runID)
}

// cordoned lists the unschedulable nodes.
func cordoned(t *testing.T) []string { t.Helper(); return meshtest.Cordoned(t, k8s) }

// remaining waits until the run has no chaos object left, and returns what is still there
// after 10 s: a recovered object lingers while the controller drops its finalizer.
func remaining(t *testing.T, runID string) []string {
	t.Helper()
	return meshtest.WaitNoLeftovers(t, k8s, runID, 10*time.Second)
}
