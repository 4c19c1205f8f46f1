package kubecluster_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

func startCluster(t *testing.T, grace, heartbeat time.Duration) (*kubecluster.Cluster, *kubernetes.Clientset) {
	t.Helper()
	c := kubeclustertest.Start(t, grace, heartbeat)
	client, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c, client
}

// eventually polls cond every 200 ms until it holds or d has passed, and says how long it took.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return time.Since(start)
}

func pod(name string, selector map[string]string, gpus int64) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{NodeSelector: selector, Containers: []corev1.Container{{Name: "c", Image: "ddp-verify"}}},
	}
	if gpus > 0 {
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{kubecluster.GPUResource: *resource.NewQuantity(gpus, resource.DecimalSI)}
		p.Spec.Tolerations = []corev1.Toleration{{Key: kubecluster.GPUTaint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	}
	return p
}

// The nodes register with the topology's zones, pools, instance types and GPUs, and the real
// scheduler places pods by them: a GPU pod on a GPU node, a zone's pod in its zone, and a pod
// asking more GPUs than any node has stays Pending, unschedulable.
func TestTheRealSchedulerPlacesPodsOnTheTopology(t *testing.T) {
	c, client := startCluster(t, 0, 0)
	ctx := t.Context()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != len(c.Nodes) || len(nodes.Items) == 0 {
		t.Fatalf("%d Nodes for %d node agents", len(nodes.Items), len(c.Nodes))
	}
	gpuNodes := map[string]bool{}
	for _, n := range nodes.Items {
		if n.Labels[kubecluster.ZoneLabel] == "" || n.Labels[kubecluster.PoolLabel] == "" || n.Labels[kubecluster.InstanceTypeLabel] == "" {
			t.Errorf("node %s labels %v", n.Name, n.Labels)
		}
		if g := n.Status.Capacity[kubecluster.GPUResource]; !g.IsZero() {
			gpuNodes[n.Name] = true
		}
	}
	if len(gpuNodes) == 0 {
		t.Fatal("no node has a GPU")
	}
	for _, p := range []*corev1.Pod{
		pod("transcode", nil, 1),
		pod("in-zone-b", map[string]string{kubecluster.ZoneLabel: "us-east-1b", kubecluster.PoolLabel: "general"}, 0),
		pod("too-big", nil, 2),
	} {
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(name string) *corev1.Pod {
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	eventually(t, time.Minute, "the GPU pod bound", func() bool { return get("transcode").Spec.NodeName != "" })
	if n := get("transcode").Spec.NodeName; !gpuNodes[n] {
		t.Errorf("the GPU pod was bound to %s, which has no GPU", n)
	}
	eventually(t, time.Minute, "the zone's pod bound", func() bool { return get("in-zone-b").Spec.NodeName != "" })
	if n, _ := client.CoreV1().Nodes().Get(ctx, get("in-zone-b").Spec.NodeName, metav1.GetOptions{}); n.Labels[kubecluster.ZoneLabel] != "us-east-1b" {
		t.Errorf("the zone's pod is on %s in %s", n.Name, n.Labels[kubecluster.ZoneLabel])
	}
	eventually(t, time.Minute, "the oversized pod marked unschedulable", func() bool {
		for _, cond := range get("too-big").Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Reason == corev1.PodReasonUnschedulable {
				return strings.Contains(cond.Message, kubecluster.GPUResource)
			}
		}
		return false
	})
	if n := get("too-big").Spec.NodeName; n != "" {
		t.Errorf("a pod asking 2 GPUs was bound to %s", n)
	}
}

// A node powered off under a Deployment's running pod: the pod's process dies at once; the
// real node lifecycle controller marks the node NotReady after its grace period and taints it;
// the taint eviction deletes the pod after its toleration; the ReplicaSet controller replaces
// it and the scheduler binds the replacement to a surviving node of the pool, where it runs and
// becomes Ready. Powered on again, the node is Ready and untainted, and confirms the deletion
// of the pod it no longer runs, as a kubelet coming back does.
func TestAPoweredOffNodeIsHandledByTheRealControllers(t *testing.T) {
	const grace = 8 * time.Second
	c, client := startCluster(t, grace, time.Second)
	ctx := t.Context()
	tolerate := int64(2)
	webApp(t, client, 1, map[string]string{kubecluster.PoolLabel: "general"}, &tolerate)
	eventually(t, 2*time.Minute, "the Deployment's pod Ready", func() bool { return len(readyPods(t, client)) == 1 })
	var first corev1.Pod
	for _, p := range readyPods(t, client) {
		first = p
	}
	victim := first.Spec.NodeName
	c.Node(victim).PowerOff()
	off := time.Now()
	if _, err := podGet(t, first.Status.PodIP, "/health"); err == nil {
		t.Errorf("pod %s still answers at %s after its node lost power", first.Name, first.Status.PodIP)
	}
	notReady := eventually(t, 2*time.Minute, "node "+victim+" NotReady", func() bool { return nodeReady(t, client, victim) != corev1.ConditionTrue })
	if notReady < grace-2*time.Second {
		t.Errorf("node %s was NotReady %v after it was powered off, before its %v grace period", victim, notReady, grace)
	}
	var replacement corev1.Pod
	eventually(t, 2*time.Minute, "pod "+first.Name+" replaced by a Ready pod on another node", func() bool {
		for name, p := range readyPods(t, client) {
			if name != first.Name && p.Spec.NodeName != victim {
				replacement = p
				return true
			}
		}
		return false
	})
	t.Logf("node %s powered off: NotReady after %v, its pod replaced by a Ready pod on %s after %v (grace %v, heartbeat 1s, toleration %ds)",
		victim, notReady.Round(100*time.Millisecond), replacement.Spec.NodeName, time.Since(off).Round(100*time.Millisecond), grace, tolerate)
	if name, err := podGet(t, replacement.Status.PodIP, "/health"); err != nil || name != replacement.Name {
		t.Errorf("the replacement at %s: %q, %v", replacement.Status.PodIP, name, err)
	}
	if err := c.Node(victim).PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "node "+victim+" Ready again", func() bool { return nodeReady(t, client, victim) == corev1.ConditionTrue })
	eventually(t, time.Minute, "node "+victim+" untainted", func() bool {
		n, _ := client.CoreV1().Nodes().Get(ctx, victim, metav1.GetOptions{})
		for _, tn := range n.Spec.Taints {
			if tn.Key == corev1.TaintNodeUnreachable || tn.Key == corev1.TaintNodeNotReady {
				return false
			}
		}
		return true
	})
	eventually(t, time.Minute, "the evicted pod's deletion confirmed by its node", func() bool {
		_, err := client.CoreV1().Pods("default").Get(ctx, first.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

// nodeReady is the status of a node's Ready condition ("" when it has none).
func nodeReady(t *testing.T, client kubernetes.Interface, name string) corev1.ConditionStatus {
	t.Helper()
	n, err := client.CoreV1().Nodes().Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status
		}
	}
	return ""
}

// The default assets directory is the one hack/envtest-assets.sh builds into.
func TestAssetsKeyMatchesTheBuildScript(t *testing.T) {
	script, err := os.ReadFile("../hack/envtest-assets.sh")
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, line := range strings.Split(string(script), "\n") {
		for _, k := range []string{"k8s", "etcd", "cg"} {
			if v, ok := strings.CutPrefix(line, k+"=v"); ok {
				versions[k] = v
			}
		}
	}
	if want := "envtest-k8s" + versions["k8s"] + "-etcd" + versions["etcd"] + "-cg" + versions["cg"]; kubecluster.AssetsKey != want {
		t.Fatalf("AssetsKey %q, the script builds into %q", kubecluster.AssetsKey, want)
	}
}

// The default metrics-server directory is the one hack/metrics-server.sh builds into.
func TestMetricsServerKeyMatchesTheBuildScript(t *testing.T) {
	script, err := os.ReadFile("../hack/metrics-server.sh")
	if err != nil {
		t.Fatal(err)
	}
	var version string
	for _, line := range strings.Split(string(script), "\n") {
		if v, ok := strings.CutPrefix(line, `version="${METRICS_SERVER_VERSION:-`); ok {
			version, _, _ = strings.Cut(v, "}")
		}
	}
	if want := "metrics-server-" + version; version == "" || kubecluster.MetricsServerKey != want {
		t.Fatalf("MetricsServerKey %q, the script builds into %q", kubecluster.MetricsServerKey, want)
	}
}

// webApp is a Deployment of the test's pod program with the plan's probes (liveness /health,
// readiness /ready), and a Service in front of it.
// A pod tolerates an unreachable or not-ready node for tolerate seconds (nil: the API server's
// default, 300).
func webApp(t *testing.T, client *kubernetes.Clientset, replicas int32, selector map[string]string, tolerate *int64) {
	t.Helper()
	ctx := t.Context()
	labels := map[string]string{"app": "web"}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}},
			PeriodSeconds: 1, FailureThreshold: 2}
	}
	grace := int64(5)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				NodeSelector: selector, TerminationGracePeriodSeconds: &grace, Tolerations: nodeDownTolerations(tolerate),
				Containers: []corev1.Container{{Name: "web", Image: "ddp-verify", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: podPort}},
					LivenessProbe: probe("/health"), ReadinessProbe: probe("/ready")}},
			}}}}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: podPort, TargetPort: intstr.FromString("http")}}}}
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func nodeDownTolerations(secs *int64) []corev1.Toleration {
	if secs == nil {
		return nil
	}
	return []corev1.Toleration{
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs},
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs},
	}
}

