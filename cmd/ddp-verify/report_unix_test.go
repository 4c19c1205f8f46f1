//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/reports"
)

// report refuses at once what it must not re-render: a run.json that is a FIFO (which used to
// hang the command, SIGTERM included), one with a key given twice, and one whose GO its own
// objectives contradict; each is exit 2 with the reason, and nothing is rendered.
func TestReportCmdRefusesHostileRunJSON(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "..", "reports", "testdata", "minimal.good.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		write func(path string) error
		want  string
	}{
		{"FIFO", func(p string) error { return syscall.Mkfifo(p, 0o644) }, "is a named pipe (FIFO), not a regular file"},
		{"duplicate key", func(p string) error {
			return os.WriteFile(p, []byte(strings.Replace(string(good), `"verdict": "GO",`, `"verdict": "NO-GO", "verdict": "GO",`, 1)), 0o644)
		}, `field verdict: duplicate key "verdict"`},
		{"GO beside a failing key objective", func(p string) error {
			return os.WriteFile(p, []byte(strings.Replace(string(good), `"status": "PASS"`, `"status": "FAIL"`, 1)), 0o644)
		}, "field verdict: GO, but key objective api-latency-p95 in steady is FAIL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.write(filepath.Join(dir, reports.RunFile)); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var out string
			var code int
			go func() {
				defer close(done)
				out, code = executeCombined(t, "report", dir)
			}()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Fatal("report still blocked after a minute")
			}
			if code != exitcode.BadInput || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want 2 saying %q:\n%s", code, tc.want, out)
			}
			if _, err := os.Stat(filepath.Join(dir, reports.HTMLFile)); err == nil {
				t.Error("report.html rendered")
			}
		})
	}
}
