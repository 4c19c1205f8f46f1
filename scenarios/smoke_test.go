package scenarios

import (
	"testing"

	"github.com/dailydoco/ddp-verify/profile"
)

// The smoke profile lasts two minutes, yet the default SLOs need videos in it: throughput at
// the plateau (>= 500 videos/hour offered and completed) and enough videos for the realtime
// ratio (10).
func TestSmokeMixFeedsTheVideoSLOs(t *testing.T) {
	p, err := profile.Load("smoke")
	if err != nil {
		t.Fatal(err)
	}
	users, captures := p.Scenarios[0], p.Scenarios[1]
	m := RateModel{Weights: users.Journeys, Think: ThinkFromProfile(users.ThinkTime), Media: mediaFromProfile(users.Media)}
	r, err := m.Rates(int(users.Stages[1].Target))
	if err != nil {
		t.Fatal(err)
	}
	offered, err := RateModel{Weights: captures.Journeys, Think: ThinkFromProfile(captures.ThinkTime), Media: mediaFromProfile(captures.Media)}.ArrivalRates(captures.Stages[1].Target)
	if err != nil {
		t.Fatal(err)
	}
	// Well above the objective, and 20 videos in the 80 s hold alone.
	if offered.VideosPerHour < 900 {
		t.Errorf("smoke offers %.0f videos/hour, want >= 900", offered.VideosPerHour)
	}
	if r.RequestsPerMinute+offered.RequestsPerMinute < 300 {
		t.Errorf("smoke makes %.0f requests/minute, too few for the latency objectives' 100 samples", r.RequestsPerMinute)
	}
}
