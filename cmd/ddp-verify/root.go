package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dailydoco/ddp-verify/exitcode"
)

// newRootCmd builds the command tree. out receives results, errOut progress and diagnostics.
func newRootCmd(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "ddp-verify",
		Short:         "Go/no-go launch verification for DailyDoco Pro: load, chaos, SLOs, reports",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	// Flag errors are bad input (exit 2), not runtime failures.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exitcode.New(exitcode.BadInput, err) })
	// Every command's number flags are finite: pflag accepts NaN and Inf, and NaN passes
	// every range check written as "x < 0 is an error" (a NaN tolerance turned compare's
	// regression gate off).
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return finiteFloats(cmd.Flags()) }
	// One line per command; each command lives in its own file as newXCmd(out, errOut).
	root.AddCommand(
		newVersionCmd(out),
		newLoadCmd(out, errOut),
		newReportCmd(out, errOut),
		newCompareCmd(out, errOut),
		newProfilesCmd(out),
		newPlanCmd(out),
		newRunCmd(out, errOut),
		newAgentCmd(errOut),
		newEvaluateCmd(out, errOut),
		newChaosCmd(out, errOut),
		newPlatformCmd(out, errOut),
		newClusterCmd(out, errOut),
		newDashboardsCmd(out),
	)
	return root
}

// finiteFloats refuses a NaN or infinite value of any float flag in fs (bad input).
func finiteFloats(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if t := f.Value.Type(); t != "float64" && t != "float32" {
			return
		}
		if x, err := strconv.ParseFloat(f.Value.String(), 64); err == nil && (math.IsNaN(x) || math.IsInf(x, 0)) {
			errs = append(errs, fmt.Errorf("--%s %s: want a finite number", f.Name, f.Value))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return exitcode.New(exitcode.BadInput, err)
	}
	return nil
}
