package run

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dailydoco/ddp-verify/prom"
	"github.com/dailydoco/ddp-verify/slo"
)

// On a machine whose clocks agree, following the wall clock sees no step and places every
// instant at its own wall reading.
func TestWallClockWithoutStepsIsTheWallReading(t *testing.T) {
	c := newWallClock(time.Now())
	for range 5 {
		_, stepped := c.observe(time.Now())
		require.False(t, stepped, "a step where the clocks agree")
	}
	t1 := time.Now()
	assert.Equal(t, t1.Round(0).UnixNano(), c.at(t1).UnixNano())
	assert.True(t, c.at(time.Time{}).IsZero(), "an instant that never came stays zero")
	assert.Empty(t, c.Steps())
}

// After the wall clock steps by +30 s (a virtual machine resumed, a clock correction), every
// instant measured later on the run's clock is placed 30 s later on the wall clock; earlier
// ones are not moved; a change of the skew below minClockStep is no step.
func TestWallClockPlacesInstantsAfterAStep(t *testing.T) {
	ref := time.Now()
	c := newWallClock(ref)
	_, stepped := c.record(10*time.Second, 40*time.Millisecond)
	require.False(t, stepped, "40 ms of skew is not a step")
	s, stepped := c.record(50*time.Second, 30*time.Second)
	require.True(t, stepped)
	assert.Equal(t, ClockStep{At: 50 * time.Second, Skew: 30 * time.Second}, s)

	wall := func(d time.Duration) time.Time { return ref.Round(0).Add(d) }
	assert.Equal(t, wall(20*time.Second), c.at(ref.Add(20*time.Second)), "before the step")
	assert.Equal(t, wall(90*time.Second), c.at(ref.Add(60*time.Second)), "after the step")
	ws := c.windows([]slo.Window{{Name: "plateau", Start: ref.Add(40 * time.Second), End: ref.Add(70 * time.Second)}})
	assert.Equal(t, wall(40*time.Second), ws[0].Start)
	assert.Equal(t, wall(100*time.Second), ws[0].End, "a window across the step ends where its last sample was stamped")
	assert.Equal(t, 60*time.Second, ws[0].End.Sub(ws[0].Start), "the window's length on the wall clock includes the step")
}

// Through Prometheus: samples stamped on the wall clock, which stepped 30 s ahead at the run's
// second 50 (samples of seconds 50 to 99 carry wall times 80 to 129), are found by windows the
// wall clock places. The series' value is the run's second it was taken at, so each window's
// first and last sample say which seconds of the run it read: the run's seconds 60 to 90
// (after the step) and 20 to 45 (before it). Read on the run's clock alone, the first window
// would read the seconds 50 to 60.
func TestWallClockWindowsFindTheSamplesAcrossAStep(t *testing.T) {
	srv, err := prom.New(t.Context(), prom.Options{Dir: filepath.Join(t.TempDir(), "tsdb")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	// The run started five minutes ago, on both clocks.
	clock := newWallClock(time.Now().Add(-5 * time.Minute))
	clock.record(50*time.Second, 30*time.Second)
	app := srv.Appender(context.Background())
	for k := range 100 {
		at := clock.ref.Round(0).Add(time.Duration(k) * time.Second)
		if k >= 50 {
			at = at.Add(30 * time.Second)
		}
		_, err := app.Append(0, labels.FromStrings("__name__", "run_second"), at.UnixMilli(), float64(k))
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
	c, err := api.NewClient(api.Config{Address: srv.URL()})
	require.NoError(t, err)
	q := v1.NewAPI(c)

	// run is the instant s seconds into the run, as the run's clock measured it.
	run := func(s float64) time.Time { return clock.ref.Add(time.Duration(s * float64(time.Second))) }
	read := func(from, to float64) (first, last float64) {
		w := clock.windows([]slo.Window{{Start: run(from), End: run(to)}})[0]
		rng := fmt.Sprintf("%dms", w.End.Sub(w.Start).Milliseconds())
		return instant(t.Context(), q, "min_over_time(run_second["+rng+"])", w.End),
			instant(t.Context(), q, "max_over_time(run_second["+rng+"])", w.End)
	}
	first, last := read(59.5, 90)
	assert.Equal(t, []float64{60, 90}, []float64{first, last}, "the run's seconds 60 to 90")
	first, last = read(19.5, 45)
	assert.Equal(t, []float64{20, 45}, []float64{first, last}, "the run's seconds 20 to 45")
}
