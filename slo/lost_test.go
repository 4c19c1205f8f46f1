package slo_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/stretchr/testify/require"

	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/slo/slotest"
	"github.com/dailydoco/ddp-verify/verdict"
)

// pipeline is the data tier's video accounting over the test's frames (1 s apart): videos are
// accepted at 2/s and processed at 1/s until frame 60, when the load stops with a backlog of
// 60 that the rest of the run does not drain (as when a drain times out). lost videos vanish
// at frame 45: accepted, never processed, no longer in the queue.
type pipeline struct {
	lost int
	// restartAt, when set, is the frame whose scrape is the data tier's first after a restart:
	// its counters start again from zero (its database, and so the queue depth, survive).
	restartAt int
	// gap, when set, are frames whose scrapes failed: Prometheus writes staleness markers.
	gap [2]int
	// offset shifts every frame off the whole second (scrapes are not aligned with the 1 s
	// steps the counts are summed on).
	offset time.Duration
	// flowing keeps videos moving until the window's end: accepted and processed at 1/s each
	// after frame 60, the backlog unchanged (a drain that timed out with workers busy).
	flowing bool
}

func (p pipeline) frames(base time.Time) []slotest.Frame {
	total := func(k, perSecond int) float64 { return float64(perSecond * min(k, 60)) }
	frames := make([]slotest.Frame, 100)
	for k := range frames {
		accepted, processed := total(k, 2), total(k, 1)
		if p.flowing && k > 60 {
			accepted, processed = accepted+float64(k-60), processed+float64(k-60)
		}
		depth := accepted - processed
		if k >= 45 {
			depth -= float64(p.lost)
		}
		if p.restartAt > 0 && k >= p.restartAt {
			accepted -= total(p.restartAt-1, 2)
			processed -= total(p.restartAt-1, 1)
		}
		if k >= p.gap[0] && k <= p.gap[1] && p.gap[1] > 0 {
			stale := math.Float64frombits(value.StaleNaN)
			accepted, processed, depth = stale, stale, stale
		}
		frames[k] = slotest.Frame{T: base.Add(time.Duration(k)*time.Second + p.offset), Series: []slotest.Series{
			{Labels: labels.FromStrings("__name__", "dailydoco_videos_accepted_total"), Value: accepted},
			{Labels: labels.FromStrings("__name__", "dailydoco_videos_processed_total", "result", "success", "resolution", "1080p"), Value: processed},
			{Labels: labels.FromStrings("__name__", "dailydoco_videos_processed_total", "result", "failed", "resolution", "1080p"), Value: 0},
			{Labels: labels.FromStrings("__name__", "dailydoco_queue_depth", "stage", "gpu"), Value: depth},
		}}
	}
	return frames
}

// The shipped videos_lost objective counts videos exactly. The window (frames 31..90) ends 30 s
// after the last video, so increase() would extrapolate its 59 sampled seconds to 60 and read
// the 58 accepted and 29 processed videos of the sampled span as 58.98 and 29.49: with the
// backlog growth of 30, one lost video would read 0.49 and pass. A restarted data tier (its
// counters reset, its database kept) and scrapes that failed (staleness markers) change
// nothing; a restart between two scrapes of counters held in memory is caught as counts that
// do not add up.
func TestVideosLostCountsEveryVideo(t *testing.T) {
	spec, err := slo.Default()
	require.NoError(t, err)
	spec.Objectives = slices.DeleteFunc(spec.Objectives, func(o slo.Objective) bool { return o.ID != "videos_lost" })
	require.Len(t, spec.Objectives, 1)
	for _, c := range []struct {
		name string
		p    pipeline
		want verdict.Status
		// signed is the difference the objective bounds either way.
		signed float64
	}{
		{"a backlog, nothing lost", pipeline{}, verdict.Pass, 0},
		{"one video lost", pipeline{lost: 1}, verdict.Fail, 1},
		{"the data tier restarted, nothing lost", pipeline{restartAt: 50}, verdict.Pass, 0},
		{"the data tier restarted, one video lost", pipeline{lost: 1, restartAt: 50}, verdict.Fail, 1},
		{"scrapes failed, one video lost", pipeline{lost: 1, gap: [2]int{52, 57}}, verdict.Fail, 1},
		// Counters held in memory, restarted between two scrapes: the 6 videos accepted and
		// the 3 processed after frame 51's scrape were never seen, and the 3 that went into
		// the backlog look as if they came from nowhere. That could hide 3 lost videos.
		// Scrapes at .3 s, videos flowing at both edges of the window: the counters' first and
		// last steps and the backlog's must read the same samples, or a video accepted or
		// finished between two of them looks lost.
		{"scrapes between the steps, videos flowing at the edges", pipeline{offset: 300 * time.Millisecond, flowing: true}, verdict.Pass, 0},
		{"scrapes between the steps, one video lost", pipeline{offset: 300 * time.Millisecond, flowing: true, lost: 1}, verdict.Fail, 1},
		{"a restart between scrapes lost counts", pipeline{restartAt: 55, gap: [2]int{52, 57}}, verdict.Fail, -3},
		{"a restart between scrapes lost counts and a video", pipeline{lost: 1, restartAt: 55, gap: [2]int{52, 57}}, verdict.Fail, -2},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := testBase()
			q := appended(t, c.p.frames(base))
			rep := slo.Evaluate(context.Background(), q, spec, windows(base)[:1], slo.Options{})
			require.Len(t, rep.Results, 1)
			r := rep.Results[0]
			require.Equal(t, c.want, r.Status, r.Error)
			require.NotNil(t, r.Value)
			require.InDelta(t, math.Abs(c.signed), *r.Value, 1e-9)
			require.Len(t, r.Evidence, 1)
			require.InDelta(t, c.signed, r.Evidence[0].Value, 1e-9)
		})
	}
}
