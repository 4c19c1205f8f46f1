package exitcode_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dailydoco/ddp-verify/exitcode"
)

func TestOfAndMessage(t *testing.T) {
	plain := errors.New("unknown flag --x")
	tests := []struct {
		name    string
		err     error
		code    int
		message string
		isPlain bool
	}{
		{"nil", nil, exitcode.Go, "", false},
		{"plain error is bad input", plain, exitcode.BadInput, "unknown flag --x", true},
		{"infrastructure", exitcode.Infraf("preflight: %s", "no target"), exitcode.Infra, "preflight: no target", false},
		{"wrapped bad input keeps its code", fmt.Errorf("run: %w", exitcode.BadInputf("profile x.yaml:3: name: is required")), exitcode.BadInput, "run: profile x.yaml:3: name: is required", false},
		{"code only", exitcode.New(exitcode.NoGo, nil), exitcode.NoGo, "", false},
		{"interrupted wraps its cause", exitcode.New(exitcode.Interrupted, plain), exitcode.Interrupted, "unknown flag --x", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitcode.Of(tc.err); got != tc.code {
				t.Errorf("Of = %d, want %d", got, tc.code)
			}
			if got := exitcode.Message(tc.err); got != tc.message {
				t.Errorf("Message = %q, want %q", got, tc.message)
			}
			if got := errors.Is(tc.err, plain); got != tc.isPlain {
				t.Errorf("errors.Is(err, cause) = %v, want %v", got, tc.isPlain)
			}
		})
	}
}
