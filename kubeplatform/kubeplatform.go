// Package kubeplatform runs the reference platform on a local Kubernetes cluster (package
// kubecluster) from the deployment plan's Helm chart, with what a cluster gives a platform
// around its pods: an ingress that routes to the ready endpoints of the chart's Services, the
// node series kube-state-metrics exports and the per-node prices OpenCost exports, both from
// the cluster's Node objects.
package kubeplatform

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dailydoco/ddp-verify/deploy"
	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/platform/gateway"
	"github.com/dailydoco/ddp-verify/platform/httpserver"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// The release [Install] makes, in the deployment plan's namespace of the platform.
const (
	DefaultRelease   = "dailydoco"
	DefaultNamespace = "dailydoco-prod"
)

// DefaultReadyTimeout is [Options.ReadyTimeout]'s default.
const DefaultReadyTimeout = 3 * time.Minute

// Options configure [Install].
type Options struct {
	// Values are the chart's values; nil is [deploy.LocalClusterValues].
	Values map[string]any
	// ReadyTimeout bounds the wait for every pod of the namespace to be Ready; default
	// [DefaultReadyTimeout].
	ReadyTimeout time.Duration
	// Topology gives the gateway its settings (rate limits, trusted proxies, retries,
	// timeouts); nil is the plan's.
	Topology *topology.Topology
	// Registerer takes the gateway's metrics; nil keeps them in a registry of its own.
	Registerer prometheus.Registerer
	// Progress gets a line per step; nil discards them.
	Progress io.Writer
}

// Platform is the chart's release on the cluster, Ready and routed to.
type Platform struct {
	Release, Namespace string
	// Chart is the chart's name and version ("dailydoco 0.1.0").
	Chart string
	// Pods is how many pods of the release were Ready when the rest, if any, could not be
	// placed.
	Pods int
	// Unschedulable are the pods the scheduler found no node for (a pool too small and not
	// autoscaled): a state of the platform, which the run then judges, not a failed install.
	Unschedulable []string
	// GatewayURL is the platform's entry point: the gateway on loopback.
	GatewayURL string

	stop func()
}

// Close stops the gateway; the release stays on the cluster, which goes with it.
func (p *Platform) Close() { p.stop() }

// Install installs the chart with the Helm SDK as release [DefaultRelease] in
// [DefaultNamespace], waits until every pod of the namespace is Ready or unschedulable, and
// serves the gateway on loopback once it routes to every Ready pod of the routed Services.
func Install(ctx context.Context, c *kubecluster.Cluster, o Options) (*Platform, error) {
	o = o.withDefaults()
	rel, err := deploy.Install(ctx, c.Kubeconfig, DefaultRelease, DefaultNamespace, o.Values)
	if err != nil {
		return nil, err
	}
	p := &Platform{Release: rel.Name, Namespace: rel.Namespace, Chart: rel.Chart.Metadata.Name + " " + rel.Chart.Metadata.Version}
	fmt.Fprintf(o.Progress, "chart: release %s of %s %s in namespace %s\n", p.Release, p.Chart, rel.Info.Status, p.Namespace)
	client, err := c.Client()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if p.Pods, p.Unschedulable, err = waitPodsReady(ctx, client, p.Namespace, o.ReadyTimeout); err != nil {
		return nil, fmt.Errorf("%w (their output: %s)", err, c.PodsDir())
	}
	fmt.Fprintf(o.Progress, "platform: %d pods Ready in %s\n", p.Pods, time.Since(start).Round(100*time.Millisecond))
	if len(p.Unschedulable) > 0 {
		fmt.Fprintf(o.Progress, "platform: Pending, no node has room: %s\n", strings.Join(p.Unschedulable, "; "))
	}
	if p.GatewayURL, p.stop, err = serveGateway(ctx, client, p.Namespace, o); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "gateway: %s (routing to the ready endpoints of %s)\n", p.GatewayURL, strings.Join(slices.Sorted(maps.Values(deploy.RoutedServices)), ", "))
	return p, nil
}

func (o Options) withDefaults() Options {
	if o.Values == nil {
		o.Values = deploy.LocalClusterValues()
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.Topology == nil {
		o.Topology = topology.Default()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// serveGateway serves the platform's gateway on loopback, routing from the namespace's
// EndpointSlices as an ingress controller does, once it routes to every pod of the routed
// Services; stop ends it.
func serveGateway(ctx context.Context, client kubernetes.Interface, namespace string, o Options) (url string, stop func(), err error) {
	topo := o.Topology
	g, err := gateway.New(gateway.Config{RateLimits: topo.Gateway.RateLimits, TrustedProxies: topo.Gateway.TrustedProxies,
		Retries: topo.Gateway.Retries, UpstreamTimeout: topo.Gateway.UpstreamTimeout.D(), HealthInterval: time.Hour}, nil, o.Registerer)
	if err != nil {
		return "", nil, err
	}
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	routing := gateway.KubernetesRouting{Namespace: namespace, Services: deploy.RoutedServices}
	if err := gateway.FollowEndpointSlices(gctx, client, routing, g); err != nil {
		cancel()
		return "", nil, err
	}
	if err := waitRouted(ctx, client, namespace, g); err != nil {
		cancel()
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		return "", nil, err
	}
	srv := httpserver.New(g, topo.HTTP.Timeouts())
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), sync.OnceFunc(func() { srv.Close(); cancel() }), nil
}

// waitPodsReady waits until every pod of namespace is Ready or unschedulable, and says how
// many are Ready and which the scheduler cannot place (with its reason).
func waitPodsReady(ctx context.Context, client kubernetes.Interface, namespace string, limit time.Duration) (int, []string, error) {
	deadline := time.Now().Add(limit)
	for {
		pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, nil, err
		}
		var waiting, unplaced []string
		for _, p := range pods.Items {
			switch {
			case kubecluster.PodReady(&p):
			case kubecluster.PodUnschedulable(&p):
				unplaced = append(unplaced, p.Name+" ("+unschedulableMessage(&p)+")")
			default:
				waiting = append(waiting, p.Name)
			}
		}
		if ready := len(pods.Items) - len(unplaced); ready > 0 && len(waiting) == 0 {
			return ready, unplaced, nil
		}
		if time.Now().After(deadline) {
			return 0, nil, fmt.Errorf("the platform's pods in %s not Ready after %s: %s", namespace, limit, strings.Join(append(waiting, unplaced...), ", "))
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// unschedulableMessage is the scheduler's reason for not placing p.
func unschedulableMessage(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Message
		}
	}
	return "unschedulable"
}

// waitRouted waits until the gateway routes to every Ready pod of the routed workloads: they
// reach the EndpointSlices a moment after they are Ready.
func waitRouted(ctx context.Context, client kubernetes.Interface, namespace string, g *gateway.Gateway) error {
	sel := "app.kubernetes.io/name in (" + strings.Join(slices.Sorted(maps.Values(deploy.RoutedServices)), ",") + ")"
	pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return err
	}
	ready := 0
	for _, p := range pods.Items {
		if kubecluster.PodReady(&p) {
			ready++
		}
	}
	for deadline := time.Now().Add(30 * time.Second); len(g.Backends()) < ready; {
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway routes to %d of the %d Ready pods of %s after 30s", len(g.Backends()), ready, sel)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
