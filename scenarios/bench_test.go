package scenarios

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/profile"
)

// BenchmarkJourneyMix1000Users measures the load generator's own footprint while 1000 users run
// the launch profile's journey mix, with its real think times and live uploads, against the
// reference platform for 60 s. The platform runs as separate processes (re-executions of this
// binary), so this process's rusage is the generator's, plus the platform supervisor's
// heartbeat endpoint, which is negligible. Reported:
//
//   - cpu-s/s: CPU seconds (user + system) per wall second spent by the generator;
//   - rss-MiB: peak resident memory of the generator process;
//   - heap-KiB/VU: live heap after the run per user (sessions, HDR series, buffers);
//   - req/s and req/cpu-s: requests sent, and requests per CPU second.
//
// Run it with `make bench` or `go test ./scenarios -run '^$' -bench JourneyMix -benchtime 1x`.
func BenchmarkJourneyMix1000Users(b *testing.B) {
	if testing.Short() {
		b.Skip("drives 1000 users for 60 s")
	}
	p, err := profile.Load("launch")
	if err != nil {
		b.Fatal(err)
	}
	sc := p.Scenarios[0]
	c := platformtest.Start(b, nil)
	const users, dur = 1000, 60 * time.Second
	for b.Loop() {
		mix, err := NewMix(sc.Journeys, ThinkFromProfile(sc.ThinkTime), Target{BaseURL: c.GatewayURL(), RunID: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		eng, err := load.NewEngine([]load.ScenarioConfig{{Name: "users", Exec: mix, GracefulStop: load.NoGrace,
			Executor: load.ConstantVUs{VUs: users, Duration: dur}}})
		if err != nil {
			b.Fatal(err)
		}
		var before, after syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		start := time.Now()
		res, err := eng.Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		wall := time.Since(start)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		cpu := time.Duration(after.Utime.Nano()-before.Utime.Nano()) + time.Duration(after.Stime.Nano()-before.Stime.Nano())
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		total, failed := res.Snapshot.Requests()
		b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu-s/s")
		b.ReportMetric(float64(after.Maxrss)/1024, "rss-MiB") // Linux reports KiB
		b.ReportMetric(float64(ms.HeapInuse)/1024/users, "heap-KiB/VU")
		b.ReportMetric(float64(total)/wall.Seconds(), "req/s")
		b.ReportMetric(float64(total)/cpu.Seconds(), "req/cpu-s")
		b.ReportMetric(float64(failed), "failed")
		runtime.KeepAlive(mix)
	}
}
