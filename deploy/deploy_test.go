package deploy_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/dailydoco/ddp-verify/deploy"
	"github.com/dailydoco/ddp-verify/platform/alerts"
	"github.com/dailydoco/ddp-verify/platform/dashboards"
)

var update = flag.Bool("update", false, "rewrite the chart's copies of the alert rules and dashboards from their sources")

const (
	release   = "dailydoco"
	namespace = "dailydoco-prod"
)

// The chart is lint-clean as `helm lint` judges it (the Helm SDK's linter): no warning, no error.
func TestChartIsLintClean(t *testing.T) {
	l := lint.All(deploy.ChartPath, nil, namespace, false)
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
}

// The chart ships the same alert rules ddp-verify evaluates and the dashboards `ddp-verify
// dashboards` writes; go test ./deploy -update copies them again after they change.
func TestChartFilesAreTheirSources(t *testing.T) {
	want := map[string][]byte{"files/alert-rules.yaml": alerts.Rules}
	for _, d := range append(dashboards.All(), dashboards.Verification()) {
		b, err := json.MarshalIndent(d, "", "  ")
		require.NoError(t, err)
		want["files/dashboards/"+d.UID+".json"] = append(b, '\n')
	}
	dir := filepath.Join(deploy.ChartPath, "files", "dashboards")
	if *update {
		require.NoError(t, os.RemoveAll(dir))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for name, b := range want {
			require.NoError(t, os.WriteFile(filepath.Join(deploy.ChartPath, name), b, 0o644))
		}
	}
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(deploy.ChartPath, name))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(got, b), "%s differs from its source; run go test ./deploy -update", name)
	}
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, ents, len(want)-1, "the chart ships a dashboard that is not the plan's")
}

// rendered decodes the chart's documents with the default values into typed objects, by kind
// and name.
func rendered(t *testing.T, values map[string]any) map[string]runtime.Object {
	t.Helper()
	docs, err := deploy.Render(release, namespace, values)
	require.NoError(t, err)
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	require.NoError(t, monitoringv1.AddToScheme(s))
	dec := serializer.NewCodecFactory(s).UniversalDeserializer()
	out := map[string]runtime.Object{}
	for _, d := range docs {
		obj, gvk, err := dec.Decode([]byte(d.YAML), nil, nil)
		require.NoError(t, err, "%s:\n%s", d.Template, d.YAML)
		name := obj.(interface{ GetName() string }).GetName()
		key := gvk.Kind + "/" + name
		require.NotContains(t, out, key, "rendered twice")
		out[key] = obj
	}
	return out
}

