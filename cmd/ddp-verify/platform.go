package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/pod"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// newPlatformCmd groups the reference platform's commands: `up`, and the hidden process
// commands the supervisor runs its children with.
func newPlatformCmd(out, errOut io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "platform", Short: "Run the local reference DailyDoco Pro platform"}
	cmd.AddCommand(newPlatformUpCmd(out, errOut), newPlatformPodCmd(errOut))
	for _, role := range cluster.Roles {
		cmd.AddCommand(newPlatformProcessCmd(role, out, errOut))
	}
	return cmd
}

type platformUpOptions struct {
	topology string
	dir      string
	verbose  bool
}

func newPlatformUpCmd(out, errOut io.Writer) *cobra.Command {
	o := &platformUpOptions{}
	cmd := &cobra.Command{
		Use:   "up [--topology FILE]",
		Short: "Start the reference platform (one process per node), print its endpoints, run until Ctrl-C",
		Long: "Starts the data tier, one process per node of the topology (each on its own 127.x.y.z address), " +
			"the gateway and the cost exporter; prints the gateway URL, every metrics target and the " +
			"Prometheus file_sd JSON path; stops everything on Ctrl-C. Without --topology it runs the " +
			"deployment plan's cluster (docs/platform.md).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			topo := topology.Default()
			if o.topology != "" {
				var err error
				if topo, err = topology.Load(o.topology); err != nil {
					return exitcode.New(exitcode.BadInput, err)
				}
			}
			exec, err := cluster.SelfExec()
			if err != nil {
				return exitcode.New(exitcode.Infra, err)
			}
			level := slog.LevelWarn
			if o.verbose {
				level = slog.LevelInfo
			}
			log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: level}))
			c, err := cluster.Start(cmd.Context(), cluster.Options{Topology: topo, Exec: exec, Dir: o.dir, Logger: log})
			if err != nil {
				if cmd.Context().Err() != nil {
					return exitcode.New(exitcode.Interrupted, nil)
				}
				return exitcode.New(exitcode.Infra, fmt.Errorf("start platform: %w", err))
			}
			printPlatform(out, c)
			fmt.Fprintln(errOut, "platform up; Ctrl-C stops it")
			<-cmd.Context().Done()
			fmt.Fprintln(errOut, "stopping the platform")
			if err := c.Stop(); err != nil {
				return exitcode.New(exitcode.Infra, fmt.Errorf("stop platform: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.topology, "topology", "", "topology YAML file (default: the deployment plan's, embedded)")
	cmd.Flags().StringVar(&o.dir, "dir", "", "directory for the database, logs and file_sd JSON (default: a temporary one, removed on exit)")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "log the supervisor's progress")
	return cmd
}

func printPlatform(out io.Writer, c *cluster.Cluster) {
	fmt.Fprintf(out, "gateway:    %s\n", c.GatewayURL())
	fmt.Fprintf(out, "data tier:  %s (its API serves the platform's own processes only; /metrics is open)\n", c.DataTierURL())
	fmt.Fprintf(out, "control:    %s (Authorization: Bearer %s)\n", c.ControlURL(), c.ControlToken())
	fmt.Fprintf(out, "file_sd:    %s\n", c.FileSDPath())
	fmt.Fprintf(out, "logs:       %s/logs\n", c.Dir())
	fmt.Fprintln(out, "metrics targets:")
	for _, t := range c.Targets() {
		fmt.Fprintf(out, "  %-14s %-10s http://%s/metrics\n", t.Name, t.Role, t.Addr)
	}
	fmt.Fprintln(out, "nodes:")
	for _, n := range c.Nodes() {
		var reps []string
		for _, r := range n.Replicas {
			reps = append(reps, r.Name)
		}
		fmt.Fprintf(out, "  %-14s %-11s %-8s %-12s %-20s %s\n", n.Name, n.Zone, n.Pool, n.InstanceType, n.Addr, strings.Join(reps, ","))
	}
}

// newPlatformProcessCmd is one platform process (data tier, gateway or node). The supervisor
// starts it and speaks to it over stdin and stdout; it is not meant to be run by hand.
func newPlatformProcessCmd(role string, out, errOut io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:    role,
		Short:  "Run one " + role + " process of the reference platform (started by `platform up`)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(errOut, nil))
			if err := cluster.RunProcess(cmd.Context(), role, cmd.InOrStdin(), out, log); err != nil {
				return exitcode.New(exitcode.Infra, err)
			}
			return nil
		},
	}
}

// newPlatformPodCmd runs one service of the platform as a Kubernetes pod, configured by its
// environment (package platform/pod): the program of the Helm chart's pods on the local
// cluster.
func newPlatformPodCmd(errOut io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "pod SERVICE",
		Short: "Run one service of the platform as a Kubernetes pod (" + strings.Join(pod.Services, ", ") + "), configured by its environment",
		Long: "Runs one service of the reference platform on the pod's IP ($POD_IP), as the Helm chart's pods do on " +
			"the local cluster: the data tier at $DDP_DATATIER_URL with $DDP_DATATIER_TOKEN, the API's " +
			"$DDP_SIGNING_SECRET, the port $DDP_HTTP_PORT (docs/kubernetes.md). SIGTERM stops it.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(pod.Services, args[0]) {
				return exitcode.New(exitcode.BadInput, fmt.Errorf("unknown service %q: want one of %s", args[0], strings.Join(pod.Services, ", ")))
			}
			log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
			if err := pod.Run(cmd.Context(), args[0], os.Getenv, log, func() {}); err != nil {
				return exitcode.New(exitcode.Infra, fmt.Errorf("pod %s: %w", args[0], err))
			}
			return nil
		},
	}
}