// readyPods returns the Deployment's pods that are Running and Ready, by name, with their IPs.
func readyPods(t *testing.T, client *kubernetes.Clientset) map[string]corev1.Pod {
	t.Helper()
	pods, err := client.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]corev1.Pod{}
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				out[p.Name] = p
			}
		}
	}
	return out
}

func podGet(t *testing.T, ip, path string) (string, error) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + net.JoinHostPort(ip, strconv.Itoa(podPort)) + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

func podPost(t *testing.T, ip, path string) {
	t.Helper()
	resp, err := http.Post("http://"+net.JoinHostPort(ip, strconv.Itoa(podPort))+path, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// Pods run as processes on their nodes: each with its own loopback IP, serving there; the
// readiness probe decides the Ready condition; a failing liveness probe restarts the container
// (a new process, the restart counted); a deleted pod's process gets SIGTERM and the
// Deployment's replacement runs.
func TestPodsRunAsProcesses(t *testing.T) {
	_, client := startCluster(t, 0, 0)
	webApp(t, client, 2, map[string]string{kubecluster.PoolLabel: "general"}, nil)
	eventually(t, 2*time.Minute, "2 pods Running and Ready", func() bool { return len(readyPods(t, client)) == 2 })
	pods := readyPods(t, client)
	var a, b corev1.Pod
	for _, p := range pods {
		if a.Name == "" {
			a = p
		} else {
			b = p
		}
	}
	if a.Status.PodIP == b.Status.PodIP || !strings.HasPrefix(a.Status.PodIP, "127.") {
		t.Fatalf("pod IPs %s and %s", a.Status.PodIP, b.Status.PodIP)
	}
	for _, p := range []corev1.Pod{a, b} {
		if name, err := podGet(t, p.Status.PodIP, "/health"); err != nil || name != p.Name {
			t.Fatalf("GET /health at pod %s's IP %s: %q, %v", p.Name, p.Status.PodIP, name, err)
		}
	}

	podPost(t, a.Status.PodIP, "/unready")
	eventually(t, 30*time.Second, "pod "+a.Name+" not ready", func() bool {
		_, ready := readyPods(t, client)[a.Name]
		return !ready
	})

	pid, _ := podGet(t, b.Status.PodIP, "/pid")
	podPost(t, b.Status.PodIP, "/die")
	eventually(t, 30*time.Second, "pod "+b.Name+" restarted by its liveness probe", func() bool {
		p, err := client.CoreV1().Pods("default").Get(t.Context(), b.Name, metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].RestartCount != 1 {
			return false
		}
		now, err := podGet(t, b.Status.PodIP, "/pid")
		return err == nil && now != pid
	})

	if err := client.CoreV1().Pods("default").Delete(t.Context(), a.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "pod "+a.Name+"'s process ended and the pod gone", func() bool {
		_, err := podGet(t, a.Status.PodIP, "/health")
		_, gerr := client.CoreV1().Pods("default").Get(t.Context(), a.Name, metav1.GetOptions{})
		return err != nil && apierrors.IsNotFound(gerr)
	})
	eventually(t, time.Minute, "a replacement Ready", func() bool {
		for name := range readyPods(t, client) {
			if name != a.Name && name != b.Name {
				return true
			}
		}
		return false
	})
}

// An Indexed Job's pods run to completion (restart policy Never): each gets its completion
// index from the Job controller through the downward API, exits, and is reported Succeeded or
// Failed by its exit code; the real Job controller then completes the Job, or fails it.
func TestJobsRunToCompletion(t *testing.T) {
	_, client := startCluster(t, 0, 0)
	ctx := t.Context()
	job := func(name, code string) *batchv1.Job {
		n, zero := int32(2), int32(0)
		mode := batchv1.IndexedCompletion
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: batchv1.JobSpec{Completions: &n, Parallelism: &n, CompletionMode: &mode, BackoffLimit: &zero,
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					NodeSelector: map[string]string{kubecluster.PoolLabel: "general"},
					Containers:   []corev1.Container{{Name: "c", Image: "ddp-verify", Args: []string{"exit", code}}}}}}}
	}
	for name, code := range map[string]string{"works": "0", "fails": "3"} {
		if _, err := client.BatchV1().Jobs("default").Create(ctx, job(name, code), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	condition := func(name string, want batchv1.JobConditionType) bool {
		j, err := client.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range j.Status.Conditions {
			if c.Type == want && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}
	eventually(t, 2*time.Minute, "Job works Complete", func() bool { return condition("works", batchv1.JobComplete) })
	eventually(t, 2*time.Minute, "Job fails Failed", func() bool { return condition("fails", batchv1.JobFailed) })
	j, _ := client.BatchV1().Jobs("default").Get(ctx, "works", metav1.GetOptions{})
	if j.Status.Succeeded != 2 || j.Status.CompletedIndexes != "0,1" {
		t.Errorf("Job works: %d succeeded, indexes %q", j.Status.Succeeded, j.Status.CompletedIndexes)
	}
}

// GPU pods beyond the GPU pool's nodes are Unschedulable until the autoscaler adds a GPU node
// (after the pool's provisioning delay), and then the scheduler places them on it; a pod no
// node of any pool could take (2 GPUs) gets no node. Once the added node runs no pod for the
// scale-down time it is removed (Node, Lease and machine); the topology's nodes stay.
func TestTheAutoscalerAddsAGPUNodeForPendingPods(t *testing.T) {
	topo := topology.Default()
	topo.Pool("gpu").ProvisioningDelay = topology.Duration(2 * time.Second)
	c, err := kubecluster.StartCluster(t.Context(), kubecluster.ClusterOptions{
		Options: kubecluster.Options{Assets: kubeclustertest.Assets(t), Dir: t.TempDir()}, Topology: topo, Autoscale: true,
		ScaleDownAfter: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	client, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	before := len(topo.Nodes())
	gpuNodes := len(topo.Pool("gpu").Zones)
	for i := range gpuNodes + 1 {
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod("transcode-"+strconv.Itoa(i), nil, 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod("too-big", nil, 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bound := func(name string) string {
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p.Spec.NodeName
	}
	took := eventually(t, 2*time.Minute, "every GPU pod bound", func() bool {
		for i := range gpuNodes + 1 {
			if bound("transcode-"+strconv.Itoa(i)) == "" {
				return false
			}
		}
		return true
	})
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != before+1 {
		t.Fatalf("%d nodes, want the %d of the topology and one added", len(nodes.Items), before)
	}
	added := ""
	for _, n := range nodes.Items {
		if c.Node(n.Name) != nil && n.Labels[kubecluster.PoolLabel] == "gpu" && !slices.ContainsFunc(topo.Nodes(), func(tn topology.Node) bool { return tn.Name == n.Name }) {
			added = n.Name
		}
	}
	if added == "" {
		t.Fatal("no GPU node was added")
	}
	t.Logf("GPU node %s added; every GPU pod bound %v after creation (provisioning delay 2s)", added, took.Round(100*time.Millisecond))
	if n := bound("too-big"); n != "" {
		t.Errorf("the 2-GPU pod was bound to %s", n)
	}
	time.Sleep(3 * time.Second) // more than a provisioning delay: no node is added for the 2-GPU pod
	if nodes, _ := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); len(nodes.Items) != before+1 {
		t.Errorf("%d nodes: a node was added that no pending pod fits, or the busy added node was removed", len(nodes.Items))
	}

	for i := range gpuNodes + 1 {
		name := "transcode-" + strconv.Itoa(i)
		if bound(name) == added {
			if err := client.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	removed := eventually(t, time.Minute, "the idle added node removed", func() bool {
		_, err := client.CoreV1().Nodes().Get(ctx, added, metav1.GetOptions{})
		return apierrors.IsNotFound(err) && c.Node(added) == nil
	})
	if _, err := client.CoordinationV1().Leases(kubecluster.NodeLeaseNamespace).Get(ctx, added, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the removed node's Lease: %v; want it gone", err)
	}
	nodes, err = client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != before {
		t.Errorf("%d nodes after the scale-down, want the topology's %d", len(nodes.Items), before)
	}
	t.Logf("the idle node %s removed %v after its last pod was deleted (scale-down time 3s)", added, removed.Round(100*time.Millisecond))
}

// A zone's power loss: the autoscaler launches no node there (on EKS the zone's instance
// launches fail and cluster-autoscaler turns to another zone), and adds the GPU node a pending
// pod needs in a zone with power; a pod that only the dark zone may take waits. One node down
// in a zone does not close the zone.
func TestTheAutoscalerLaunchesNoNodeInAZoneWithoutPower(t *testing.T) {
	topo := topology.Default()
	topo.Pool("gpu").ProvisioningDelay = topology.Duration(time.Second)
	c := kubeclustertest.StartWith(t, kubecluster.ClusterOptions{Topology: topo, Autoscale: true})
	client, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const dark = "us-east-1a"
	gpuZones := topo.Pool("gpu").Zones
	if len(gpuZones) < 2 || gpuZones[0] != dark {
		t.Fatalf("the test wants GPU nodes in %s and another zone, not %v", dark, gpuZones)
	}
	// Every node Ready first: a pod created before would be unschedulable for a moment, and the
	// autoscaler would add nodes for it before the zone goes dark.
	eventually(t, time.Minute, "every node Ready", func() bool {
		l, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range l.Items {
			if !slices.ContainsFunc(n.Status.Conditions, func(c corev1.NodeCondition) bool {
				return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
			}) || slices.ContainsFunc(n.Spec.Taints, func(tn corev1.Taint) bool { return tn.Key == corev1.TaintNodeNotReady }) {
				return false
			}
		}
		return len(l.Items) == len(topo.Nodes())
	})
	// Every GPU busy, then zone a dark.
	for i, z := range gpuZones {
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod("busy-"+strconv.Itoa(i), map[string]string{kubecluster.ZoneLabel: z}, 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, time.Minute, "the GPU pods bound", func() bool {
		l, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range l.Items {
			if p.Spec.NodeName == "" {
				return false
			}
		}
		return len(l.Items) == len(gpuZones)
	})
	if nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil || len(nodes.Items) != len(topo.Nodes()) {
		t.Fatalf("before the zone goes dark: %v nodes (%v), want the topology's %d", len(nodes.Items), err, len(topo.Nodes()))
	}
	for _, n := range topo.Nodes() {
		if n.Zone == dark {
			c.Node(n.Name).PowerOff()
		}
	}
	for _, p := range []*corev1.Pod{pod("anywhere", nil, 1), pod("only-in-a", map[string]string{kubecluster.ZoneLabel: dark}, 1)} {
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var node corev1.Node
	eventually(t, time.Minute, "a GPU node added for the pending pod", func() bool {
		p, err := client.CoreV1().Pods("default").Get(ctx, "anywhere", metav1.GetOptions{})
		if err != nil || p.Spec.NodeName == "" {
			return false
		}
		n, err := client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node = *n
		return true
	})
	if z := node.Labels[kubecluster.ZoneLabel]; z == dark || slices.ContainsFunc(topo.Nodes(), func(n topology.Node) bool { return n.Name == node.Name }) {
		t.Errorf("the pending pod went to %s in %s: want a node added in a zone with power", node.Name, z)
	}
	time.Sleep(3 * time.Second) // three provisioning delays
	p, err := client.CoreV1().Pods("default").Get(ctx, "only-in-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "" {
		t.Errorf("the pod only zone %s may take was bound to %s while the zone had no power", dark, p.Spec.NodeName)
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: kubecluster.ZoneLabel + "=" + dark})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(slices.DeleteFunc(topo.Nodes(), func(n topology.Node) bool { return n.Zone != dark })); len(nodes.Items) != want {
		t.Errorf("%d nodes in %s, want its %d: a node was launched in the dark zone", len(nodes.Items), dark, want)
	}
	t.Logf("zone %s dark: GPU node %s added in %s", dark, node.Name, node.Labels[kubecluster.ZoneLabel])
}

// An image with no program on this machine leaves its container waiting with that reason; a
// running container whose image changes restarts (a new process, the restart counted).
func TestImagesArePrograms(t *testing.T) {
	_, client := startCluster(t, 0, 0)
	ctx := t.Context()
	for _, p := range []*corev1.Pod{pod("nginx", nil, 0), pod("web", nil, 0)} {
		if p.Name == "nginx" {
			p.Spec.Containers[0].Image = "nginx:1.27"
		}
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	status := func(name string) (corev1.ContainerStatus, *corev1.Pod) {
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Status.ContainerStatuses) == 0 {
			return corev1.ContainerStatus{}, p
		}
		return p.Status.ContainerStatuses[0], p
	}
	eventually(t, time.Minute, "the nginx container waiting", func() bool {
		st, _ := status("nginx")
		return st.State.Waiting != nil && strings.Contains(st.State.Waiting.Message, "has no program on this machine")
	})
	var ip, pid string
	eventually(t, time.Minute, "the web pod serving", func() bool {
		_, p := status("web")
		ip = p.Status.PodIP
		var err error
		pid, err = podGet(t, ip, "/pid")
		return ip != "" && err == nil
	})
	_, p := status("web")
	p.Spec.Containers[0].Image = "ddp-verify:v2"
	if _, err := client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the web container restarted on its new image", func() bool {
		st, _ := status("web")
		now, err := podGet(t, ip, "/pid")
		return st.RestartCount == 1 && st.Image == "ddp-verify:v2" && err == nil && now != pid
	})
}
