package run

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

// Signals turns the process's SIGINT and SIGTERM into a run's two stages: the first closes
// interrupt (the load stops, faults are recovered, what was collected is evaluated and an
// ABORTED report written: pass it as Options.Interrupt); the second cancels ctx (faults are
// still recovered, nothing more is evaluated: pass it to Run). parent's values reach ctx but
// not its cancellation, since main's own signal context would otherwise end the run at the
// first signal: Signals handles both signals itself. say receives one line at the first
// signal. stop releases the handler and cancels ctx.
func Signals(parent context.Context, say io.Writer) (ctx context.Context, interrupt <-chan struct{}, stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	first := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		fmt.Fprintln(say, "ddp-verify: interrupted: stopping the load, recovering faults, writing an ABORTED report (Ctrl-C again to exit at once)")
		close(first)
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, first, func() {
		signal.Stop(sigs)
		cancel()
	}
}

// HeaderFromEnv is the header every load request carries, its value read from the environment
// variable env: a token a staging platform's gateway requires. The token itself never appears
// in an error or a report.
func HeaderFromEnv(header, env string) (http.Header, error) {
	switch {
	case header == "" || env == "":
		return nil, badInput("--auth-header and --auth-token-env go together")
	case os.Getenv(env) == "":
		return nil, badInput("--auth-token-env %s: the environment variable is empty or unset", env)
	}
	return http.Header{http.CanonicalHeaderKey(header): {os.Getenv(env)}}, nil
}
