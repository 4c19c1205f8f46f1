package load_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dailydoco/ddp-verify/load"
)

// A journey is a Scenario: each request is tagged with its step, custom trends and checks are
// recorded on the VU, and think time uses the engine clock.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()

	journey := load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
		start := vu.Now()
		res, err := vu.HTTP().Get(ctx, "dashboard", srv.URL+"/dashboard")
		if err != nil {
			return err
		}
		vu.Check("dashboard is 200", res.Status == http.StatusOK)
		vu.Trend("dashboard_load_seconds", "dashboard", vu.Now().Sub(start))
		return vu.Sleep(ctx, 10*time.Millisecond) // think time
	})
	p95, _ := load.ParseThresholdSpec("http_req_duration{step:dashboard}:p(95)<500")
	checks, _ := load.ParseThresholdSpec("checks:rate>0.99")
	eng, err := load.NewEngine([]load.ScenarioConfig{{
		Name:     "browse",
		Executor: load.PerVUIterations{VUs: 2, Iterations: 5},
		Exec:     journey,
	}}, load.WithThresholds(p95, checks))
	if err != nil {
		panic(err)
	}
	res, err := eng.Run(context.Background())
	if err != nil {
		panic(err)
	}
	reqs, failed := res.Snapshot.Requests()
	fmt.Println("requests:", reqs, "failed:", failed, "thresholds passed:", res.ThresholdsPassed())
	// Output: requests: 10 failed: 0 thresholds passed: true
}

// The run orchestrator scales stage durations, shows live figures, exposes /metrics and
// reacts to an abort from thresholds.
func ExampleEngine_Run() {
	scenario := load.ScenarioConfig{
		Name:     "steady",
		Executor: load.RampingVUs{Stages: []load.Stage{{Duration: 2 * time.Second, Target: 3}, {Duration: 2 * time.Second, Target: 0}}},
		Exec:     load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error { return vu.Sleep(ctx, 50*time.Millisecond) }),
	}
	eng, _ := load.NewEngine([]load.ScenarioConfig{scenario}, load.WithTimeScale(0.25)) // 4s of stages become 1s
	reg := prometheus.NewRegistry()
	reg.MustRegister(eng.Collector())
	_ = promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) // serve on /metrics

	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-eng.Aborted(): // an abortOnFail threshold failed: stop chaos, keep the evidence
		case <-done:
		}
	}()
	res, _ := eng.Run(context.Background())
	close(done)
	<-watched
	_ = eng.Live() // VUs, rps, p95 and error rate over the last seconds (for a progress line)
	fmt.Println("stage durations:", eng.Scenarios()[0].Executor.TotalDuration())
	fmt.Println("stages reported:", len(res.Snapshot.Scenarios[0].Stages))
	// Output:
	// stage durations: 1s
	// stages reported: 2
}