// The chart says what the plan says: web-dashboard with 3 replicas, a rolling update of one
// surge and none unavailable, the plan's requests and limits and probes; the GPU workers
// asking a GPU, tolerating the GPU taint and on the GPU pool; the AI workers on the memory
// pool; replicas spread over the zones; the data tier as a StatefulSet; HPAs, PDBs,
// NetworkPolicies and Services; the ServiceMonitor; the plan's alert rules as a
// PrometheusRule; its dashboards as ConfigMaps.
func TestChartMirrorsThePlan(t *testing.T) {
	objs := rendered(t, nil)
	dash := objs["Deployment/web-dashboard"].(*appsv1.Deployment)
	require.NotNil(t, dash)
	assert.Equal(t, int32(3), *dash.Spec.Replicas)
	assert.Equal(t, appsv1.RollingUpdateDeploymentStrategyType, dash.Spec.Strategy.Type)
	assert.Equal(t, "1", dash.Spec.Strategy.RollingUpdate.MaxSurge.String())
	assert.Equal(t, "0", dash.Spec.Strategy.RollingUpdate.MaxUnavailable.String())
	c := dash.Spec.Template.Spec.Containers[0]
	qty := resource.MustParse
	assert.True(t, qty("512Mi").Equal(c.Resources.Requests[corev1.ResourceMemory]) && qty("500m").Equal(c.Resources.Requests[corev1.ResourceCPU]), "requests %v", c.Resources.Requests)
	assert.True(t, qty("1Gi").Equal(c.Resources.Limits[corev1.ResourceMemory]) && qty("1000m").Equal(c.Resources.Limits[corev1.ResourceCPU]), "limits %v", c.Resources.Limits)
	assert.Equal(t, int32(3000), c.Ports[0].ContainerPort)
	require.NotNil(t, c.LivenessProbe)
	assert.Equal(t, "/health", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, [2]int32{30, 10}, [2]int32{c.LivenessProbe.InitialDelaySeconds, c.LivenessProbe.PeriodSeconds})
	assert.Equal(t, "/ready", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, [2]int32{5, 5}, [2]int32{c.ReadinessProbe.InitialDelaySeconds, c.ReadinessProbe.PeriodSeconds})

	for name, pool := range map[string]string{"web-dashboard": "general", "api-server": "general", "video-processor": "gpu", "authenticity-engine": "memory"} {
		d := objs["Deployment/"+name].(*appsv1.Deployment)
		require.NotNil(t, d, name)
		spec := d.Spec.Template.Spec
		assert.Equal(t, pool, spec.NodeSelector["eks.amazonaws.com/nodegroup"], name)
		require.Len(t, spec.TopologySpreadConstraints, 1, name)
		assert.Equal(t, "topology.kubernetes.io/zone", spec.TopologySpreadConstraints[0].TopologyKey, name)
		assert.Equal(t, d.Spec.Selector.MatchLabels, spec.TopologySpreadConstraints[0].LabelSelector.MatchLabels, name)
		assert.Contains(t, objs, "Service/"+name)
		assert.Contains(t, objs, "NetworkPolicy/"+name)
		assert.Contains(t, objs, "PodDisruptionBudget/"+name)
	}
	gpu := objs["Deployment/video-processor"].(*appsv1.Deployment).Spec.Template.Spec
	assert.True(t, qty("1").Equal(gpu.Containers[0].Resources.Limits["nvidia.com/gpu"]), "GPU limit %v", gpu.Containers[0].Resources.Limits)
	require.Len(t, gpu.Tolerations, 1)
	assert.Equal(t, "nvidia.com/gpu", gpu.Tolerations[0].Key)
	assert.Empty(t, objs["Deployment/web-dashboard"].(*appsv1.Deployment).Spec.Template.Spec.Tolerations, "only GPU workloads tolerate the GPU taint")

	hpa := objs["HorizontalPodAutoscaler/api-server"].(*autoscalingv2.HorizontalPodAutoscaler)
	assert.Equal(t, [2]int32{3, 12}, [2]int32{*hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas})
	require.Len(t, hpa.Spec.Metrics, 1, "the API scales on CPU only")
	assert.Equal(t, autoscalingv2.ResourceMetricSourceType, hpa.Spec.Metrics[0].Type)
	// The GPU workers scale on CPU and on their backlog: a replica per 2 jobs waiting for a GPU.
	gpuHPA := objs["HorizontalPodAutoscaler/video-processor"].(*autoscalingv2.HorizontalPodAutoscaler)
	assert.Equal(t, [2]int32{2, 8}, [2]int32{*gpuHPA.Spec.MinReplicas, gpuHPA.Spec.MaxReplicas})
	require.Len(t, gpuHPA.Spec.Metrics, 2)
	ext := gpuHPA.Spec.Metrics[1].External
	require.NotNil(t, ext, "%+v", gpuHPA.Spec.Metrics)
	assert.Equal(t, "dailydoco_queue_waiting", ext.Metric.Name)
	assert.Equal(t, map[string]string{"stage": "gpu"}, ext.Metric.Selector.MatchLabels)
	assert.Equal(t, autoscalingv2.AverageValueMetricType, ext.Target.Type)
	assert.True(t, qty("2").Equal(*ext.Target.AverageValue), "%v", ext.Target.AverageValue)
	pdb := objs["PodDisruptionBudget/api-server"].(*policyv1.PodDisruptionBudget)
	assert.Equal(t, "2", pdb.Spec.MinAvailable.String())
	np := objs["NetworkPolicy/data-tier"].(*networkingv1.NetworkPolicy)
	assert.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, np.Spec.PolicyTypes)
	assert.Len(t, np.Spec.Ingress[0].From, 2, "the data tier takes the release's pods and the scrapes, not the ingress")
	assert.Len(t, objs["NetworkPolicy/api-server"].(*networkingv1.NetworkPolicy).Spec.Ingress[0].From, 3, "the API takes the ingress too")

	sts := objs["StatefulSet/data-tier"].(*appsv1.StatefulSet)
	require.NotNil(t, sts)
	assert.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	assert.Equal(t, "data-tier-headless", sts.Spec.ServiceName)
	assert.Equal(t, "None", objs["Service/data-tier-headless"].(*corev1.Service).Spec.ClusterIP, "the StatefulSet's governing Service is headless")
	assert.Empty(t, objs["Service/data-tier"].(*corev1.Service).Spec.ClusterIP, "clients reach the data tier at its cluster IP (service links)")
	assertEnv := func(workload string, env map[string]string) {
		t.Helper()
		var c corev1.Container
		if d, ok := objs["Deployment/"+workload].(*appsv1.Deployment); ok {
			c = d.Spec.Template.Spec.Containers[0]
		} else {
			c = sts.Spec.Template.Spec.Containers[0]
		}
		got := map[string]string{}
		for _, e := range c.Env {
			got[e.Name] = e.Value
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				got[e.Name] = "secret " + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
			}
		}
		for k, v := range env {
			assert.Equal(t, v, got[k], "%s's $%s", workload, k)
		}
		if _, ok := env["DDP_SIGNING_SECRET"]; !ok {
			assert.NotContains(t, got, "DDP_SIGNING_SECRET", "only the API signs: %s", workload)
		}
	}
	for _, w := range []string{"api-server", "video-processor"} {
		d := objs["Deployment/"+w].(*appsv1.Deployment)
		assert.Equal(t, map[string]string{"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics", "prometheus.io/port": fmt.Sprint(d.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort)},
			d.Spec.Template.Annotations, "%s's pods are annotated for the kubernetes-pods scrape job", w)
	}
	assert.Equal(t, "5432", sts.Spec.Template.Annotations["prometheus.io/port"])
	dataTierURL := "http://$(DATA_TIER_SERVICE_HOST):$(DATA_TIER_SERVICE_PORT)"
	assertEnv("api-server", map[string]string{"DDP_HTTP_PORT": "8080", "DDP_DATATIER_URL": dataTierURL,
		"DDP_DATATIER_TOKEN": "secret dailydoco-platform/datatier-token", "DDP_SIGNING_SECRET": "secret dailydoco-platform/signing-secret"})
	assertEnv("video-processor", map[string]string{"DDP_HTTP_PORT": "8081", "DDP_GPUS": "1", "DDP_DATATIER_URL": dataTierURL})
	assertEnv("data-tier", map[string]string{"DDP_HTTP_PORT": "5432", "DDP_DATA_DIR": "/var/lib/dailydoco", "DDP_DATATIER_TOKEN": "secret dailydoco-platform/datatier-token"})
	assert.NotContains(t, objs, "Secret/dailydoco-platform", "the platform's Secret is made outside the chart by default")

	sm := objs["ServiceMonitor/dailydoco"].(*monitoringv1.ServiceMonitor)
	assert.Equal(t, "/metrics", sm.Spec.Endpoints[0].Path)
	pr := objs["PrometheusRule/dailydoco-alerts"].(*monitoringv1.PrometheusRule)
	var rules struct {
		Groups []struct {
			Name  string           `yaml:"name"`
			Rules []map[string]any `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(alerts.Rules, &rules))
	require.Len(t, pr.Spec.Groups, len(rules.Groups))
	for i, g := range rules.Groups {
		assert.Equal(t, g.Name, pr.Spec.Groups[i].Name)
		require.Len(t, pr.Spec.Groups[i].Rules, len(g.Rules))
		for j, r := range g.Rules {
			got := pr.Spec.Groups[i].Rules[j]
			assert.Equal(t, r["alert"], got.Alert)
			assert.Equal(t, r["expr"], got.Expr.String(), "rule %s", got.Alert)
			annotations, _ := r["annotations"].(map[string]any)
			assert.Equal(t, annotations["summary"], got.Annotations["summary"], "rule %s: the template of Prometheus, not Helm's", got.Alert)
		}
	}
	for _, d := range append(dashboards.All(), dashboards.Verification()) {
		cm, ok := objs["ConfigMap/dashboard-"+d.UID].(*corev1.ConfigMap)
		require.True(t, ok, "no ConfigMap for dashboard %s", d.UID)
		assert.Equal(t, "1", cm.Labels["grafana_dashboard"])
		var got dashboards.Dashboard
		require.NoError(t, json.Unmarshal([]byte(cm.Data[d.UID+".json"]), &got), d.UID)
		assert.Equal(t, d.Title, got.Title)
		assert.Len(t, got.Panels, len(d.Panels), d.UID)
	}
}

// Values switch the operator's objects and the NetworkPolicies off for clusters without them.
func TestChartValuesTurnPartsOff(t *testing.T) {
	objs := rendered(t, map[string]any{
		"monitoring":    map[string]any{"serviceMonitor": map[string]any{"enabled": false}, "prometheusRule": map[string]any{"enabled": false}},
		"networkPolicy": map[string]any{"enabled": false},
		"dashboards":    map[string]any{"enabled": false},
	})
	for key := range objs {
		kind, _, _ := strings.Cut(key, "/")
		assert.NotContains(t, []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "ConfigMap"}, kind, "%s rendered though switched off", key)
	}
	assert.Contains(t, objs, "Deployment/api-server")
}

// An autoscaler with nothing to scale on is refused when the chart renders.
func TestChartRefusesAnAutoscalerWithoutMetrics(t *testing.T) {
	_, err := deploy.Render("r", "ns", map[string]any{"workloads": map[string]any{"video-processor": map[string]any{
		"autoscaling": map[string]any{"targetCPUUtilizationPercentage": nil, "queue": nil}}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "workloads.video-processor.autoscaling: give targetCPUUtilizationPercentage, queue or both")
}

// The local cluster's values run the platform from the chart: every workload's image is
// ddp-verify with its platform service as arguments, and the chart creates the platform's
// Secret from fresh random values; asked to create it without them, rendering fails saying so.
func TestLocalClusterValuesRunThePlatform(t *testing.T) {
	objs := rendered(t, deploy.LocalClusterValues())
	for workload, service := range deploy.LocalServices {
		c := objs["Deployment/"+workload].(*appsv1.Deployment).Spec.Template.Spec.Containers[0]
		assert.Equal(t, deploy.LocalImage+":1.0.0", c.Image, workload)
		assert.Equal(t, []string{"platform", "pod", service}, c.Args, workload)
	}
	gpuHPA := objs["HorizontalPodAutoscaler/video-processor"].(*autoscalingv2.HorizontalPodAutoscaler)
	require.Len(t, gpuHPA.Spec.Metrics, 1, "no resource metrics API: the GPU workers scale on their backlog alone")
	assert.Equal(t, autoscalingv2.ExternalMetricSourceType, gpuHPA.Spec.Metrics[0].Type)
	assert.Equal(t, [2]int32{2, 8}, [2]int32{*gpuHPA.Spec.MinReplicas, gpuHPA.Spec.MaxReplicas})
	sts := objs["StatefulSet/data-tier"].(*appsv1.StatefulSet)
	assert.Equal(t, []string{"platform", "pod", "datatier"}, sts.Spec.Template.Spec.Containers[0].Args)
	assert.Empty(t, sts.Spec.VolumeClaimTemplates, "no storage provisioner: an emptyDir")
	assert.Equal(t, map[string]string{"eks.amazonaws.com/nodegroup": "general", corev1.LabelTopologyZone: deploy.LocalDataTierZone},
		sts.Spec.Template.Spec.NodeSelector, "the data tier in its pool and zone, out of the built-in profiles' faults")
	assert.Len(t, rendered(t, nil)["StatefulSet/data-tier"].(*appsv1.StatefulSet).Spec.Template.Spec.NodeSelector, 1, "no zone by default")
	secret := objs["Secret/dailydoco-platform"].(*corev1.Secret)
	other := rendered(t, deploy.LocalClusterValues())["Secret/dailydoco-platform"].(*corev1.Secret)
	for _, key := range []string{"datatier-token", "signing-secret"} {
		assert.Len(t, secret.StringData[key], 48, key)
		assert.NotEqual(t, secret.StringData[key], other.StringData[key], "%s is new for each install", key)
	}

	_, err := deploy.Render(release, namespace, map[string]any{"platform": map[string]any{"createSecret": true}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "platform.createSecret needs platform.dataTierToken and platform.signingSecret")
}

// nodeFailureTolerationSeconds bounds how long every workload's pods stay on a node that
// stopped reporting; unset, the chart leaves it to the API server's default (300 s).
func TestChartNodeFailureToleration(t *testing.T) {
	objs := rendered(t, map[string]any{"nodeFailureTolerationSeconds": 7})
	for _, w := range []string{"web-dashboard", "video-processor"} {
		tol := objs["Deployment/"+w].(*appsv1.Deployment).Spec.Template.Spec.Tolerations
		var nodeDown []string
		for _, x := range tol {
			if x.Effect == corev1.TaintEffectNoExecute && x.TolerationSeconds != nil && *x.TolerationSeconds == 7 {
				nodeDown = append(nodeDown, x.Key)
			}
		}
		assert.Equal(t, []string{"node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"}, nodeDown, w)
	}
	assert.Len(t, objs["Deployment/video-processor"].(*appsv1.Deployment).Spec.Template.Spec.Tolerations, 3, "the GPU toleration stays")
	for _, x := range rendered(t, nil)["Deployment/web-dashboard"].(*appsv1.Deployment).Spec.Template.Spec.Tolerations {
		t.Errorf("toleration %v rendered without nodeFailureTolerationSeconds", x)
	}
}
