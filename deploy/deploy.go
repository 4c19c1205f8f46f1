// Package deploy is the DailyDoco Pro Helm chart that mirrors the deployment plan
// (deploy/helm/dailydoco: the plan's workloads with its replicas, rolling updates, requests and
// limits, probes, GPU and memory pools, zone spread, HPAs, PodDisruptionBudgets,
// NetworkPolicies, Services, the data tier as a StatefulSet, and for clusters that run the
// Prometheus operator a ServiceMonitor, the plan's alert rules as a PrometheusRule and the
// plan's dashboards as ConfigMaps for Grafana's sidecar), embedded in the binary, and its
// rendering with the Helm SDK ([Render], as `helm template` does).
package deploy

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	helmrelease "helm.sh/helm/v3/pkg/release"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// ChartPath is the chart's directory, relative to this package's directory.
const ChartPath = "helm/dailydoco"

//go:embed all:helm/dailydoco
var chartFS embed.FS

// Chart loads the embedded chart.
func Chart() (*chart.Chart, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(chartFS, ChartPath, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := chartFS.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: strings.TrimPrefix(p, ChartPath+"/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the chart: %w", err)
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load the chart: %w", err)
	}
	return c, nil
}

// Manifest is one rendered document: the template that made it and its YAML.
type Manifest struct {
	Template string
	YAML     string
}

// KubeVersion is the Kubernetes version the chart is rendered for: the local cluster's.
const KubeVersion = "v1.37.2"

// Render renders the chart for a release in namespace, with values over the chart's defaults,
// as `helm template` does, and returns its documents (empty ones left out) by template name.
func Render(release, namespace string, values map[string]any) ([]Manifest, error) {
	c, err := Chart()
	if err != nil {
		return nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(KubeVersion)
	if err != nil {
		return nil, err
	}
	caps.KubeVersion = *kv
	vals, err := chartutil.ToRenderValues(c, values, chartutil.ReleaseOptions{Name: release, Namespace: namespace, IsInstall: true, Revision: 1}, caps)
	if err != nil {
		return nil, fmt.Errorf("chart values: %w", err)
	}
	out, err := engine.Render(c, vals)
	if err != nil {
		return nil, fmt.Errorf("render the chart: %w", err)
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	var docs []Manifest
	for _, n := range names {
		if path.Ext(n) != ".yaml" || strings.HasPrefix(path.Base(n), "_") {
			continue
		}
		for _, d := range strings.Split(out[n], "\n---") {
			if blank(d) {
				continue
			}
			docs = append(docs, Manifest{Template: n, YAML: strings.TrimPrefix(d, "---\n")})
		}
	}
	return docs, nil
}

// blank reports whether a document holds only whitespace and comments.
func blank(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		l := strings.TrimSpace(line)
		if l != "" && l != "---" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// LocalClusterValues are the values for ddp-verify's local cluster (kubecluster), which runs
// no Prometheus operator (so no ServiceMonitor or PrometheusRule) and has no storage
// provisioner (so the data tier keeps its data in an emptyDir). Its pods run the reference
// platform: each workload's image is ddp-verify, whose `platform pod SERVICE` is the
// workload's service (package platform/pod); the data tier keeps its database in the pod's
// own directory, in zone [LocalDataTierZone]; the chart creates the platform's Secret with a
// new random token and signing secret. The local cluster serves no resource metrics API, so
// the GPU workers' autoscaler scales on their backlog alone: with a CPU target it could not
// read, the HPA controller would never scale them down again.
func LocalClusterValues() map[string]any {
	workloads := map[string]any{}
	for workload, service := range LocalServices {
		workloads[workload] = map[string]any{"image": LocalImage, "args": []any{"platform", "pod", service}}
	}
	workloads["video-processor"].(map[string]any)["autoscaling"] = map[string]any{"targetCPUUtilizationPercentage": nil}
	return map[string]any{
		"image":      map[string]any{"registry": ""},
		"workloads":  workloads,
		"monitoring": map[string]any{"serviceMonitor": map[string]any{"enabled": false}, "prometheusRule": map[string]any{"enabled": false}},
		"dataTier": map[string]any{"persistence": false, "image": LocalImage, "dataDir": ".", "zone": LocalDataTierZone,
			"args": []any{"platform", "pod", "datatier"}},
		"platform": map[string]any{"createSecret": true, "dataTierToken": randomHex(), "signingSecret": randomHex()},
	}
}

// LocalDataTierZone is where the local values keep the data tier. Its one pod stands in for
// the plan's multi-AZ managed database, which a node or zone failure does not take down; the
// built-in profiles fail the first node of a pool (by name) and zone us-east-1a, so in the last
// zone the data tier is out of their reach wherever the scheduler would have put it, and a
// verdict never depends on that placement. A fault aimed at its node or zone takes the whole
// platform down, as it would an in-cluster database of one replica.
const LocalDataTierZone = "us-east-1c"

// LocalImage is the image of every pod on the local cluster: the ddp-verify binary.
const LocalImage = "ddp-verify"

// RoutedServices maps the platform's routed services (platform/routes: api, dashboard) to the
// chart's Services, for a gateway routing from their EndpointSlices.
var RoutedServices = map[string]string{"api": "api-server", "dashboard": "web-dashboard"}

// LocalServices maps the chart's Deployments to the platform services their pods run.
var LocalServices = map[string]string{
	"web-dashboard": "dashboard", "api-server": "api", "video-processor": "video-worker", "authenticity-engine": "ai-worker",
}

func randomHex() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return hex.EncodeToString(b)
}

// Install installs the chart into the cluster of kubeconfig as release in namespace (created
// when missing) with the Helm SDK, as `helm install` does: the release is recorded in a Secret
// and every object created through Helm's kube client. It does not wait for the workloads.
func Install(ctx context.Context, kubeconfig, release, namespace string, values map[string]any) (*helmrelease.Release, error) {
	c, err := Chart()
	if err != nil {
		return nil, err
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &kubeconfig, &namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, namespace, "secret", func(string, ...any) {}); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = release, namespace, true
	rel, err := install.RunWithContext(ctx, c, values)
	if err != nil {
		return nil, fmt.Errorf("helm install %s: %w", release, err)
	}
	return rel, nil
}
