package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/internal/atomicfile"
	"github.com/dailydoco/ddp-verify/internal/outdir"
	"github.com/dailydoco/ddp-verify/platform/dashboards"
)

func newDashboardsCmd(out io.Writer) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "dashboards --out DIR",
		Short: "Write the deployment plan's five Grafana dashboards and a verification run's (JSON) into DIR",
		Long: `Writes the plan's Grafana dashboards (system overview, application performance, video
processing pipeline, user activity, cost tracking) and one to watch a verification run on
(the load generator's users, requests, latency and errors, fault recovery, alerts firing) as
dashboard JSON, one file per dashboard named by its uid, for Grafana's file provisioning or its
import. Every panel queries Prometheus with the names the reference platform exports
(node_exporter's, kube-state-metrics' and OpenCost's among them) or ddp-verify's generator
exports, so they work against a real cluster too.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if dir == "" {
				return exitcode.New(exitcode.BadInput, fmt.Errorf("--out is required"))
			}
			if err := outdir.Check(dir); err != nil {
				return exitcode.New(exitcode.BadInput, fmt.Errorf("--out: %w", err))
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return exitcode.Infraf("--out: %w", err)
			}
			for _, d := range append(dashboards.All(), dashboards.Verification()) {
				path := filepath.Join(dir, d.UID+".json")
				if err := atomicfile.WriteJSON(path, d); err != nil {
					return exitcode.Infraf("%w", err)
				}
				fmt.Fprintf(out, "%s: %s, %d panels\n", path, d.Title, len(d.Panels))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "out", "", "directory to write the dashboards into (new or empty)")
	return cmd
}
