package externalmetrics_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dailydoco/ddp-verify/externalmetrics"
	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
	"github.com/dailydoco/ddp-verify/prom"
)

// TestMain makes this test binary the program of the test's pods.
func TestMain(m *testing.M) {
	if kubeclustertest.IsPod() {
		os.Exit(kubeclustertest.ServePod())
	}
	os.Exit(m.Run())
}

// The real HPA controller scales a Deployment on an External metric that it reads through the
// API server's aggregation layer from this package's server, whose values a real Prometheus
// computes from what it scraped: a backlog of 10 jobs at 4 per replica asks for 3 replicas. A
// metric without data does not scale anything: the autoscaler reports that it cannot get it.
func TestTheRealHPAScalesOnTheExternalMetric(t *testing.T) {
	if !kubeclustertest.InPodNetwork(t) {
		return
	}
	c := kubeclustertest.StartWith(t, kubecluster.ClusterOptions{PodNetwork: kubecluster.PodNetwork})
	client, err := c.Client()
	require.NoError(t, err)
	ctx := t.Context()

	var waiting atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "dailydoco_queue_waiting{namespace=\"default\",stage=\"gpu\"} %d\n", waiting.Load())
	}))
	t.Cleanup(target.Close)
	srv, err := prom.New(ctx, prom.Options{Dir: t.TempDir(), ScrapeInterval: time.Second,
		Jobs: []prom.Job{{Name: "platform", Targets: []string{strings.TrimPrefix(target.URL, "http://")}}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	pc, err := promapi.NewClient(promapi.Config{Address: srv.URL()})
	require.NoError(t, err)
	h, err := externalmetrics.New(promv1.NewAPI(pc), []string{"dailydoco_queue_waiting", "absent_metric"}, nil)
	require.NoError(t, err)
	api, err := c.ServeAPI(ctx, kubecluster.APIGroup{Group: externalmetrics.Group, Version: externalmetrics.Version, Service: "external-metrics"}, h)
	require.NoError(t, err)
	t.Cleanup(api.Close)
	// Only the API server's proxy reaches the server: a client without the front-proxy
	// client certificate is refused in the TLS handshake.
	direct := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	_, err = direct.Get("https://" + api.Addr.String() + "/apis")
	require.Error(t, err, "a client without the front-proxy certificate")

	deploy(t, client, "worker", "dailydoco_queue_waiting")
	deploy(t, client, "idle", "absent_metric")
	waiting.Store(10)
	require.Eventually(t, func() bool { return replicas(t, client, "worker") == 3 }, 2*time.Minute, time.Second,
		"the HPA scales worker to ceil(10/4) = 3 replicas")
	hpa, err := client.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "worker", metav1.GetOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, hpa.Status.CurrentMetrics)
	ext := hpa.Status.CurrentMetrics[0].External
	require.NotNil(t, ext, "%+v", hpa.Status.CurrentMetrics)
	assert.Equal(t, "dailydoco_queue_waiting", ext.Metric.Name)

	require.Eventually(t, func() bool {
		hpa, err := client.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "idle", metav1.GetOptions{})
		require.NoError(t, err)
		for _, cond := range hpa.Status.Conditions {
			if cond.Type == autoscalingv2.ScalingActive && cond.Status == corev1.ConditionFalse && cond.Reason == "FailedGetExternalMetric" {
				return true
			}
		}
		return false
	}, time.Minute, time.Second, "the HPA of a metric without data says it cannot get it")
	assert.Equal(t, int32(1), replicas(t, client, "idle"), "a metric without data scales nothing")
}

// deploy creates a Deployment of one pod and its HPA (1 to 3 replicas, 4 of metric's
// stage=gpu per replica).
func deploy(t *testing.T, client *kubernetes.Clientset, name, metric string) {
	t.Helper()
	one := int32(1)
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				NodeSelector: map[string]string{kubecluster.PoolLabel: "general"},
				Containers:   []corev1.Container{{Name: name, Image: "ddp-verify"}},
			}}}}
	_, err := client.AppsV1().Deployments("default").Create(t.Context(), dep, metav1.CreateOptions{})
	require.NoError(t, err)
	perReplica := resource.MustParse("4")
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			MinReplicas:    &one, MaxReplicas: 3,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
				Metric: autoscalingv2.MetricIdentifier{Name: metric, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"stage": "gpu"}}},
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &perReplica},
			}}},
		},
	}
	_, err = client.AutoscalingV2().HorizontalPodAutoscalers("default").Create(t.Context(), hpa, metav1.CreateOptions{})
	require.NoError(t, err)
}

func replicas(t *testing.T, client *kubernetes.Clientset, name string) int32 {
	t.Helper()
	d, err := client.AppsV1().Deployments("default").Get(t.Context(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return *d.Spec.Replicas
}
