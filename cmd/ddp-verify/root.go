package main

import (
	"io"
	"strconv"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command (DESIGN 4.1).
const (
	exitGo          = 0
	exitNoGo        = 1 // NO-GO verdict, or a failed threshold
	exitBadInput    = 2 // bad flags, profile, SLO file
	exitInfra       = 3 // infrastructure or preflight failure
	exitInterrupted = 130
)

// exitError carries the process exit code to main. A nil err means the command already
// printed what the user needs (a verdict, a summary) and only the code remains.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return "exit status " + strconv.Itoa(e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withExitCode wraps err so that main exits with code.
func withExitCode(code int, err error) error { return &exitError{code: code, err: err} }

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
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withExitCode(exitBadInput, err) })
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
