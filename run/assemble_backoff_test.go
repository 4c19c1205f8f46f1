package run

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/reports"
)

// The run's record carries each scenario's failure backoffs from the engine's snapshot,
// zeros included, so that a report can say "none" rather than nothing.
func TestLoadResultsCarryBackoffs(t *testing.T) {
	t.Parallel()
	snap := &load.Snapshot{Elapsed: time.Minute, Scenarios: []load.ScenarioSnapshot{
		{Name: "users", Backoffs: 12, BackoffSeconds: 120.00049},
		{Name: "uploaders"},
	}}
	got := loadResults(snap, profile.Timeline{}, time.Unix(0, 0)).Backoffs
	want := []reports.Backoff{{Scenario: "users", Count: 12, Seconds: 120}, {Scenario: "uploaders"}}
	if !slices.Equal(got, want) {
		t.Fatalf("backoffs %+v, want %+v", got, want)
	}
}

// The run's total response time is the requests' own when closed-model scenarios ran beside an
// arrival-rate one: the arrival-rate iterations' response times (here 300 ms each, two fast
// requests apart) describe whole iterations, not requests. With only arrival-rate scenarios
// the total is their coordinated-omission-free response time.
func TestLoadResultsTotalResponseWithMixedModels(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	slowIteration := load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
		if _, err := vu.HTTP().Get(ctx, "first", srv.URL); err != nil {
			return err
		}
		if err := vu.Sleep(ctx, 300*time.Millisecond); err != nil {
			return err
		}
		_, err := vu.HTTP().Get(ctx, "second", srv.URL)
		return err
	})
	arrivals := load.ScenarioConfig{Name: "captures", Exec: slowIteration,
		Executor: load.ConstantArrivalRate{Rate: 10, TimeUnit: time.Second, Duration: time.Second, PreAllocatedVUs: 5, MaxVUs: 10}}
	users := load.ScenarioConfig{Name: "users", Exec: slowIteration,
		Executor: load.PerVUIterations{VUs: 2, Iterations: 2}}
	for _, c := range []struct {
		name      string
		scenarios []load.ScenarioConfig
		slow      bool // the total's p95 is an iteration's 300 ms
	}{{"mixed", []load.ScenarioConfig{users, arrivals}, false}, {"arrival-rate only", []load.ScenarioConfig{arrivals}, true}} {
		eng, err := load.NewEngine(c.scenarios)
		if err != nil {
			t.Fatal(err)
		}
		res, err := eng.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		total := loadResults(res.Snapshot, profile.Timeline{}, time.Unix(0, 0)).Total
		if slow := total.Response.P95 >= 300; slow != c.slow {
			t.Errorf("%s: total p95 response %v ms (service %v ms), want an iteration's 300 ms: %v", c.name, total.Response.P95, total.Service.P95, c.slow)
		}
	}
}
