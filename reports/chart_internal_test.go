package reports

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestDownsampleKeepsGapsAndAverages(t *testing.T) {
	nan := math.NaN()
	got := downsample(Values{1, 3, nan, nan, 5, 7}, 3)
	if got[0] != 2 || !math.IsNaN(got[1]) || got[2] != 6 {
		t.Errorf("downsample = %v, want [2 NaN 6]", got)
	}
	short := Values{1, 2}
	if got := downsample(short, 3); len(got) != 2 {
		t.Errorf("short series changed: %v", got)
	}
}

func TestLinePathLiftsPenOnGaps(t *testing.T) {
	d := linePath([]float64{1, 2, math.NaN(), 3}, func(i int) float64 { return float64(i) }, func(y float64) float64 { return 10 * y })
	if d != "M0 10L1 20M3 30" {
		t.Errorf("path = %q", d)
	}
}

func TestNiceCeil(t *testing.T) {
	for _, tt := range []struct{ in, want float64 }{{0, 1}, {0.7, 1}, {1, 1}, {1.2, 2}, {2.3, 2.5}, {414, 500}, {922, 1000}, {1001, 2000}} {
		if got := niceCeil(tt.in); got != tt.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestLayoutChartScalesToThresholdAndData(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &Run{StartedAt: start, EndedAt: start.Add(4 * time.Minute),
		Series:   Series{Start: start, IntervalSeconds: 60},
		Timeline: []Event{{Kind: EventFault, Name: "f", Start: start.Add(time.Minute), End: start.Add(2 * time.Minute)}}}
	thr := 100.0
	v := layoutChart(r, chartSpec{Threshold: &thr, Lines: []lineSpec{{"a", "l1", Values{10, 20, 40, 30}}, {"empty", "l2", Values{math.NaN()}}}})
	if len(v.Paths) != 1 || v.Empty {
		t.Fatalf("paths %+v: want only the line with data", v.Paths)
	}
	// The threshold is above the data, so the axis must reach it.
	if top := v.YTicks[len(v.YTicks)-1]; top.Label != "200" || top.Pos != v.Y0 {
		t.Errorf("y ticks %+v", v.YTicks)
	}
	if v.Threshold == nil || v.Threshold.Y < v.Y0 || v.Threshold.Y > v.Y1 {
		t.Errorf("threshold %+v outside the plot", v.Threshold)
	}
	if !strings.HasPrefix(v.Paths[0].D, "M52 ") {
		t.Errorf("first point not at the left edge: %q", v.Paths[0].D)
	}
	if len(v.Bands) != 1 || v.Bands[0].Class != "band-fault" {
		t.Errorf("bands %+v, want the fault", v.Bands)
	}
	if e := layoutChart(r, chartSpec{Lines: []lineSpec{{"x", "l1", nil}}}); !e.Empty {
		t.Error("a chart without points is not marked empty")
	}
}
