package reports_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/verdict"

	"github.com/dailydoco/ddp-verify/reports"
)

func TestCompare(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	tests := []struct {
		name   string
		mutate func(b *reports.Run)
		want   []string // substrings of the regressions; none means no regression
	}{
		{"identical", func(*reports.Run) {}, nil},
		{"within tolerance", func(b *reports.Run) {
			*b.SLOs[0].Value *= 1.05          // 87 -> 91 ms: 5 % worse, under 10 %
			b.Load.Steps[0].Response.P95 += 4 // under the 5 ms floor
		}, nil},
		{"improvement", func(b *reports.Run) {
			b.Verdict, b.SLOs[1].Status, b.SLOs[1].Value = verdict.Go, verdict.Pass, f(0.08)
			b.Load.Steps[3].Response.P95 = 100
		}, nil},
		{"verdict", func(b *reports.Run) { b.Verdict = verdict.Aborted }, []string{"verdict NO-GO -> ABORTED"}},
		{"status", func(b *reports.Run) { b.SLOs[0].Status = verdict.Warn }, []string{"api-latency-p95 [steady]: status PASS -> WARN"}},
		{"value of a < objective", func(b *reports.Run) { b.SLOs[0].Value = f(0.097) }, []string{"api-latency-p95 [steady]: value 87 ms -> 97 ms"}},
		{"value of a >= objective", func(b *reports.Run) { b.SLOs[8].Value = f(700) }, []string{"videos-per-hour [steady]: value"}},
		{"no data", func(b *reports.Run) { b.SLOs[5].Status, b.SLOs[5].Value = verdict.NoData, nil }, []string{"availability [chaos]: status PASS -> NO_DATA"}},
		{"objective dropped", func(b *reports.Run) { b.SLOs = b.SLOs[:len(b.SLOs)-1] }, []string{"videos-lost [run]: missing in B"}},
		{"objective not evaluated in a time-scaled B", func(b *reports.Run) {
			b.SLOs = b.SLOs[:len(b.SLOs)-1]
			b.TimeScale = 0.05
			b.NotEvaluated = []verdict.NotEvaluated{{ID: "videos-lost", Reason: "the run is time-scaled (x0.05)"}}
		}, []string{"videos-lost [run]: not evaluated in B: the run is time-scaled (x0.05)"}},
		{"step latency", func(b *reports.Run) { b.Load.Steps[3].Response.P95 = 520 }, []string{"PUT /v1/captures/{id}/upload: p95 402.0 ms -> 520.0 ms"}},
		{"step errors", func(b *reports.Run) { b.Load.Steps[0].ErrorRate = 0.02 }, []string{"POST /v1/signup: error rate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := smallRun(), smallRun()
			tt.mutate(b)
			d := reports.Compare(a, b, reports.DefaultTolerances)
			if d.Regressed() != (len(tt.want) > 0) {
				t.Fatalf("Regressed() = %v, regressions %q", d.Regressed(), d.Regressions)
			}
			all := strings.Join(d.Regressions, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("regressions %q lack %q", d.Regressions, w)
				}
			}
			var out bytes.Buffer
			if err := d.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			if d.Regressed() != strings.Contains(out.String(), "B regressed") {
				t.Errorf("text output disagrees with Regressed():\n%s", out.String())
			}
			if b.Scaled() && !strings.Contains(out.String(), "time scale x0.05") {
				t.Errorf("text output does not say B was time-scaled:\n%s", out.String())
			}
		})
	}
}

func TestCompareZeroToleranceFlagsAnyWorsening(t *testing.T) {
	a, b := smallRun(), smallRun()
	*b.SLOs[0].Value += 0.001
	if d := reports.Compare(a, b, reports.Tolerances{}); !d.Regressed() {
		t.Error("zero tolerance let a worse value through")
	}
}
