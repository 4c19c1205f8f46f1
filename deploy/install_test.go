package deploy_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	helmrelease "helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dailydoco/ddp-verify/deploy"
	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
	"github.com/dailydoco/ddp-verify/kubeplatform"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/platform/gateway"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/scenarios"
)

// The chart installed with the Helm SDK (`helm install`'s code) on the local cluster, in the
// cluster's own network namespace, runs the reference platform: the real scheduler binds every
// workload's pods to nodes of its pool (the plan's general, GPU and memory pools over three
// zones), one GPU worker per GPU node, and spreads each workload's replicas over the zones its
// pool has; every pod (image ddp-verify, `platform pod SERVICE`) becomes Ready by the chart's
// probes, the API pods only once they reach the data tier at its Service's cluster IP (service
// links and the cluster's service proxy) with the token from the chart's Secret; and a user
// served by the gateway routing from EndpointSlices signs up and uploads a capture that the GPU
// worker and the AI worker (pods of the pools) process to ready. The local cluster has no
// Prometheus operator and no storage provisioner, so the operator's objects are off and the
// data tier keeps its data in an emptyDir.
func TestHelmInstallOnTheLocalCluster(t *testing.T) {
	if !kubeclustertest.InPodNetwork(t) {
		return
	}
	cluster := kubeclustertest.StartWith(t, kubecluster.ClusterOptions{PodNetwork: kubecluster.PodNetwork, Options: kubecluster.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}})
	rel, err := deploy.Install(t.Context(), cluster.Kubeconfig, release, namespace, deploy.LocalClusterValues())
	require.NoError(t, err)
	assert.Equal(t, helmrelease.StatusDeployed, rel.Info.Status)

	client, err := cluster.Client()
	require.NoError(t, err)
	nodes, err := client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	nodeLabels := map[string]map[string]string{}
	for _, n := range nodes.Items {
		nodeLabels[n.Name] = n.Labels
	}
	var pods []corev1.Pod
	require.Eventually(t, func() bool {
		l, err := client.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + release})
		require.NoError(t, err)
		pods = l.Items
		for _, p := range pods {
			if p.Spec.NodeName == "" {
				return false
			}
		}
		return len(pods) == 3+3+2+2+1
	}, 2*time.Minute, 200*time.Millisecond, "every pod of the release bound to a node")

	pool := map[string]string{"web-dashboard": "general", "api-server": "general", "video-processor": "gpu", "authenticity-engine": "memory", "data-tier": "general"}
	zones := map[string]map[string]bool{}
	gpuNodes := map[string]int{}
	for _, p := range pods {
		w := p.Labels["app.kubernetes.io/name"]
		labels := nodeLabels[p.Spec.NodeName]
		assert.Equal(t, pool[w], labels[kubecluster.PoolLabel], "pod %s on node %s", p.Name, p.Spec.NodeName)
		if zones[w] == nil {
			zones[w] = map[string]bool{}
		}
		zones[w][labels[kubecluster.ZoneLabel]] = true
		if w == "video-processor" {
			gpuNodes[p.Spec.NodeName]++
		}
	}
	for w, n := range map[string]int{"web-dashboard": 3, "api-server": 3, "video-processor": 2, "authenticity-engine": 2} {
		assert.Len(t, zones[w], n, "%s's replicas over the zones: %v", w, zones[w])
	}
	for node, n := range gpuNodes {
		assert.Equal(t, 1, n, "GPU workers on %s (one GPU each)", node)
	}
	t.Logf("helm install %s: %d pods placed, %v", release, len(pods), zones)

	start := time.Now()
	waitReleaseReady(t, cluster, len(pods))
	t.Logf("all %d pods Ready %s after they were placed", len(pods), time.Since(start).Round(100*time.Millisecond))
	srv := platformGateway(t, cluster)

	user := &platformtest.Client{BaseURL: srv.URL, IP: "198.18.0.7"}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	require.NoError(t, user.Signup(ctx, "chart@example.com"))
	v, err := user.Upload(ctx, "720p", 4, 2, 64<<10)
	require.NoError(t, err)
	v, err = user.WaitReady(ctx, v.ID, 200*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, "gpu", nodeLabels[v.GPUNode][kubecluster.PoolLabel], "the video's GPU step on %q", v.GPUNode)
	assert.Equal(t, "memory", nodeLabels[v.AINode][kubecluster.PoolLabel], "the video's AI step on %q", v.AINode)
	t.Logf("a video through the chart's platform: GPU on %s, AI on %s, ready %s after acceptance", v.GPUNode, v.AINode, v.ReadyAt.Sub(v.AcceptedAt).Round(time.Millisecond))

	// Prometheus's kubernetes-pods job finds every pod by its annotations and scrapes the
	// series the SLO set reads: the API's request durations, the pipeline's counts and queue.
	ps, err := prom.New(t.Context(), prom.Options{Dir: t.TempDir(), ScrapeInterval: 500 * time.Millisecond,
		Jobs: []prom.Job{{Name: "platform", Kubernetes: &prom.KubernetesSD{Kubeconfig: cluster.Kubeconfig, Namespaces: []string{namespace}}}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ps.Close() })
	pc, err := promapi.NewClient(promapi.Config{Address: ps.URL()})
	require.NoError(t, err)
	api := promv1.NewAPI(pc)
	value := func(q string) float64 {
		v, _, _, err := api.Query(ctx, q, time.Now())
		require.NoError(t, err, q)
		if vec, ok := v.(model.Vector); ok && len(vec) == 1 {
			return float64(vec[0].Value)
		}
		return -1
	}
	for q, want := range map[string]float64{
		`count(up{job="platform"} == 1)`:                                         float64(len(pods)),
		`sum(dailydoco_videos_processed_total{job="platform",result="success"})`: 1,
		`sum(dailydoco_queue_depth{job="platform"})`:                             0,
	} {
		require.Eventually(t, func() bool { return value(q) == want }, time.Minute, 250*time.Millisecond, "%s = %v (now %v)", q, want, value(q))
	}
	assert.Positive(t, value(`sum(http_server_request_duration_seconds_count{job="platform",app="api-server",http_route="/api/v1/captures"})`), "the API pods' request durations, by the pod's app")

	// The load tool's journeys that wait for no processing (a user's registration, browsing,
	// a capture's upload; the pipeline and export journeys wait minutes for the plan's model)
	// pass through the gateway: 3 VUs, 4 iterations each.
	mix, err := scenarios.NewMix(map[string]float64{scenarios.JourneyRegistration: 1, scenarios.JourneyBrowse: 1, scenarios.JourneyCapture: 1},
		scenarios.Think{Distribution: "constant", Mean: 20 * time.Millisecond}, scenarios.Target{BaseURL: srv.URL, UploadSpeed: 50, RunID: "chart"})
	require.NoError(t, err)
	eng, err := load.NewEngine([]load.ScenarioConfig{{Name: "journeys", Exec: mix,
		Executor: load.PerVUIterations{VUs: 3, Iterations: 4, MaxDuration: 2 * time.Minute}}}, load.WithSeed(7))
	require.NoError(t, err)
	res, err := eng.Run(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 12, res.Snapshot.Counter(load.MetricIterations, nil), "iterations")
	assert.Zero(t, res.Snapshot.Counter(load.MetricIterFailed, nil), "failed iterations")
	checks, failed := res.Snapshot.Rate(load.MetricChecks, nil)
	assert.Positive(t, checks)
	assert.Zero(t, failed, "failed checks of %d", checks)
	t.Logf("journeys through the gateway: 12 iterations, %d checks passed", checks)

	// The GPU workers' autoscaler scales on their backlog, read through the external metrics
	// API (served from this Prometheus): 12 long 4K captures, a whole GPU each, keep both GPUs
	// busy and 10 waiting, which asks for more workers (ceil(10/2) = 5).
	sctx, scancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer scancel()
	ext, err := kubeplatform.ServeExternalMetrics(sctx, cluster, namespace, api, nil)
	require.NoError(t, err)
	require.NotNil(t, ext, "the chart's GPU autoscaler names an external metric")
	t.Cleanup(ext.Close)
	for i := range 12 {
		_, err := user.Upload(sctx, "4k", 300, 1, 1024)
		require.NoError(t, err, "4K capture %d", i)
	}
	require.Eventually(t, func() bool {
		d, err := client.AppsV1().Deployments(namespace).Get(sctx, "video-processor", metav1.GetOptions{})
		require.NoError(t, err)
		return *d.Spec.Replicas >= 3
	}, time.Minute, time.Second, "the HPA adds GPU workers for the backlog (waiting: %v)", value(`sum(dailydoco_queue_waiting{stage="gpu"})`))
	hpa, err := client.AutoscalingV2().HorizontalPodAutoscalers(namespace).Get(sctx, "video-processor", metav1.GetOptions{})
	require.NoError(t, err)
	var backlog float64
	for _, m := range hpa.Status.CurrentMetrics {
		if m.External != nil && m.External.Metric.Name == "dailydoco_queue_waiting" && m.External.Current.AverageValue != nil {
			backlog = m.External.Current.AverageValue.AsApproximateFloat64()
		}
	}
	assert.Greater(t, backlog, 2.0, "the HPA's backlog per worker, as it read it: %+v", hpa.Status.CurrentMetrics)
	t.Logf("GPU workers scaled to %d on a backlog of %.1f jobs per worker", hpa.Status.DesiredReplicas, backlog)
}

