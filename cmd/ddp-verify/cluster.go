package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/kubeplatform"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/run"
)

// newClusterCmd groups the local Kubernetes cluster's commands.
func newClusterCmd(out, errOut io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Run a local Kubernetes cluster: a control plane built from source and a node per topology node"}
	cmd.AddCommand(newClusterUpCmd(out, errOut))
	return cmd
}

type clusterUpOptions struct {
	topology, dir, assets string
	chaosMesh             string   // the Chaos Mesh assets directory, when it runs
	metricsServer         string   // the metrics-server assets directory, when it runs
	secretNamespaces      []string // where the cloud's credentials go
	installChart          bool     // helm install the plan's chart
	podNetwork            bool     // run in a network namespace of its own, pods on PodNetwork
	grace                 time.Duration
	verbose               bool
}

func newClusterUpCmd(out, errOut io.Writer) *cobra.Command {
	o := &clusterUpOptions{}
	cmd := &cobra.Command{
		Use:   "up [--topology FILE] [--dir DIR] [--chaos-mesh DIR] [--install-chart] [--metrics-server DIR]",
		Short: "Start a local Kubernetes cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, one Node per topology node), print its kubeconfig, run until Ctrl-C",
		Long: `Starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler built from the
Kubernetes source (hack/envtest-assets.sh builds them, cached by version; --assets or
$KUBEBUILDER_ASSETS points at them), each its own process on loopback, and one Node per
topology node with the topology's zone, pool and instance-type labels, its capacity and GPUs
(nvidia.com/gpu, tainted), kept Ready by its heartbeats. Prints the kubeconfig's path and the
API server's URL; stops everything on Ctrl-C or SIGTERM. Every process dies with this one, also
when it is killed. The real scheduler places pods on the nodes, whose agents run them as
processes (image ddp-verify runs this binary; each pod on its own loopback address) with their
probes; a pod Unschedulable for want of a node gets one of its pool after the pool's
provisioning delay, within the pool's max, and a node so added is removed once it has run no
pod for 10 minutes (docs/kubernetes.md). With --chaos-mesh it also runs the real Chaos Mesh
controller and the cluster's EC2 endpoint (docs/chaos.md). On the pod network it runs
metrics-server (from --metrics-server, by default where hack/metrics-server.sh builds it),
serving the resource metrics API from the nodes' kubelet endpoints, for the HPA controller's
CPU targets and kubectl top. With --pod-network it runs in a
network namespace of its own, where pods get addresses from 10.244.0.0/16 (which EndpointSlices
carry) and Services are routed at their cluster IPs; it prints how to enter it. With
--install-chart (which implies --pod-network) it installs the plan's Helm chart with the Helm
SDK, its pods running the reference platform (image ddp-verify, ` + "`platform pod SERVICE`" + `),
waits until they are Ready and serves the platform's gateway, routing from EndpointSlices.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.podNetwork = o.podNetwork || o.installChart
			given := cmd.Flags().Changed("metrics-server")
			if given && !o.podNetwork {
				return exitcode.BadInputf("--metrics-server needs --pod-network or --install-chart: the API server reaches metrics-server only at an address of the pod network")
			}
			ms, err := metricsServerAssets(o.metricsServer, given)
			if err != nil {
				return err
			}
			if o.metricsServer = ms; !o.podNetwork {
				o.metricsServer = ""
			}
			if o.podNetwork && !kubecluster.InNetworkNamespace() {
				return rerunInNetworkNamespace(cmd.Context(), out, errOut)
			}
			return o.run(cmd.Context(), out, errOut)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.topology, "topology", "", "reference platform topology whose nodes register (default: the deployment plan's)")
	f.StringVar(&o.dir, "dir", "", "directory for etcd's data, the certificates, the kubeconfig and the logs (default: a temporary one, removed at the end)")
	f.StringVar(&o.assets, "assets", kubecluster.DefaultAssets(), "directory of etcd, kube-apiserver, kube-controller-manager and kube-scheduler (hack/envtest-assets.sh prints it)")
	f.DurationVar(&o.grace, "node-monitor-grace-period", kubecluster.DefaultNodeMonitorGracePeriod, "how long a node may miss heartbeats before the node lifecycle controller marks it NotReady")
	f.StringVar(&o.chaosMesh, "chaos-mesh", "", "also run the real Chaos Mesh controller manager from this directory (hack/chaos-mesh.sh prints it) and the cluster's EC2 endpoint, whose StopInstances and StartInstances power nodes off and on")
	f.StringSliceVar(&o.secretNamespaces, "aws-secret-namespace", run.DefaultNamespaces, "with --chaos-mesh: namespaces (created if missing) that get the Secret "+clusterAWSSecret+" with the EC2 endpoint's credentials, for the chaos objects there")
	f.BoolVar(&o.installChart, "install-chart", false, "helm install the plan's chart (deploy/helm/dailydoco) as release "+kubeplatform.DefaultRelease+" in namespace "+kubeplatform.DefaultNamespace+", with the values for this cluster (its pods run the platform; no Prometheus operator objects, no volumes), and serve its gateway; implies --pod-network")
	f.BoolVar(&o.podNetwork, "pod-network", false, "run in a network namespace of its own (root or user namespaces), pods on "+kubecluster.PodNetwork.String()+" and Services routed at their cluster IPs")
	f.StringVar(&o.metricsServer, "metrics-server", kubecluster.DefaultMetricsServerAssets(), "on the pod network: directory of metrics-server (hack/metrics-server.sh prints it), run to serve the resource metrics API; by default used when it is built there")
	f.BoolVar(&o.verbose, "verbose", false, "log each component's start")
	return cmd
}

// run is `cluster up` in the network namespace it needs: start the cluster, then Chaos Mesh
// and the chart as asked, and watch the cluster until Ctrl-C.
func (o *clusterUpOptions) run(ctx context.Context, out, errOut io.Writer) error {
	topo, err := o.loadTopology()
	if err != nil {
		return err
	}
	dir, cleanup, err := o.clusterDir()
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	fmt.Fprintf(errOut, "ddp-verify: starting the control plane and %d nodes in %s\n", len(topo.Nodes()), dir)
	c, err := o.startCluster(ctx, topo, dir, errOut, out)
	if err != nil {
		return exitcode.New(exitcode.Infra, err)
	}
	defer c.Stop()
	if o.metricsServer != "" {
		ms, err := c.StartMetricsServer(ctx, o.metricsServer)
		if err != nil {
			return exitcode.New(exitcode.Infra, err)
		}
		fmt.Fprintf(out, "metrics-server: the resource metrics API (metrics.k8s.io) at %s\n", ms.Addr)
	} else if o.podNetwork {
		fmt.Fprintln(errOut, "ddp-verify: no metrics-server (hack/metrics-server.sh builds it): no resource metrics API, so CPU autoscalers keep their replicas")
	}
	if o.chaosMesh != "" {
		cloud, err := startChaosMesh(ctx, c, o, out)
		if err != nil {
			return exitcode.New(exitcode.Infra, err)
		}
		defer cloud.Close()
	}
	if o.installChart {
		stopGateway, err := installPlatform(ctx, c, out)
		if err != nil {
			return exitcode.New(exitcode.Infra, err)
		}
		defer stopGateway()
	}
	fmt.Fprintf(out, "started in %s; Ctrl-C stops it\n", time.Since(start).Round(100*time.Millisecond))
	return watchCluster(ctx, c, errOut)
}

// loadTopology is the --topology file's, else the plan's.
func (o *clusterUpOptions) loadTopology() (*topology.Topology, error) {
	if o.topology == "" {
		return topology.Default(), nil
	}
	topo, err := topology.Load(o.topology)
	if err != nil {
		return nil, exitcode.New(exitcode.BadInput, err)
	}
	return topo, nil
}

// clusterDir is --dir, else a temporary directory that cleanup removes.
func (o *clusterUpOptions) clusterDir() (dir string, cleanup func(), err error) {
	if o.dir != "" {
		return o.dir, func() {}, nil
	}
	dir, err = os.MkdirTemp("", "ddp-verify-cluster-")
	if err != nil {
		return "", nil, exitcode.New(exitcode.Infra, err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// startCluster starts the control plane and the nodes (on the pod network when asked) and
// prints where they are.
func (o *clusterUpOptions) startCluster(ctx context.Context, topo *topology.Topology, dir string, errOut, out io.Writer) (*kubecluster.Cluster, error) {
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	co := kubecluster.ClusterOptions{
		Options: kubecluster.Options{Assets: o.assets, Dir: dir, NodeMonitorGracePeriod: o.grace,
			Logger: slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: level}))},
		Topology: topo, Autoscale: true,
	}
	if o.podNetwork {
		if err := kubecluster.SetUpPodNetwork(); err != nil {
			return nil, err
		}
		co.PodNetwork = kubecluster.PodNetwork
	}
	c, err := kubecluster.StartCluster(ctx, co)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "api server: %s\nkubeconfig: %s\nnodes: %d (%s)\n", c.Server, c.Kubeconfig, len(c.Nodes), topo.Name)
	if o.podNetwork {
		fmt.Fprintf(out, "network namespace: pods on %s, services on %s; enter it with: nsenter --net=/proc/%d/ns/net\n", kubecluster.PodNetwork, kubecluster.ServiceNetwork, os.Getpid())
	}
	return c, nil
}

// installPlatform installs the plan's chart with the local cluster's values and serves the
// platform's gateway once its pods are Ready; it returns what stops the gateway.
func installPlatform(ctx context.Context, c *kubecluster.Cluster, out io.Writer) (func(), error) {
	p, err := kubeplatform.Install(ctx, c, kubeplatform.Options{Progress: out})
	if err != nil {
		return nil, err
	}
	return p.Close, nil
}

// watchCluster checks every second that the cluster's processes live, until ctx is done.
func watchCluster(ctx context.Context, c *kubecluster.Cluster, errOut io.Writer) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(errOut, "ddp-verify: stopping the cluster")
			return nil
		case <-tick.C:
			if err := c.Exited(); err != nil {
				return exitcode.New(exitcode.Infra, err)
			}
		}
	}
}

// clusterAWSSecret is the Secret `cluster up --chaos-mesh` writes the cloud's credentials to.
const clusterAWSSecret = "aws-local"

// startChaosMesh runs Chaos Mesh and the cloud on c, writes the cloud's credentials into the
// Secret of each namespace, and prints how to point `run` at them.
func startChaosMesh(ctx context.Context, c *kubecluster.Cluster, o *clusterUpOptions, out io.Writer) (*kubecluster.Cloud, error) {
	cm, err := c.StartChaosMesh(ctx, o.chaosMesh)
	if err != nil {
		return nil, err
	}
	cloud, err := c.StartCloud()
	if err != nil {
		return nil, err
	}
	client, err := c.Client()
	if err != nil {
		cloud.Close()
		return nil, err
	}
	for _, ns := range o.secretNamespaces {
		if err := cloud.WriteSecret(ctx, client, ns, clusterAWSSecret); err != nil {
			cloud.Close()
			return nil, err
		}
	}
	fmt.Fprintf(out, "chaos mesh: chaos-controller-manager pid %d, log %s\nec2 endpoint: %s (credentials in Secret %s of %s)\n",
		cm.PID(), cm.Log, cloud.URL, clusterAWSSecret, strings.Join(o.secretNamespaces, ", "))
	fmt.Fprintf(out, "run its faults with: --chaos-backend mesh --kubeconfig %s --namespace %s --aws-secret %s --aws-endpoint %s\n",
		c.Kubeconfig, o.secretNamespaces[0], clusterAWSSecret, cloud.URL)
	return cloud, nil
}

// rerunInNetworkNamespace runs this command again in a network namespace of its own and
// ends with its exit code.
func rerunInNetworkNamespace(ctx context.Context, out, errOut io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return exitcode.New(exitcode.Infra, err)
	}
	// The signals that cancel ctx (main's Ctrl-C and SIGTERM) reach the child once, passed on
	// by RunInNetworkNamespace; ctx's end must not send it another, which `run` would take for
	// a second Ctrl-C (exit without the ABORTED report).
	code, err := kubecluster.RunInNetworkNamespace(context.WithoutCancel(ctx), append([]string{self}, os.Args[1:]...), os.Environ(), out, errOut)
	if err != nil {
		return exitcode.New(exitcode.Infra, err)
	}
	if code != 0 {
		return exitcode.New(code, nil)
	}
	return nil
}
