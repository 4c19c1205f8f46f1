package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/chaos/mesh"
	"github.com/dailydoco/ddp-verify/exitcode"
)

// newChaosCmd groups the chaos maintenance commands.
func newChaosCmd(out, errOut io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "chaos", Short: "Chaos maintenance: remove what a run left behind"}
	cmd.AddCommand(newChaosCleanupCmd(out, errOut))
	return cmd
}

type chaosCleanupOptions struct {
	runID      string
	kubeconfig string
	context    string
	wait       time.Duration
}

func newChaosCleanupCmd(out, errOut io.Writer) *cobra.Command {
	o := &chaosCleanupOptions{}
	cmd := &cobra.Command{
		Use:   "cleanup [--run-id ID]",
		Short: "Delete every Chaos Mesh object ddp-verify created and uncordon the nodes it cordoned",
		Long: "Deletes the PodChaos, NetworkChaos and AWSChaos objects labelled " + mesh.LabelManagedBy + "=" + mesh.ManagedBy +
			" (only those of one run with --run-id) in every namespace, uncordons the nodes labelled " + mesh.LabelCordonedBy +
			", and reports what it did and anything left.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := kubeClient(o.kubeconfig, o.context)
			if err != nil {
				return err
			}
			rep, err := mesh.Cleanup(cmd.Context(), c, o.runID, time.Second, o.wait)
			for _, d := range rep.Deleted {
				fmt.Fprintln(out, "deleted", d)
			}
			for _, r := range rep.Restored {
				fmt.Fprintln(out, r)
			}
			for _, l := range rep.Left {
				fmt.Fprintln(errOut, "left:", l)
			}
			if len(rep.Deleted)+len(rep.Restored) == 0 && err == nil {
				fmt.Fprintln(out, "nothing to clean up")
			}
			if err != nil {
				return exitcode.New(exitcode.Infra, fmt.Errorf("chaos cleanup: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.runID, "run-id", "", "only this run's objects (default: every run's)")
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	cmd.Flags().StringVar(&o.context, "context", "", "kubeconfig context (default: the current one)")
	cmd.Flags().DurationVar(&o.wait, "wait", time.Minute, "how long to wait for deleted objects to go")
	return cmd
}