// waitReleaseReady waits until n pods of the release are Ready; a failing test logs them.
func waitReleaseReady(t *testing.T, cluster *kubecluster.Cluster, n int) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			kubeclustertest.LogPods(t, cluster, namespace, "app.kubernetes.io/instance="+release)
		}
	})
	client, err := cluster.Client()
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		l, err := client.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + release})
		require.NoError(t, err)
		ready := 0
		for _, p := range l.Items {
			if kubecluster.PodReady(&p) {
				ready++
			}
		}
		return ready == n
	}, 3*time.Minute, time.Second, "%d pods of the release Ready", n)
}

// platformGateway serves the platform's gateway, routing from the release's EndpointSlices,
// once it routes to the 3 API and 3 dashboard pods.
func platformGateway(t *testing.T, cluster *kubecluster.Cluster) *httptest.Server {
	t.Helper()
	client, err := cluster.Client()
	require.NoError(t, err)
	g, err := gateway.New(gateway.Config{Retries: 2, UpstreamTimeout: 10 * time.Second, HealthInterval: time.Hour}, nil, prometheus.NewRegistry())
	require.NoError(t, err)
	routing := gateway.KubernetesRouting{Namespace: namespace, Services: deploy.RoutedServices}
	require.NoError(t, gateway.FollowEndpointSlices(t.Context(), client, routing, g))
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	// Ready pods reach the EndpointSlices a moment later (the EndpointSlice controller's sync).
	require.Eventually(t, func() bool { return len(g.Backends()) == 6 }, 30*time.Second, 100*time.Millisecond,
		"3 API and 3 dashboard endpoints routed to")
	return srv
}
