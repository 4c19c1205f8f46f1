package scenarios

import (
	"testing"

	"github.com/dailydoco/ddp-verify/profile"
)

// The smoke profile lasts two minutes, yet the default SLOs need videos in it: throughput at
// the plateau (>= 500 videos/hour) and enough processed videos for the realtime ratio.
func TestSmokeMixFeedsTheVideoSLOs(t *testing.T) {
	p, err := profile.Load("smoke")
	if err != nil {
		t.Fatal(err)
	}
	s := p.Scenarios[0]
	m := RateModel{Weights: s.Journeys, Think: ThinkFromProfile(s.ThinkTime), Media: mediaFromProfile(s.Media)}
	r, err := m.Rates(p.PeakVUs())
	if err != nil {
		t.Fatal(err)
	}
	// Twice the objective, so that the 80 s plateau's count (Poisson) stays above it.
	if r.VideosPerHour < 1000 {
		t.Errorf("smoke makes %.0f videos/hour, want >= 1000", r.VideosPerHour)
	}
	if r.RequestsPerMinute < 300 {
		t.Errorf("smoke makes %.0f requests/minute, too few for the latency objectives' 100 samples", r.RequestsPerMinute)
	}
}
