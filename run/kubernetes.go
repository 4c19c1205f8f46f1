package run

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/chaos/mesh"
	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/kubeplatform"
	"github.com/dailydoco/ddp-verify/platform/alerts"
	"github.com/dailydoco/ddp-verify/platform/cost"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/prom"
)

// KubernetesTarget runs the reference platform for the run on a local Kubernetes cluster
// (package kubecluster: a control plane built from source, a node agent per topology node, in
// the network namespace the process runs in) from the deployment plan's Helm chart
// (kubeplatform), with an embedded Prometheus that discovers the chart's pods with
// kubernetes_sd, and injects faults through the real Chaos Mesh controller: node and zone
// power losses as AWSChaos ec2-stop against the cluster's EC2 endpoint, pod kills as PodChaos.
// Everything lives under the run directory's cluster/ and tsdb/ and ends with the run.
type KubernetesTarget struct {
	// Topology is the cluster's nodes, pools and zones; nil is the plan's.
	Topology *topology.Topology
	// Assets is the directory of the control plane's binaries (hack/envtest-assets.sh).
	Assets string
	// ChaosMesh is the directory of the Chaos Mesh controller manager and its CRDs
	// (hack/chaos-mesh.sh); a run with faults needs it.
	ChaosMesh string
	// MetricsServer is the directory of metrics-server (hack/metrics-server.sh), which serves
	// the resource metrics API the chart's CPU autoscalers read; empty: none (those
	// autoscalers keep their replicas, and the run says so).
	MetricsServer string
	// Values are the chart's values; nil is deploy.LocalClusterValues.
	Values map[string]any
	// AlertRules is the rule file the embedded Prometheus evaluates; nil is the plan's.
	AlertRules []byte
	// NodeMonitorGracePeriod is the node lifecycle controller's; zero is its default (40s).
	NodeMonitorGracePeriod time.Duration
}

var _ Target = (*KubernetesTarget)(nil)

// kubernetesFaults are the fault kinds the real Chaos Mesh controller injects on the local
// cluster; NetworkChaos needs chaos-daemon in each node's network namespace, which process
// nodes do not have (docs/kubernetes.md).
var kubernetesFaults = []chaos.Kind{chaos.ZoneOutage, chaos.NodeFailure, chaos.PodKill}

// Check refuses what the cluster cannot do, before anything starts: a topology broken on
// purpose (the chart's pods run the healthy platform, so such a run would pass for a real
// one), instance types without a price, faults without Chaos Mesh or of a kind it cannot
// inject here, and alert rules that do not load.
func (t *KubernetesTarget) Check(plan *profile.Plan, faults bool) error {
	topo := t.topology()
	if topo.Defects.Any() {
		return badInput("topology %s: defects (%s) break the local target's processes on purpose; the Kubernetes target's pods run the platform as the chart deploys it, without them", topo.Name, strings.Join(topo.Defects.List(), ", "))
	}
	var types []string
	for _, p := range topo.Pools {
		types = append(types, p.InstanceType)
	}
	if err := cost.TopologyPrices(topo).Check(types...); err != nil {
		return badInput("topology %s: %w", topo.Name, err)
	}
	if !faults {
		return checkAlertRules(plan.Profile, t.rules(), false)
	}
	if t.ChaosMesh == "" {
		return badInput("profile %s has faults, which the Kubernetes target injects with the real Chaos Mesh controller: give --chaos-mesh DIR (hack/chaos-mesh.sh builds it and prints DIR), or --no-chaos to skip them", plan.Name())
	}
	for i, f := range plan.Faults {
		if !slices.Contains(kubernetesFaults, f.Kind) {
			return badInput("%s: chaos[%d].fault: the Kubernetes target injects zone-outage, node-failure and pod-kill, not %s (NetworkChaos needs chaos-daemon in each node's network namespace, which the local cluster's process nodes lack); skip the faults with --no-chaos", plan.Profile.Source(), i, f.Kind)
		}
	}
	return checkAlertRules(plan.Profile, t.rules(), true)
}

