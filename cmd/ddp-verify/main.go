// Command ddp-verify decides whether DailyDoco Pro is ready to launch: it drives load through
// realistic journeys, injects zone and node failures, evaluates SLOs against Prometheus and writes
// a go/no-go verdict. This package only wires the library packages into cobra commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/internal/printable"
)

func main() { os.Exit(cli(os.Args[1:])) }

// cli runs the command line args and returns the process exit code.
func cli(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCmd(os.Stdout, os.Stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if msg := exitcode.Message(err); msg != "" {
		// Errors quote names from profiles and files: their control characters are escaped.
		fmt.Fprintln(os.Stderr, "ddp-verify:", printable.Lines(msg))
	}
	return exitcode.Of(err)
}
