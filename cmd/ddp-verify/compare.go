package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/reports"
)

func newCompareCmd(out, _ io.Writer) *cobra.Command {
	tol := reports.DefaultTolerances
	cmd := &cobra.Command{
		Use:   "compare A/run.json B/run.json",
		Short: "Show what changed from run A to run B; exit 1 when B regressed beyond the tolerances",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := tol.Validate(); err != nil {
				return exitcode.New(exitcode.BadInput, err)
			}
			a, err := reports.ReadRun(args[0])
			if err != nil {
				return exitcode.New(exitcode.BadInput, err)
			}
			b, err := reports.ReadRun(args[1])
			if err != nil {
				return exitcode.New(exitcode.BadInput, err)
			}
			d := reports.Compare(a, b, tol)
			if err := d.WriteText(out); err != nil {
				return err
			}
			if d.Regressed() {
				return exitcode.New(exitcode.NoGo, errors.New("the second run regressed beyond the tolerances"))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&tol.ValuePct, "tolerance", tol.ValuePct, "relative worsening allowed in an objective's value, per cent")
	f.Float64Var(&tol.LatencyPct, "latency-tolerance", tol.LatencyPct, "relative increase allowed in a step's p95/p99, per cent")
	f.Float64Var(&tol.LatencyFloorMS, "latency-floor-ms", tol.LatencyFloorMS, "ignore latency changes smaller than this, milliseconds")
	f.Float64Var(&tol.ErrorRatePoints, "error-rate-tolerance", tol.ErrorRatePoints, "increase allowed in a step's error rate, percentage points")
	return cmd
}