func (t *KubernetesTarget) topology() *topology.Topology {
	if t.Topology == nil {
		return topology.Default()
	}
	return t.Topology
}

func (t *KubernetesTarget) rules() []byte {
	if t.AlertRules == nil {
		return alerts.Rules
	}
	return t.AlertRules
}

// kubernetesNamespace is the chart's namespace, where the chaos objects go too.
func kubernetesNamespace() string { return kubeplatform.DefaultNamespace }

// awsSecret is the Secret with the cluster's EC2 endpoint's credentials, as Chaos Mesh reads
// them for AWSChaos.
const awsSecret = "aws-local"

// NodeExporterJob is the scrape job of the nodes' machines (node_exporter's series), found
// by Prometheus's node discovery.
const NodeExporterJob = "node-exporter"

// Open starts the cluster on the pod network with metrics-server, installs the chart, follows
// the cluster's nodes for their state and cost series, starts the embedded Prometheus, and
// with faults the real Chaos Mesh controller and the cluster's EC2 endpoint. Whatever fails
// stops what started.
func (t *KubernetesTarget) Open(ctx context.Context, env Env) (p *Platform, err error) {
	var closers []func() error
	closeAll := func() error {
		var first error
		for i := len(closers) - 1; i >= 0; i-- {
			if err := closers[i](); err != nil && first == nil {
				first = err
			}
		}
		closers = nil
		return first
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	c, err := t.startCluster(ctx, env)
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() error { c.Stop(); return nil })
	resourceMetrics, err := t.startMetricsServer(ctx, c, env)
	if err != nil {
		return nil, err
	}
	client, err := c.Client()
	if err != nil {
		return nil, infra("kubernetes client: %w", err)
	}
	nctx, stopNodes := context.WithCancel(context.WithoutCancel(ctx))
	closers = append(closers, func() error { stopNodes(); return nil })
	if err := exportNodes(nctx, client, t.topology(), env); err != nil {
		return nil, err
	}
	plat, err := kubeplatform.Install(ctx, c, kubeplatform.Options{Values: t.Values, Topology: t.topology(),
		Registerer: env.Generator.Registerer, Progress: prefixed{env.progress(), "ddp-verify: "}})
	if err != nil {
		return nil, infra("install the chart on the local cluster: %w", err)
	}
	closers = append(closers, func() error { plat.Close(); return nil })
	srv, err := t.startPrometheus(ctx, env, c.Kubeconfig)
	if err != nil {
		return nil, err
	}
	// Prometheus first at the end, so that it compacts what it has before the pods go.
	closers = append(closers, func() error {
		if err := srv.Close(); err != nil {
			return fmt.Errorf("close the embedded Prometheus: %w", err)
		}
		return nil
	})
	api, err := prometheusAPI(srv.URL())
	if err != nil {
		return nil, err
	}
	if err := waitScraped(ctx, api, plat.Pods, time.Minute); err != nil {
		return nil, err
	}
	ext, err := kubeplatform.ServeExternalMetrics(ctx, c, kubernetesNamespace(), api, env.Logger)
	if err != nil {
		return nil, infra("serve the autoscalers' external metrics: %w", err)
	}
	if ext != nil {
		closers = append(closers, func() error { ext.Close(); return nil })
		fmt.Fprintf(env.progress(), "ddp-verify: external metrics API (%s) at %s, from the embedded Prometheus\n", ext.Name, ext.Addr)
	}
	p = &Platform{
		Name: "kubernetes (local)", BaseURL: plat.GatewayURL, Prometheus: api, RemoteWriteURL: srv.URL() + "/api/v1/write",
		ExpectJobs: []string{GeneratorJob, PlatformJob, NodeExporterJob}, HarnessRules: true,
		Versions: map[string]string{
			"platform":   fmt.Sprintf("reference (%s) from chart %s, %d pods%s, on a local Kubernetes cluster (%s)", t.topology().Name, plat.Chart, plat.Pods, pendingText(plat.Unschedulable), kubecluster.AssetsKey),
			"prometheus": "embedded " + prom.Version + ", kubernetes_sd of the chart's pods and of the nodes",
			"metrics":    resourceMetrics,
		},
	}
	if env.Faults {
		if err := t.startChaos(ctx, c, client, env, p, &closers); err != nil {
			return nil, err
		}
	}
	p.Close = closeAll
	return p, nil
}

