package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
	"github.com/dailydoco/ddp-verify/verdict"

	"github.com/dailydoco/ddp-verify/reports"
)

// envActAsCLI makes this test binary run as the ddp-verify command (TestMain).
const envActAsCLI = "DDP_VERIFY_TEST_AS_CLI"

// The whole command under a real SIGINT: a run interrupted while its fault is in force
// recovers the fault, exits 130 and writes a report marked ABORTED. The test binary plays
// ddp-verify (and, through `platform <role>`, the platform's processes).
func TestRunInterruptedBySIGINT(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cmd, stderr := startCLI(t, "run", "--profile", filepath.Join("testdata", "interrupt.yaml"), "--out", dir, "--slo", filepath.Join("..", "..", "run", "testdata", "reachable.slo.yaml"))
	seen := make(chan struct{})
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "faults=general-node") {
				signalled = true
				close(seen)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case <-seen:
	case <-time.After(90 * time.Second):
		t.Fatalf("the fault never showed in the progress lines")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitcode.Interrupted {
		t.Fatalf("exit %v, want 130; stderr:\n%s", err, log.String())
	}
	r, err := reports.ReadRun(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != verdict.Aborted {
		t.Errorf("verdict %s, want ABORTED", r.Verdict)
	}
	if len(r.Chaos) != 1 || r.Chaos[0].InjectedAt == nil || r.Chaos[0].RecoveredAt == nil || r.Chaos[0].Error != "" {
		t.Errorf("the fault was not injected and recovered cleanly: %+v", r.Chaos)
	}
}

// `run --target kubernetes` re-executes itself in a network namespace; one Ctrl-C (SIGINT to
// the command, as a terminal sends it) must reach the run inside once: it stops the load,
// writes the ABORTED report and exits 130, rather than taking the forwarded signal and the
// end of the outer command's context for two Ctrl-Cs and exiting without a report.
func TestRunOnKubernetesInterruptedOnce(t *testing.T) {
	assets := kubeclustertest.Assets(t)
	dir := filepath.Join(t.TempDir(), "run")
	cmd, stderr := startCLI(t, "run", "--target", "kubernetes", "--assets", assets, "--profile", "smoke", "--no-chaos", "--out", dir)
	loading, done := make(chan struct{}), make(chan struct{})
	var log strings.Builder
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "stage=ramp-up users=") {
				signalled = true
				close(loading)
			}
		}
	}()
	select {
	case <-loading:
	case <-done:
		t.Fatalf("the run ended before its load started:\n%s", log.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("the load never started")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	<-done
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitcode.Interrupted {
		t.Fatalf("exit %v, want 130; stderr:\n%s", err, log.String())
	}
	if strings.Contains(log.String(), "interrupted twice") {
		t.Errorf("one SIGINT was taken for two:\n%s", log.String())
	}
	r, err := reports.ReadRun(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if r.Verdict != verdict.Aborted || r.Target != "kubernetes (local)" {
		t.Errorf("verdict %s on %q, want ABORTED on kubernetes (local)", r.Verdict, r.Target)
	}
}

// startCLI starts this test binary as the ddp-verify command with args, killed at the test's
// end, and returns its standard error.
func startCLI(t *testing.T, args ...string) (*exec.Cmd, io.ReadCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envActAsCLI+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, stderr
}
