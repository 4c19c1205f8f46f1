// Package exitcode is the process exit status of every ddp-verify command (DESIGN 4.1) and the
// one error type that carries it from the library to main: 0 GO, 1 NO-GO (or a failed
// threshold), 2 bad input, 3 infrastructure or preflight failure, 130 interrupted.
//
// Library packages return an [*Error] where the caller must know which of these a failure is
// (bad input is the user's to fix; an unreachable cluster is not); main turns any error into
// its code with [Of].
package exitcode

import (
	"errors"
	"fmt"
	"strconv"
)

// Exit codes.
const (
	Go          = 0   // GO, or a command that succeeded
	NoGo        = 1   // NO-GO, or a failed threshold or regression
	BadInput    = 2   // bad flags, profile, SLO file, configuration
	Infra       = 3   // infrastructure or preflight failure
	Interrupted = 130 // stopped by Ctrl-C or SIGTERM
)

// Error is an error with the exit code it maps to. A nil Err means the command already said
// what the user needs (a verdict, a summary) and only the code remains.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return "exit status " + strconv.Itoa(e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// New wraps err with code; err may be nil (see [Error]).
func New(code int, err error) error { return &Error{Code: code, Err: err} }

// BadInputf is a bad-input error (exit 2) formatted as with fmt.Errorf.
func BadInputf(format string, args ...any) error {
	return &Error{Code: BadInput, Err: fmt.Errorf(format, args...)}
}

// Infraf is an infrastructure error (exit 3) formatted as with fmt.Errorf.
func Infraf(format string, args ...any) error {
	return &Error{Code: Infra, Err: fmt.Errorf(format, args...)}
}

// Of is the exit code of err: 0 for nil, the code an [*Error] in its chain carries, and
// [BadInput] for any other error (a flag or argument that cobra refused).
func Of(err error) int {
	if err == nil {
		return Go
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return BadInput
}

// Message is what main prints for err: "" when the error carries only a code.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Err == nil {
		return ""
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
