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

// A tolerance that would switch the regression gate off instead of loosening it is bad input:
// NaN (no comparison with it is ever true), infinities, negative values. Each used to pass,
// and compare then reported "no regression" for a run whose p95 tripled.
func TestCompareRefusesToleranceThatSwitchesTheGateOff(t *testing.T) {
	a := writeTestRun(t, reportstest.Launch(time.Minute))
	slower := reportstest.Launch(time.Minute)
	slower.RunID = "slower"
	slower.Load.Steps[3].Response.P95 *= 3
	b := writeTestRun(t, slower)
	for _, tc := range []struct{ flag, value, want string }{
		{"--latency-tolerance", "NaN", "--latency-tolerance NaN: want a finite number"},
		{"--latency-tolerance", "Inf", "--latency-tolerance +Inf: want a finite number"},
		{"--latency-tolerance", "-50", "--latency-tolerance -50: want a finite number >= 0"},
		{"--tolerance", "nan", "--tolerance NaN: want a finite number"},
		{"--error-rate-tolerance", "-1", "--error-rate-tolerance -1: want a finite number >= 0"},
		{"--latency-floor-ms", "+Inf", "--latency-floor-ms +Inf: want a finite number"},
	} {
		t.Run(tc.flag+"="+tc.value, func(t *testing.T) {
			out, code := executeCombined(t, "compare", tc.flag, tc.value, filepath.Join(a, "run.json"), filepath.Join(b, "run.json"))
			if code != exitcode.BadInput || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want 2 saying %q:\n%s", code, tc.want, out)
			}
		})
	}
}
