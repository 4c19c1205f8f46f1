package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/reports/reportstest"
)

// execute runs the command tree like main does and returns stdout and the exit code.
func runReportsCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return out.String(), 0
	}
	var ec *exitError
	if errors.As(err, &ec) {
		return out.String() + ec.Error(), ec.code
	}
	return out.String() + err.Error(), exitBadInput
}

func writeTestRun(t *testing.T, r *reports.Run) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), r.Profile)
	if err := reports.WriteRunDir(dir, r); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReportCmdRerenders(t *testing.T) {
	dir := writeTestRun(t, reportstest.Launch(time.Minute))
	for _, f := range []string{reports.HTMLFile, reports.JUnitFile, reports.MarkdownFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	out, code := runReportsCmd(t, "report", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, f := range []string{reports.HTMLFile, reports.JUnitFile, reports.MarkdownFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not re-rendered: %v", f, err)
		}
	}
}

func TestReportCmdBadInput(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "run.json"), []byte(`{"schema":"ddp-verify/run/v1","verdikt":"GO"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runReportsCmd(t, "report", dir)
	if code != exitBadInput || !strings.Contains(out, "run.json") || !strings.Contains(out, "verdikt") {
		t.Errorf("exit %d, output %q: want exit 2 naming the file and the field", code, out)
	}
}