// startMetricsServer runs metrics-server when the target has it, and says what serves the
// resource metrics API.
func (t *KubernetesTarget) startMetricsServer(ctx context.Context, c *kubecluster.Cluster, env Env) (string, error) {
	if t.MetricsServer == "" {
		fmt.Fprintln(env.progress(), "ddp-verify: no metrics-server (--metrics-server): no resource metrics API, so the chart's CPU autoscalers keep their replicas")
		return "none: no resource metrics API (the CPU autoscalers keep their replicas)", nil
	}
	ms, err := c.StartMetricsServer(ctx, t.MetricsServer)
	if err != nil {
		return "", infra("start metrics-server: %w", err)
	}
	fmt.Fprintf(env.progress(), "ddp-verify: metrics-server serves the resource metrics API at %s\n", ms.Addr)
	return fmt.Sprintf("metrics-server %s from %s, the resource metrics API at %s", kubecluster.MetricsServerKey, t.MetricsServer, ms.Addr), nil
}

// pendingText says how many of the chart's pods no node had room for.
func pendingText(unschedulable []string) string {
	if len(unschedulable) == 0 {
		return ""
	}
	return fmt.Sprintf(" and %d Pending for want of a node", len(unschedulable))
}

// startCluster starts the control plane and the topology's nodes on the pod network, with the
// node autoscaler acting as the pools' cloud.
func (t *KubernetesTarget) startCluster(ctx context.Context, env Env) (*kubecluster.Cluster, error) {
	if err := kubecluster.SetUpPodNetwork(); err != nil {
		return nil, infra("the Kubernetes target runs in a network namespace of its own (ddp-verify run --target kubernetes re-executes itself in one): %w", err)
	}
	fmt.Fprintf(env.progress(), "ddp-verify: starting a local Kubernetes cluster (%d nodes of topology %s)\n", len(t.topology().Nodes()), t.topology().Name)
	start := time.Now()
	c, err := kubecluster.StartCluster(ctx, kubecluster.ClusterOptions{
		Options: kubecluster.Options{Assets: t.Assets, Dir: filepath.Join(env.Dir, "cluster"), NodeMonitorGracePeriod: t.NodeMonitorGracePeriod,
			Logger: env.logger()},
		Topology: t.topology(), Autoscale: t.topology().Autoscaler.Enabled, PodNetwork: kubecluster.PodNetwork,
	})
	if err != nil {
		return nil, infra("start the local Kubernetes cluster: %w", err)
	}
	fmt.Fprintf(env.progress(), "ddp-verify: cluster up in %s (api server %s, kubeconfig %s)\n", time.Since(start).Round(100*time.Millisecond), c.Server, c.Kubeconfig)
	return c, nil
}

// exportNodes adds the cluster's node series to the generator's metrics: their Ready
// condition under kube-state-metrics' name, and their prices and the plan's fixed costs under
// OpenCost's, so that they are scraped with the generator's.
func exportNodes(ctx context.Context, client kubernetes.Interface, topo *topology.Topology, env Env) error {
	nodes, err := kubeplatform.FollowNodes(ctx, client)
	if err != nil {
		return infra("follow the cluster's nodes: %w", err)
	}
	if err := env.Generator.Registerer.Register(nodes); err != nil {
		return infra("export the cluster's node states: %w", err)
	}
	if err := env.Generator.Registerer.Register(cost.New(cost.TopologyPrices(topo), cost.PlanFixedCosts, nodes.Cost)); err != nil {
		return infra("export the cluster's costs: %w", err)
	}
	return nil
}

