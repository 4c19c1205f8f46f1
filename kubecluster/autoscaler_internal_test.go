package kubecluster

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

// The decision step of the autoscaler on objects built here (the end-to-end behaviour, with
// the real scheduler, is in cluster_test.go): which Unschedulable pods get a node now.
func TestNeedNodesWaitsForRoomTheSchedulerHasNotSeen(t *testing.T) {
	gpuNode := func(name string, ready bool, taints ...corev1.Taint) corev1.Node {
		n := (&NodeAgent{Node: topology.Node{Name: name, Pool: "gpu", Zone: "us-east-1a", InstanceType: "g4dn.xlarge"}}).nodeObject()
		n.Spec.Taints = append(n.Spec.Taints, taints...)
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}
		return *n
	}
	gpuPod := func(name, node string, unschedulable bool) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name)}, Spec: corev1.PodSpec{NodeName: node,
			Containers:  []corev1.Container{{Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{GPUResource: resource.MustParse("1")}}}},
			Tolerations: []corev1.Toleration{{Key: GPUTaint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}}}
		if unschedulable {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
		}
		return p
	}
	names := func(pods []*corev1.Pod) []string {
		var out []string
		for _, p := range pods {
			out = append(out, p.Name)
		}
		return out
	}
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name  string
		nodes []corev1.Node
		pods  []corev1.Pod
		now   time.Duration // after t0; the first look is at t0
		want  []string
	}{
		{"a free GPU the scheduler has not taken yet: wait", []corev1.Node{gpuNode("a", true)},
			[]corev1.Pod{gpuPod("p", "", true)}, 0, nil},
		{"still Unschedulable after the recheck time: add", []corev1.Node{gpuNode("a", true)},
			[]corev1.Pod{gpuPod("p", "", true)}, RecheckUnschedulable, []string{"p"}},
		{"the GPU is taken: add at once", []corev1.Node{gpuNode("a", true)},
			[]corev1.Pod{gpuPod("busy", "a", false), gpuPod("p", "", true)}, 0, []string{"p"}},
		{"a finished pod leaves its GPU: wait", []corev1.Node{gpuNode("a", true)},
			[]corev1.Pod{func() corev1.Pod { p := gpuPod("done", "a", false); p.Status.Phase = corev1.PodSucceeded; return p }(), gpuPod("p", "", true)}, 0, nil},
		{"one free GPU, two pods: one waits, one gets a node", []corev1.Node{gpuNode("a", true)},
			[]corev1.Pod{gpuPod("p", "", true), gpuPod("q", "", true)}, 0, []string{"q"}},
		{"the node is not Ready: add", []corev1.Node{gpuNode("a", false)},
			[]corev1.Pod{gpuPod("p", "", true)}, 0, []string{"p"}},
		{"a taint the pod does not tolerate: add", []corev1.Node{gpuNode("a", true, corev1.Taint{Key: ToBeDeletedTaint, Effect: corev1.TaintEffectNoSchedule})},
			[]corev1.Pod{gpuPod("p", "", true)}, 0, []string{"p"}},
		{"a pod the scheduler has not judged: none", []corev1.Node{gpuNode("a", false)},
			[]corev1.Pod{gpuPod("p", "", false)}, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fitSince := map[string]time.Time{}
			needNodes(tc.pods, tc.nodes, map[string]bool{}, fitSince, t0)
			got := names(needNodes(tc.pods, tc.nodes, map[string]bool{}, fitSince, t0.Add(tc.now)))
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("needNodes: %v, want %v", got, tc.want)
			}
		})
	}
}
