package run

import (
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
