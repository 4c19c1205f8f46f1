package main

import (
	"io"

	"github.com/spf13/cobra"

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
	// One line per command; each command lives in its own file as newXCmd(out, errOut).
	root.AddCommand(
		newVersionCmd(out),
		newLoadCmd(out, errOut),
		newReportCmd(out, errOut),
		newCompareCmd(out, errOut),
		newProfilesCmd(out),
		newPlanCmd(out),
		newRunCmd(out, errOut),
		newEvaluateCmd(out, errOut),
		newChaosCmd(out, errOut),
		newPlatformCmd(out, errOut),
	)
	return root
}
