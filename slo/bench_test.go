package slo_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"

	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/slo/slotest"
	"github.com/dailydoco/ddp-verify/verdict"
)

// BenchmarkEvaluateDefault60m evaluates the default SLO set over a 60-minute TSDB of about
// 2,000 series at 1 s resolution (7.2 million samples), through the embedded Prometheus's HTTP
// API, in the windows a launch run has: run (60 m), plateau (20 m) and one recovery (5 m).
// Target: under 2 s per evaluation.
func BenchmarkEvaluateDefault60m(b *testing.B) {
	const (
		routes  = 82 // 24 series per route + 24 others = 1,992 series
		minutes = 60
	)
	srv, err := prom.New(context.Background(), prom.Options{Dir: filepath.Join(b.TempDir(), "tsdb")})
	require.NoError(b, err)
	defer srv.Close()
	base := time.Now().Add(-(minutes + 1) * time.Minute).Truncate(time.Second)
	f0 := slotest.FrameAt(base, 0, time.Second, routes)
	f1 := slotest.FrameAt(base, 1, time.Second, routes)
	// The capture journeys' starts at 600 an hour, so that the throughput objective's
	// precondition (at least 500 videos an hour offered) holds and it is evaluated too.
	offered := labels.FromStrings("__name__", "ddp_client_requests_total", "scenario", "captures", "step", "capture.capture_start")
	f0.Series = append(f0.Series, slotest.Series{Labels: offered, Value: 0})
	f1.Series = append(f1.Series, slotest.Series{Labels: offered, Value: 600.0 / 3600})
	refs := make([]storage.SeriesRef, len(f0.Series))
	n := minutes*60 + 1
	for start := 0; start < n; start += 300 {
		app := srv.Appender(context.Background())
		for k := start; k < min(start+300, n); k++ {
			ts := base.Add(time.Duration(k) * time.Second).UnixMilli()
			for i, s := range f0.Series {
				v := s.Value + (f1.Series[i].Value-s.Value)*float64(k)
				refs[i], err = app.Append(refs[i], s.Labels, ts, v)
				require.NoError(b, err)
			}
		}
		require.NoError(b, app.Commit())
	}
	spec, err := slo.Default()
	require.NoError(b, err)
	end := base.Add(minutes * time.Minute)
	ws := []slo.Window{
		{Name: "run", Start: base, End: end},
		{Name: "plateau", Start: end.Add(-20 * time.Minute), End: end},
		{Name: "recovery-gpu-node", Start: end.Add(-5 * time.Minute), End: end, Fault: "gpu-node"},
	}
	q := client(b, srv.URL())

	b.ResetTimer()
	start := time.Now()
	var rep *slo.Report
	for range b.N {
		rep = slo.Evaluate(context.Background(), q, spec, ws, slo.Options{})
	}
	elapsed := time.Since(start)
	b.StopTimer()
	for _, r := range rep.Results {
		if r.Status == verdict.Error || r.Status == verdict.NoData {
			b.Fatalf("%s/%s: %s %s", r.ID, r.Window, r.Status, r.Error)
		}
	}
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/eval")
	b.ReportMetric(float64(len(f0.Series)), "series")
	b.ReportMetric(float64(len(rep.Results)), "results")
}
