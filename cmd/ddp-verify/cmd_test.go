package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/internal/printable"
)

// execute runs the command tree with args as main does, and returns stdout, stderr (with the
// message main would print) and the exit code main would use.
func execute(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd(&out, &errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if msg := exitcode.Message(err); msg != "" {
		errOut.WriteString(printable.Lines(msg))
	}
	return out.String(), errOut.String(), exitcode.Of(err)
}

// executeCombined is [execute] with stdout and stderr together.
func executeCombined(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, errOut, code := execute(t, args...)
	return out + errOut, code
}
