package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// newClusterCmd groups the local Kubernetes cluster's commands.
func newClusterCmd(out, errOut io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Run a local Kubernetes cluster: a control plane built from source and a node per topology node"}
	cmd.AddCommand(newClusterUpCmd(out, errOut))
	return cmd
}

type clusterUpOptions struct {
	topology, dir, assets string
	grace                 time.Duration
	verbose               bool
}

func newClusterUpCmd(out, errOut io.Writer) *cobra.Command {
	o := &clusterUpOptions{}
	cmd := &cobra.Command{
		Use:   "up [--topology FILE] [--dir DIR]",
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
provisioning delay, within the pool's max (docs/kubernetes.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			topo := topology.Default()
			if o.topology != "" {
				var err error
				if topo, err = topology.Load(o.topology); err != nil {
					return exitcode.New(exitcode.BadInput, err)
				}
			}
			dir := o.dir
			if dir == "" {
				var err error
				if dir, err = os.MkdirTemp("", "ddp-verify-cluster-"); err != nil {
					return exitcode.New(exitcode.Infra, err)
				}
				defer os.RemoveAll(dir)
			}
			level := slog.LevelWarn
			if o.verbose {
				level = slog.LevelInfo
			}
			log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			start := time.Now()
			fmt.Fprintf(errOut, "ddp-verify: starting the control plane and %d nodes in %s\n", len(topo.Nodes()), dir)
			c, err := kubecluster.StartCluster(ctx, kubecluster.ClusterOptions{
				Options:  kubecluster.Options{Assets: o.assets, Dir: dir, NodeMonitorGracePeriod: o.grace, Logger: log},
				Topology: topo, Autoscale: true,
			})
			if err != nil {
				return exitcode.New(exitcode.Infra, err)
			}
			defer c.Stop()
			fmt.Fprintf(out, "api server: %s\nkubeconfig: %s\nnodes: %d (%s)\nstarted in %s; Ctrl-C stops it\n",
				c.Server, c.Kubeconfig, len(c.Nodes), topo.Name, time.Since(start).Round(100*time.Millisecond))
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
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.topology, "topology", "", "reference platform topology whose nodes register (default: the deployment plan's)")
	f.StringVar(&o.dir, "dir", "", "directory for etcd's data, the certificates, the kubeconfig and the logs (default: a temporary one, removed at the end)")
	f.StringVar(&o.assets, "assets", kubecluster.DefaultAssets(), "directory of etcd, kube-apiserver, kube-controller-manager and kube-scheduler (hack/envtest-assets.sh prints it)")
	f.DurationVar(&o.grace, "node-monitor-grace-period", kubecluster.DefaultNodeMonitorGracePeriod, "how long a node may miss heartbeats before the node lifecycle controller marks it NotReady")
	f.BoolVar(&o.verbose, "verbose", false, "log each component's start")
	return cmd
}
