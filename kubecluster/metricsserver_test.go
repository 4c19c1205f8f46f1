package kubecluster_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
)

// The real metrics-server serves the CPU and memory of the nodes and pods from the node
// agents' kubelet endpoints, and the real HPA controller scales on it: a pod using half a
// core against its request of 100m, at a 50 % target, asks for ceil(500/50) = 10 replicas,
// capped at 3 (half a core by the wall clock leaves room for a busy machine: 100m suffices); a pod using 2 % of a core has its metric too and stays alone. The kubelet
// endpoint refuses a client without a certificate of the cluster CA.
func TestTheRealHPAScalesOnCPUFromMetricsServer(t *testing.T) {
	if !kubeclustertest.InPodNetwork(t) {
		return
	}
	assets := kubeclustertest.MetricsServerAssets(t)
	c := kubeclustertest.StartWith(t, kubecluster.ClusterOptions{PodNetwork: kubecluster.PodNetwork})
	ctx := t.Context()
	ms, err := c.StartMetricsServer(ctx, assets)
	require.NoError(t, err)
	t.Cleanup(ms.Close)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(ms.Log)
			t.Logf("metrics-server's log:\n%s", b[max(0, len(b)-4000):])
		}
	})
	client, err := c.Client()
	require.NoError(t, err)
	metrics, err := metricsclient.NewForConfig(c.Config)
	require.NoError(t, err)

	ep, err := c.Nodes[0].KubeletEndpoint()
	require.NoError(t, err)
	anonymous := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	_, err = anonymous.Get("https://" + ep + "/metrics/resource")
	require.Error(t, err, "a kubelet endpoint answered a client without a certificate")

	deployOnCPU(t, client, "burner")
	deployOnCPU(t, client, "quiet")
	burn(t, client, "burner", 0.5)
	burn(t, client, "quiet", 0.02)

	var node string
	require.Eventually(t, func() bool {
		pods, err := metrics.MetricsV1beta1().PodMetricses("default").List(ctx, metav1.ListOptions{LabelSelector: "app=burner"})
		if err != nil || len(pods.Items) == 0 || len(pods.Items[0].Containers) == 0 {
			return false
		}
		cpu := pods.Items[0].Containers[0].Usage.Cpu().MilliValue()
		mem := pods.Items[0].Containers[0].Usage.Memory().Value()
		t.Logf("burner: %dm CPU, %d MiB", cpu, mem>>20)
		return cpu >= 100 && mem > 0
	}, 2*time.Minute, 2*time.Second, "metrics-server serves the burner's CPU (about 500m) and memory")
	pod := runningPod(t, client, "burner")
	node = pod.Spec.NodeName
	// A node's CPU takes two scrapes with its pods running (a new container's first one is
	// enough, its start counts as the first).
	require.Eventually(t, func() bool {
		nm, err := metrics.MetricsV1beta1().NodeMetricses().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false
		}
		t.Logf("node %s: %dm CPU, %d MiB", node, nm.Usage.Cpu().MilliValue(), nm.Usage.Memory().Value()>>20)
		return nm.Usage.Cpu().MilliValue() >= 100 && nm.Usage.Memory().Value() > 0
	}, time.Minute, 2*time.Second, "metrics-server serves node %s's CPU, its pods' (about 500m), and memory", node)

	require.Eventually(t, func() bool { return replicasOf(t, client, "burner") == 3 }, 3*time.Minute, time.Second,
		"the HPA scales burner to its maximum, 3")
	hpa, err := client.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "quiet", metav1.GetOptions{})
	require.NoError(t, err)
	var active bool
	for _, cond := range hpa.Status.Conditions {
		if cond.Type == autoscalingv2.ScalingActive {
			active = cond.Status == corev1.ConditionTrue
			assert.True(t, active, "quiet's HPA: %s: %s", cond.Reason, cond.Message)
		}
	}
	assert.True(t, active, "quiet's HPA has its metric: %+v", hpa.Status.Conditions)
	assert.Equal(t, int32(1), replicasOf(t, client, "quiet"), "a pod at 2 %% of a core against 100m at 50 %% stays alone")
}

// deployOnCPU creates a Deployment of one test pod requesting 100m CPU and its HPA (1 to 3
// replicas, 50 % of the request).
func deployOnCPU(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	one, half := int32(1), int32(50)
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				NodeSelector: map[string]string{kubecluster.PoolLabel: "general"},
				Containers: []corev1.Container{{Name: name, Image: "ddp-verify",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}},
			}}}}
	_, err := client.AppsV1().Deployments("default").Create(t.Context(), dep, metav1.CreateOptions{})
	require.NoError(t, err)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			MinReplicas:    &one, MaxReplicas: 3,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &half},
			}}},
		},
	}
	_, err = client.AutoscalingV2().HorizontalPodAutoscalers("default").Create(t.Context(), hpa, metav1.CreateOptions{})
	require.NoError(t, err)
}

// burn makes the Deployment's first pod use share of a core, once it is Ready.
func burn(t *testing.T, client kubernetes.Interface, name string, share float64) {
	t.Helper()
	var pod *corev1.Pod
	require.Eventually(t, func() bool {
		pod = runningPod(t, client, name)
		return pod != nil && kubecluster.PodReady(pod)
	}, time.Minute, 200*time.Millisecond, "%s's pod Ready", name)
	url := fmt.Sprintf("http://%s:%d/burn?share=%g", pod.Status.PodIP, kubeclustertest.PodPort, share)
	resp, err := http.Post(url, "", strings.NewReader(""))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
}

// runningPod is the Deployment's oldest pod, or nil.
func runningPod(t *testing.T, client kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	pods, err := client.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=" + name})
	require.NoError(t, err)
	var oldest *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if oldest == nil || p.CreationTimestamp.Before(&oldest.CreationTimestamp) {
			oldest = p
		}
	}
	return oldest
}

func replicasOf(t *testing.T, client kubernetes.Interface, name string) int32 {
	t.Helper()
	d, err := client.AppsV1().Deployments("default").Get(t.Context(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return *d.Spec.Replicas
}
