package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/verdict"

	"github.com/dailydoco/ddp-verify/reports/reportstest"
)

func TestCompareCmd(t *testing.T) {
	base := reportstest.Launch(time.Minute)
	a := writeTestRun(t, base)
	same := writeTestRun(t, reportstest.Launch(time.Minute))

	worse := reportstest.Launch(time.Minute)
	worse.RunID = "worse"
	v := 0.131
	worse.SLOs[0].Value, worse.SLOs[0].Status = &v, verdict.Fail
	worse.Load.Steps[3].Response.P95 = 611
	b := writeTestRun(t, worse)

	out, code := executeCombined(t, "compare", filepath.Join(a, "run.json"), filepath.Join(same, "run.json"))
	if code != 0 || !strings.Contains(out, "no regression") {
		t.Errorf("identical runs: exit %d\n%s", code, out)
	}
	out, code = executeCombined(t, "compare", filepath.Join(a, "run.json"), filepath.Join(b, "run.json"))
	if code != exitcode.NoGo {
		t.Errorf("regressed run: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"status PASS -> FAIL", "p95 402.0 ms -> 611.0 ms", "B regressed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A huge tolerance still flags the status change but no longer the latency.
	out, code = executeCombined(t, "compare", "--latency-tolerance", "100", filepath.Join(a, "run.json"), filepath.Join(b, "run.json"))
	if code != exitcode.NoGo || strings.Contains(out, "REGRESSED: p95") {
		t.Errorf("with --latency-tolerance 100: exit %d\n%s", code, out)
	}
	if _, code := executeCombined(t, "compare", filepath.Join(a, "run.json"), filepath.Join(t.TempDir(), "missing.json")); code != exitcode.BadInput {
		t.Errorf("missing file: exit %d, want 2", code)
	}
}
