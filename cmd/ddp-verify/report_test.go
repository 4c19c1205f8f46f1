package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/reports/reportstest"
)

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
	out, code := executeCombined(t, "report", dir)
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
	out, code := executeCombined(t, "report", dir)
	if code != exitcode.BadInput || !strings.Contains(out, "run.json") || !strings.Contains(out, "verdikt") {
		t.Errorf("exit %d, output %q: want exit 2 naming the file and the field", code, out)
	}
}
