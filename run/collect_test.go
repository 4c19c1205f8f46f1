package run

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dailydoco/ddp-verify/prom"
)

// The report's video accounting counts videos exactly. The run's window is 30.5 s to 90.5 s;
// videos are accepted at 2/s and processed at 1/s from second 31 to 60, one is lost at second
// 45, and the window ends 30 s after the last video with a backlog of 29: 60 accepted, 30
// processed, 29 unfinished, 1 lost. increase() would have extrapolated the 59 sampled seconds to 60 (58.98
// accepted, 29.49 processed) and rounded the lost video away. The data tier restarts at second
// 50 (its counters start again from zero), which changes nothing.
func TestVideoAccountingCountsExactly(t *testing.T) {
	srv, err := prom.New(t.Context(), prom.Options{Dir: filepath.Join(t.TempDir(), "tsdb")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	base := time.Now().Add(-3 * time.Minute).Truncate(time.Second)
	app := srv.Appender(context.Background())
	total := func(k, perSecond int) float64 { return float64(perSecond * min(max(k-30, 0), 30)) }
	for k := range 100 {
		accepted, processed := total(k, 2), total(k, 1)
		depth := accepted - processed
		if k >= 45 {
			depth--
		}
		if k >= 50 {
			accepted -= total(49, 2)
			processed -= total(49, 1)
		}
		ts := base.Add(time.Duration(k) * time.Second).UnixMilli()
		for _, s := range []struct {
			l labels.Labels
			v float64
		}{
			{labels.FromStrings("__name__", "dailydoco_videos_accepted_total"), accepted},
			{labels.FromStrings("__name__", "dailydoco_videos_processed_total", "result", "success", "resolution", "1080p"), processed},
			{labels.FromStrings("__name__", "dailydoco_videos_processed_total", "result", "failed", "resolution", "1080p"), 0},
			{labels.FromStrings("__name__", "dailydoco_queue_depth", "stage", "gpu"), depth},
		} {
			_, err := app.Append(0, s.l, ts, s.v)
			require.NoError(t, err)
		}
	}
	require.NoError(t, app.Commit())
	c, err := api.NewClient(api.Config{Address: srv.URL()})
	require.NoError(t, err)

	v, _ := videosAndCost(t.Context(), v1.NewAPI(c), base.Add(30500*time.Millisecond), base.Add(90500*time.Millisecond))
	assert.Equal(t, int64(60), v.Accepted)
	assert.Equal(t, int64(30), v.Processed)
	assert.Equal(t, int64(0), v.Failed)
	assert.Equal(t, int64(29), v.Unfinished)
	assert.Equal(t, int64(1), v.Lost)
}