// startPrometheus starts the embedded Prometheus over the run directory's tsdb/: the
// generator's metrics, the chart's pods and the nodes' machines found by kubernetes_sd, the
// alert rules.
func (t *KubernetesTarget) startPrometheus(ctx context.Context, env Env, kubeconfig string) (*prom.Server, error) {
	rules, err := writeAlertRules(env.Dir, t.rules(), env.Plan.Profile.AlertForScale())
	if err != nil {
		return nil, err
	}
	jobs := []prom.Job{
		{Name: GeneratorJob, Targets: []string{env.Generator.Addr}},
		{Name: PlatformJob, Kubernetes: &prom.KubernetesSD{Kubeconfig: kubeconfig, Namespaces: []string{kubernetesNamespace()}}},
		{Name: NodeExporterJob, Kubernetes: &prom.KubernetesSD{Kubeconfig: kubeconfig, Role: "node"}},
	}
	srv, err := prom.New(ctx, prom.Options{Dir: filepath.Join(env.Dir, "tsdb"), Jobs: jobs, RuleFiles: []string{rules}, Logger: env.Logger,
		RemoteWriteReceiver: true})
	if err != nil {
		return nil, infra("start the embedded Prometheus: %w", err)
	}
	return srv, nil
}

// waitScraped waits until Prometheus scrapes every one of the chart's pods healthily: a pod
// that is not scraped would hide its errors from the SLOs, so the run does not start without
// all of them.
func waitScraped(ctx context.Context, api v1.API, pods int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		res, err := api.Targets(ctx)
		healthy, down := 0, []string{}
		if err == nil {
			for _, tg := range res.Active {
				if string(tg.Labels["job"]) != PlatformJob {
					continue
				}
				if tg.Health == v1.HealthGood {
					healthy++
				} else {
					down = append(down, fmt.Sprintf("%s (%s)", tg.ScrapeURL, tg.LastError))
				}
			}
		}
		if healthy == pods {
			return nil
		}
		if time.Now().After(deadline) {
			return infra("preflight: Prometheus scrapes %d of the chart's %d pods healthily after %s (not: %s; error: %v)", healthy, pods, limit, strings.Join(down, ", "), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// startChaos runs the real Chaos Mesh controller and the cluster's EC2 endpoint, writes the
// endpoint's credentials where AWSChaos reads them, and gives the platform the Chaos Mesh
// backend, whose node and zone faults stop the nodes' instances.
func (t *KubernetesTarget) startChaos(ctx context.Context, c *kubecluster.Cluster, kube kubernetes.Interface, env Env, p *Platform, closers *[]func() error) error {
	cm, err := c.StartChaosMesh(ctx, t.ChaosMesh)
	if err != nil {
		return infra("start Chaos Mesh: %w", err)
	}
	cloud, err := c.StartCloud()
	if err != nil {
		return infra("start the cluster's EC2 endpoint: %w", err)
	}
	*closers = append(*closers, cloud.Close)
	ns := kubernetesNamespace()
	if err := cloud.WriteSecret(ctx, kube, ns, awsSecret); err != nil {
		return infra("%w", err)
	}
	cl, err := client.NewWithWatch(c.Config, client.Options{Scheme: mesh.NewScheme()})
	if err != nil {
		return infra("kubernetes client for Chaos Mesh: %w", err)
	}
	if p.Chaos, err = mesh.New(cl, mesh.Options{RunID: env.RunID, Namespaces: []string{ns},
		AWS: &mesh.AWSOptions{SecretName: awsSecret, Endpoint: cloud.URL}, Logger: env.Logger}); err != nil {
		return infra("%w", err)
	}
	p.Guardrails = chaos.Guardrails{Namespaces: []string{ns}}
	p.Versions["chaos"] = fmt.Sprintf("Chaos Mesh controller manager (pid %d) from %s; EC2 endpoint %s", cm.PID(), t.ChaosMesh, cloud.URL)
	fmt.Fprintf(env.progress(), "ddp-verify: Chaos Mesh controller running; EC2 endpoint %s\n", cloud.URL)
	return nil
}

// prefixed writes each Write with a prefix: a library's progress lines as the run's.
type prefixed struct {
	w      io.Writer
	prefix string
}

func (p prefixed) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}
