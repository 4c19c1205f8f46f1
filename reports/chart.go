package reports

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// This file is a small line-chart renderer. It computes geometry only; the SVG elements are
// written by the report template, so html/template escapes every label (stage and fault names
// come from profiles). See docs/reports.md for why no charting library is used.

// Chart geometry in SVG user units; the SVG scales to its container.
const (
	chartW, chartH          = 600.0, 210.0
	chartLeft, chartRight   = 52.0, 12.0
	chartTop, chartBottom   = 26.0, 24.0
	maxPointsPerLine        = 600 // more points than pixels only bloat the file
	timelineW, timelineRowH = 1200.0, 26.0
)

// lineSpec is one line of a chart.
type lineSpec struct {
	Label  string
	Class  string // CSS class that sets the colour
	Values Values
}

// chartSpec describes a chart before layout.
type chartSpec struct {
	ID        string
	Title     string
	Unit      string
	Lines     []lineSpec
	Threshold *float64 // objective drawn as a dashed line, in the chart's unit
	ThreshLbl string
}

// chartView is the laid-out chart the template draws.
type chartView struct {
	ID, Title, Unit string
	W, H            float64
	X0, Y0, X1, Y1  float64 // plot area corners: (X0,Y0) top-left, (X1,Y1) bottom-right
	Bands           []bandView
	XTicks, YTicks  []tickView
	Paths           []pathView
	Threshold       *thresholdView
	Empty           bool
	Latest          []legendView
}

type bandView struct {
	X, W  float64
	Class string
	Label string
	// Title names the bar in full on hover, also when Label had to be shortened or dropped.
	Title string
}

// LabelX is where the template writes a label inside a bar.
func (b bandView) LabelX() float64 { return round1(b.X + 5) }

type tickView struct {
	Pos   float64
	Label string
}

type pathView struct {
	D     string
	Class string
	Label string
}

type thresholdView struct {
	Y     float64
	Label string
}

type legendView struct {
	Label, Class, Peak string
}

// layoutChart lays a chart out on the run's time axis: x is time since the run started, so
// every chart lines up with the timeline above them.
func layoutChart(r *Run, spec chartSpec) chartView {
	v := chartView{
		ID: spec.ID, Title: spec.Title, Unit: spec.Unit, W: chartW, H: chartH,
		X0: chartLeft, Y0: chartTop, X1: chartW - chartRight, Y1: chartH - chartBottom,
	}
	total := r.Duration().Seconds()
	if total <= 0 {
		total = 1
	}
	xOf := func(sec float64) float64 { return v.X0 + (v.X1-v.X0)*clamp(sec/total, 0, 1) }
	tOf := func(t time.Time) float64 { return xOf(t.Sub(r.StartedAt).Seconds()) }

	stage := 0
	var faults []bandView
	for _, e := range r.Timeline {
		switch e.Kind {
		case EventStage:
			// Alternate shading tells stages apart without labels that would not fit.
			if stage%2 == 1 {
				v.Bands = append(v.Bands, bandView{X: tOf(e.Start), W: tOf(e.End) - tOf(e.Start), Class: "band-stage"})
			}
			stage++
		case EventFault:
			faults = append(faults, bandView{X: tOf(e.Start), W: math.Max(tOf(e.End)-tOf(e.Start), 1.5), Class: "band-fault", Label: e.Name})
		}
	}
	labelOutside(faults, 5.4, v.X1)
	v.Bands = append(v.Bands, faults...)

	maxY := 0.0
	if spec.Threshold != nil {
		maxY = *spec.Threshold
	}
	// Two passes: the y scale needs every line's peak before any path can be drawn.
	type prepared struct {
		spec lineSpec
		pts  []float64
		step float64
	}
	var lines []prepared
	for _, l := range spec.Lines {
		pts := downsample(l.Values, maxPointsPerLine)
		peak, seen := 0.0, false
		for _, y := range pts {
			if !math.IsNaN(y) {
				peak, seen = math.Max(peak, y), true
			}
		}
		if !seen {
			continue
		}
		maxY = math.Max(maxY, peak)
		step := r.Series.IntervalSeconds * float64(len(l.Values)) / float64(len(pts))
		lines = append(lines, prepared{l, pts, step})
		v.Latest = append(v.Latest, legendView{Label: l.Label, Class: l.Class, Peak: formatNumber(peak)})
	}
	top := niceCeil(maxY * 1.05)
	yOf := func(y float64) float64 { return v.Y1 - (v.Y1-v.Y0)*clamp(y/top, 0, 1) }
	offset := r.Series.Start.Sub(r.StartedAt).Seconds()
	for _, l := range lines {
		v.Paths = append(v.Paths, pathView{Class: l.spec.Class, Label: l.spec.Label,
			D: linePath(l.pts, func(i int) float64 { return xOf(offset + float64(i)*l.step) }, yOf)})
	}
	if len(v.Paths) == 0 {
		v.Empty = true
	}
	for i := 0; i <= 4; i++ {
		y := top * float64(i) / 4
		v.YTicks = append(v.YTicks, tickView{Pos: round1(yOf(y)), Label: formatNumber(y)})
	}
	for _, m := range minuteTicks(total) {
		v.XTicks = append(v.XTicks, tickView{Pos: round1(xOf(m * 60)), Label: strconv.Itoa(int(m)) + "m"})
	}
	if spec.Threshold != nil {
		v.Threshold = &thresholdView{Y: round1(yOf(*spec.Threshold)), Label: spec.ThreshLbl}
	}
	for i := range v.Bands {
		v.Bands[i].X, v.Bands[i].W = round1(v.Bands[i].X), round1(v.Bands[i].W)
	}
	return v
}

// linePath builds an SVG path. NaN lifts the pen, so missing data is drawn as a gap, never
// as zero.
func linePath(pts []float64, xOf func(int) float64, yOf func(float64) float64) string {
	var b strings.Builder
	pen := false
	for i, y := range pts {
		if math.IsNaN(y) || math.IsInf(y, 0) {
			pen = false
			continue
		}
		if pen {
			b.WriteByte('L')
		} else {
			b.WriteByte('M')
		}
		b.WriteString(strconv.FormatFloat(round1(xOf(i)), 'f', -1, 64))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat(round1(yOf(y)), 'f', -1, 64))
		pen = true
	}
	return b.String()
}

// downsample averages v into at most n buckets. A bucket with no values stays NaN, so gaps
// survive; averaging (rather than picking every k-th point) keeps short spikes visible as
// bumps and is honest about what the line shows.
func downsample(v Values, n int) []float64 {
	if len(v) <= n {
		return v
	}
	out := make([]float64, n)
	for i := range out {
		lo, hi := i*len(v)/n, (i+1)*len(v)/n
		sum, cnt := 0.0, 0
		for _, x := range v[lo:hi] {
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				sum += x
				cnt++
			}
		}
		if cnt == 0 {
			out[i] = math.NaN()
		} else {
			out[i] = sum / float64(cnt)
		}
	}
	return out
}

// niceCeil rounds x up to 1, 2, 2.5 or 5 times a power of ten, so axis labels are round.
func niceCeil(x float64) float64 {
	if !(x > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if x <= m*p*1.0000001 {
			return m * p
		}
	}
	return 10 * p
}

// minuteTicks picks x ticks every 1, 2, 5, 10, 15 or 30 minutes so there are at most ~7.
func minuteTicks(totalSec float64) []float64 {
	mins := totalSec / 60
	every := 1.0
	for _, e := range []float64{1, 2, 5, 10, 15, 30, 60, 120} {
		every = e
		if mins/e <= 7 {
			break
		}
	}
	var out []float64
	for m := 0.0; m <= mins+1e-9; m += every {
		out = append(out, m)
	}
	return out
}

// formatNumber prints a number compactly for axes and legends: 1.2k, 0.095, 812.
func formatNumber(x float64) string {
	ax := math.Abs(x)
	switch {
	case math.IsNaN(x):
		return "–"
	case ax >= 1e6:
		return strconv.FormatFloat(math.Round(x/1e5)/10, 'f', -1, 64) + "M"
	case ax >= 1e4:
		return strconv.FormatFloat(math.Round(x/100)/10, 'f', -1, 64) + "k"
	case ax >= 100 || x == math.Trunc(x):
		return strconv.FormatFloat(math.Round(x), 'f', -1, 64)
	case ax >= 1:
		return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64)
	default:
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }
func round1(x float64) float64        { return math.Round(x*10) / 10 }
