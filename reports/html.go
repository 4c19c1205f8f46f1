package reports

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/verdict"
)

//go:embed templates
var templateFS embed.FS

// The template is parsed once; html/template makes it safe for concurrent use.
var reportTemplate = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"css": func() template.CSS { return template.CSS(mustAsset("templates/report.css")) },
	"js":  func() template.JS { return template.JS(mustAsset("templates/report.js")) },
	"add": func(a, b float64) float64 { return a + b },
	"sub": func(a, b float64) float64 { return a - b },
	"div": func(a, b float64) float64 { return a / b },
	"deref": func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	},
}).ParseFS(templateFS, "templates/report.html.tmpl"))

func mustAsset(name string) string {
	b, err := templateFS.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time; a missing asset is a build bug
	}
	return string(b)
}

// WriteHTML renders the self-contained report.html: inline CSS, JS and SVG, no external
// requests, and a Content-Security-Policy that would block any that slipped in.
func WriteHTML(w io.Writer, r *Run) error {
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, newHTMLView(r)); err != nil {
		return fmt.Errorf("render report.html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

type htmlView struct {
	Run          *Run
	VerdictClass string
	Duration     string
	Started      string
	Counts       []countView
	Figures      []figureView
	SLOs         []sloView
	Timeline     timelineView
	Charts       []chartView
	Chaos        []chaosView
	Steps        []statsRow
	Stages       []statsRow
	Total        statsRow
	Versions     []kv
	Config       string
}

type countView struct {
	Label, Class string
	N            int
}

type figureView struct {
	Label, Value, Note, Class string
}

type sloView struct {
	Status, StatusText, StatusClass  string
	Name, ID, Window, WindowRange    string
	Value, Threshold, Warning, Basel string
	Samples                          string
	Key                              bool
	Weight                           string
	Query                            string
	Evidence, Warnings               []string
	Error                            string
	Interval, LowConfidence          string
}

type chaosView struct {
	Fault, Kind, Targets, Planned, Injected, Recovered, Undo, Service, Error string
	// BackendInjected and BackendRecovered are the backend's own times, when it gave them.
	BackendInjected, BackendRecovered string
	Failed                            bool
}

type statsRow struct {
	Name, Sub                            string
	Count, Rate, Failures, ErrRate       string
	Avg, P50, P90, P95, P99, Max, SvcP95 string
	ErrClass                             string
}

type kv struct{ K, V string }

func newHTMLView(r *Run) htmlView {
	v := htmlView{
		Run:          r,
		VerdictClass: verdictClass(r.Verdict),
		Duration:     formatDuration(r.Duration()),
		Started:      r.StartedAt.UTC().Format("2006-01-02 15:04:05 MST"),
		Counts:       statusCounts(r.SLOs),
		Figures:      keyFigures(r),
		Timeline:     layoutTimeline(r),
		Total:        newStatsRow("all requests", "", r.Load.Total),
	}
	for _, s := range sortedSLOs(r.SLOs) {
		v.SLOs = append(v.SLOs, newSLOView(r, s))
	}
	for _, spec := range chartSpecs(r) {
		v.Charts = append(v.Charts, layoutChart(r, spec))
	}
	for _, c := range r.Chaos {
		v.Chaos = append(v.Chaos, newChaosView(r, c))
	}
	for _, s := range r.Load.Steps {
		v.Steps = append(v.Steps, newStatsRow(s.Step, s.Scenario, s.Stats))
	}
	for _, s := range r.Load.Stages {
		v.Stages = append(v.Stages, newStatsRow(s.Stage, fmt.Sprintf("%s–%s, %d VUs", offset(r, s.Start), offset(r, s.End), s.TargetVUs), s.Stats))
	}
	keys := make([]string, 0, len(r.Versions))
	for k := range r.Versions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.Versions = append(v.Versions, kv{k, r.Versions[k]})
	}
	v.Config = prettyJSON(r.Config)
	return v
}

func verdictClass(v verdict.Verdict) string {
	switch v {
	case verdict.Go:
		return "go"
	case verdict.NoGo:
		return "nogo"
	default:
		return "aborted"
	}
}

// statusText is how a status reads in the report; NO_DATA is spelt out so it is never
// mistaken for a measured failure.
func statusText(s verdict.Status) string {
	switch s {
	case verdict.NoData:
		return "NO DATA"
	case verdict.NoBaseline:
		return "NO BASELINE"
	}
	return string(s)
}

func statusClass(s verdict.Status) string {
	return "st-" + strings.ToLower(strings.ReplaceAll(string(s), "_", ""))
}

// statusCounts counts objectives per status, worst first, omitting statuses with none.
func statusCounts(slos []verdict.Objective) []countView {
	order := []verdict.Status{verdict.Fail, verdict.Error, verdict.NoData, verdict.Inconclusive, verdict.Warn, verdict.NoBaseline, verdict.Pass}
	var out []countView
	for _, st := range order {
		n := 0
		for _, s := range slos {
			if s.Status == st {
				n++
			}
		}
		if n > 0 {
			out = append(out, countView{Label: statusText(st), Class: statusClass(st), N: n})
		}
	}
	return out
}

// sortedSLOs puts the objectives that decide a NO-GO first, keeping the evaluation order
// among equals, so the reviewer reads the reasons before the passes.
func sortedSLOs(in []verdict.Objective) []verdict.Objective {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b verdict.Objective) int { return b.Status.Severity() - a.Status.Severity() })
	return out
}

func newSLOView(r *Run, s verdict.Objective) sloView {
	v := sloView{
		Status: string(s.Status), StatusText: statusText(s.Status), StatusClass: statusClass(s.Status),
		Name: s.Name(), ID: s.ID, Window: s.Window, Key: s.Key, Query: s.Query, Error: s.Error,
		Samples:   samplesText(s),
		Weight:    formatNumber(s.Weight),
		Value:     "—",
		Threshold: s.Op + " " + formatValue(s.Objective, s.Unit),
		Warnings:  s.Warnings,
	}
	if !s.WindowStart.IsZero() {
		v.WindowRange = offset(r, s.WindowStart) + "–" + offset(r, s.WindowEnd)
	}
	if s.Value != nil {
		v.Value = formatValue(*s.Value, s.Unit)
	}
	if s.Warning != nil {
		v.Warning = "warn beyond " + formatValue(*s.Warning, s.Unit)
	}
	if s.Baseline != nil {
		v.Basel = formatValue(*s.Baseline, s.Unit)
	}
	for _, e := range s.Evidence {
		v.Evidence = append(v.Evidence, e.Label+": "+formatValue(e.Value, e.Unit))
	}
	v.Interval, v.LowConfidence = intervalText(s), lowConfidenceText(s)
	return v
}

// formatValue prints a value in the unit a reviewer thinks in: latencies in ms, ratios as
// percentages, realtime factors with "x".
func formatValue(x float64, unit string) string {
	switch unit {
	case "s":
		if math.Abs(x) < 1 {
			return strconv.FormatFloat(round1(x*1000), 'f', -1, 64) + " ms"
		}
		return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64) + " s"
	case "ms":
		return strconv.FormatFloat(round1(x), 'f', -1, 64) + " ms"
	case "ratio":
		return strconv.FormatFloat(math.Round(x*1e4)/100, 'f', -1, 64) + " %"
	case "%":
		return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64) + " %"
	case "x":
		return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64) + "x"
	case "USD":
		return "$" + strconv.FormatFloat(x, 'g', 3, 64)
	case "":
		return formatNumber(x)
	}
	return formatNumber(x) + " " + unit
}

func keyFigures(r *Run) []figureView {
	var out []figureView
	t := r.Load.Total
	out = append(out, figureView{Label: "requests", Value: formatNumber(float64(t.Count)), Note: formatNumber(t.RPS) + " req/s average"})
	out = append(out, figureView{Label: "p95 response (all steps)", Value: formatValue(t.Response.P95, "ms"), Note: "p99 " + formatValue(t.Response.P99, "ms")})
	errClass := ""
	if t.ErrorRate >= 0.01 {
		errClass = "bad"
	}
	out = append(out, figureView{Label: "error rate", Value: formatValue(t.ErrorRate, "ratio"), Note: formatNumber(float64(t.Failures)) + " failed", Class: errClass})
	if total, ok := r.Load.BackoffTotal(); ok {
		text, _ := backoffText(r.Load)
		class := "good"
		if total.Count > 0 {
			class = "bad"
		}
		out = append(out, figureView{Label: "user backoffs", Value: formatNumber(float64(total.Count)), Note: text, Class: class})
	}
	vid := r.Videos
	missing := vid.Lost + vid.Unfinished + vid.Failed
	vidClass := "good"
	if missing > 0 {
		vidClass = "bad"
	}
	out = append(out, figureView{Label: "videos not processed", Value: strconv.FormatInt(missing, 10), Class: vidClass, Note: vid.Summary()})
	if len(r.Chaos) > 0 {
		out = append(out, slowestRecovery(r.Chaos))
	}
	c := r.Cost
	perVideo := "no videos"
	if c.PerVideo != nil {
		perVideo = "$" + strconv.FormatFloat(*c.PerVideo, 'f', 4, 64) + " per video"
	}
	costClass := ""
	if c.MonthlyBudget > 0 && c.ProjectedMonthly > c.MonthlyBudget {
		costClass = "bad"
	}
	if c.Unknown != "" {
		return append(out, figureView{Label: "projected monthly cost", Value: "unknown", Class: "bad", Note: c.Unknown})
	}
	out = append(out, figureView{Label: "projected monthly cost", Value: money(c.ProjectedMonthly), Class: costClass,
		Note: "budget " + money(c.MonthlyBudget) + " · " + perVideo})
	return out
}

// slowestRecovery is the key figure of the faults: the slowest service recovery, or "not
// recovered" when the service never was after one of them.
func slowestRecovery(chaos []ChaosResult) figureView {
	worst, never := 0.0, false
	for _, c := range chaos {
		if c.ServiceRecoverySeconds == nil {
			never = true
			continue
		}
		worst = math.Max(worst, *c.ServiceRecoverySeconds)
	}
	f := figureView{Label: "slowest service recovery", Value: formatValue(worst, "s"), Note: fmt.Sprintf("%d faults injected", len(chaos))}
	if never {
		f.Value, f.Class = "not recovered", "bad"
	}
	return f
}

func money(x float64) string {
	s := strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	// Thousands separators make budgets readable at a glance.
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return "$" + b.String()
}

func chartSpecs(r *Run) []chartSpec {
	s := r.Series
	var p95Obj, ratioObj *float64
	p95Lbl, ratioLbl := "", ""
	for _, o := range r.SLOs {
		if o.ID == "api-latency-p95" && o.Unit == "s" && p95Obj == nil {
			p95Obj, p95Lbl = ptrTo(o.Objective*1000), "objective "+formatValue(o.Objective, "s")
		}
		if o.ID == "video-realtime-ratio" && ratioObj == nil {
			ratioObj, ratioLbl = ptrTo(o.Objective), "objective "+formatValue(o.Objective, o.Unit)
		}
	}
	var budgetPerHour *float64
	budgetLbl := ""
	if r.Cost.MonthlyBudget > 0 {
		// 730 hours is the average month that cloud price sheets use.
		budgetPerHour, budgetLbl = ptrTo(r.Cost.MonthlyBudget/730), "budget "+money(r.Cost.MonthlyBudget)+"/month"
	}
	return []chartSpec{
		{ID: "latency", Title: "API latency", Unit: "ms", Threshold: p95Obj, ThreshLbl: p95Lbl, Lines: []lineSpec{
			{"p50", "l1", s.LatencyP50MS}, {"p95", "l2", s.LatencyP95MS}, {"p99", "l3", s.LatencyP99MS}}},
		{ID: "rps", Title: "Requests per second", Unit: "req/s", Lines: []lineSpec{{"requests/s", "l1", s.RPS}}},
		{ID: "errors", Title: "Errors per second", Unit: "err/s", Lines: []lineSpec{{"errors/s", "l3", s.ErrorsPerSecond}}},
		{ID: "users", Title: "Active virtual users", Unit: "VUs", Lines: []lineSpec{{"active users", "l1", s.ActiveUsers}}},
		{ID: "realtime", Title: "Video processing time / media length", Unit: "x realtime", Threshold: ratioObj, ThreshLbl: ratioLbl, Lines: []lineSpec{{"realtime ratio", "l2", s.RealtimeRatio}}},
		{ID: "queue", Title: "Video queue depth", Unit: "jobs", Lines: []lineSpec{{"queued", "l1", s.QueueDepth}}},
		{ID: "gpu", Title: "GPU slots", Unit: "slots", Lines: []lineSpec{{"in use", "l2", s.GPUSlotsInUse}, {"available", "l4", s.GPUSlotsTotal}}},
		{ID: "cost", Title: "Infrastructure cost per hour", Unit: "USD/h", Threshold: budgetPerHour, ThreshLbl: budgetLbl, Lines: []lineSpec{{"cost/hour", "l1", s.CostPerHour}}},
	}
}

func ptrTo(x float64) *float64 { return &x }

func newChaosView(r *Run, c ChaosResult) chaosView {
	v := chaosView{Fault: c.Fault, Kind: c.Kind, Targets: strings.Join(c.Targets, ", "), Error: c.Error,
		Planned: "—", Injected: "not injected", Recovered: "not undone", Undo: "—", Service: "not recovered"}
	if c.Mode != "" {
		v.Kind += " (" + c.Mode + ")"
	}
	if c.PlannedAt != nil {
		v.Planned = offset(r, *c.PlannedAt)
	}
	if c.InjectedAt != nil {
		v.Injected = offset(r, *c.InjectedAt)
	}
	if c.BackendInjectedAt != nil {
		v.BackendInjected = offset(r, *c.BackendInjectedAt)
	}
	if c.RecoveredAt != nil {
		v.Recovered = offset(r, *c.RecoveredAt)
	}
	if c.BackendRecoveredAt != nil {
		v.BackendRecovered = offset(r, *c.BackendRecoveredAt)
	}
	if c.UndoSeconds != nil {
		v.Undo = formatValue(*c.UndoSeconds, "s")
	}
	if c.ServiceRecoverySeconds != nil {
		v.Service = formatValue(*c.ServiceRecoverySeconds, "s")
	}
	v.Failed = !c.Confirmed() || c.ServiceRecoverySeconds == nil
	return v
}

func newStatsRow(name, sub string, s Stats) statsRow {
	ms := func(x float64) string { return strconv.FormatFloat(round1(x), 'f', -1, 64) }
	row := statsRow{
		Name: name, Sub: sub,
		Count: formatNumber(float64(s.Count)), Rate: strconv.FormatFloat(round1(s.RPS), 'f', -1, 64) + "/s",
		Failures: strconv.FormatInt(s.Failures, 10), ErrRate: formatValue(s.ErrorRate, "ratio"),
		Avg: ms(s.Response.Avg), P50: ms(s.Response.P50), P90: ms(s.Response.P90), P95: ms(s.Response.P95),
		P99: ms(s.Response.P99), Max: ms(s.Response.Max), SvcP95: ms(s.Service.P95),
	}
	if s.ErrorRate >= 0.01 {
		row.ErrClass = "bad"
	}
	return row
}

// offset prints a time as minutes:seconds since the run started, which is how the timeline
// and the profile talk about time.
func offset(r *Run, t time.Time) string {
	d := t.Sub(r.StartedAt)
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%s%d:%02d", sign, int(d/time.Minute), int(d%time.Minute/time.Second))
}

func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "(not recorded)"
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// timelineView is the full-width chart of stages, evaluation windows and faults.
type timelineView struct {
	W, H, X0, X1 float64
	Rows         []timelineRow
	XTicks       []tickView
}

type timelineRow struct {
	Label string
	Y     float64
	Bars  []bandView
}

func layoutTimeline(r *Run) timelineView {
	v := timelineView{W: timelineW, X0: 90, X1: timelineW - 10}
	total := math.Max(r.Duration().Seconds(), 1)
	xOf := func(t time.Time) float64 {
		return round1(v.X0 + (v.X1-v.X0)*clamp(t.Sub(r.StartedAt).Seconds()/total, 0, 1))
	}
	bar := func(from, to time.Time, class, label string) bandView {
		x := xOf(from)
		w := math.Max(xOf(to)-x, 2)
		title := label
		// Only label bars wide enough to hold the text at 11px.
		if float64(len([]rune(label)))*6.2 > w {
			label = ""
		}
		return bandView{X: x, W: round1(w), Class: class, Label: label, Title: title}
	}
	var stages, windows, faults, alerts timelineRow
	stages.Label, windows.Label, faults.Label, alerts.Label = "load stages", "SLO windows", "faults", "alerts"
	i := 0
	for _, e := range r.Timeline {
		switch e.Kind {
		case EventStage:
			stages.Bars = append(stages.Bars, bar(e.Start, e.End, "tl-stage tl-stage"+strconv.Itoa(i%2), e.Name))
			i++
		case EventWindow:
			windows.Bars = append(windows.Bars, bar(e.Start, e.End, "tl-window", e.Name))
		case EventAlert:
			class := "tl-alert"
			if strings.Contains(e.Detail, "severity=critical") {
				class += " tl-critical"
			}
			alerts.Bars = append(alerts.Bars, bar(e.Start, e.End, class, e.Name+routedText(e)))
		}
	}
	for _, c := range r.Chaos {
		if c.InjectedAt == nil {
			continue
		}
		end, class := r.EndedAt, "tl-fault tl-unrecovered"
		if c.RecoveredAt != nil {
			end, class = *c.RecoveredAt, "tl-fault"
		}
		b := bar(*c.InjectedAt, end, class, c.Fault)
		b.Label = c.Fault // placed by labelOutside below when it does not fit inside
		faults.Bars = append(faults.Bars, b)
	}
	labelOutside(faults.Bars, 6.2, v.X1)
	y := 6.0
	for _, row := range []timelineRow{stages, windows, faults, alerts} {
		if len(row.Bars) == 0 {
			continue
		}
		row.Y = y
		v.Rows = append(v.Rows, row)
		y += timelineRowH + 4
	}
	v.H = y + 18
	for _, m := range minuteTicks(total) {
		v.XTicks = append(v.XTicks, tickView{Pos: round1(v.X0 + (v.X1-v.X0)*m*60/total), Label: strconv.Itoa(int(m)) + "m"})
	}
	return v
}

// labelOutside keeps each bar's label when it fits between the bar's start and the next
// bar (a label may run past a short bar into the gap), shortens it to its first word when
// that fits, and drops it otherwise (the SVG title still names it). Fault windows are short,
// and an unlabelled red bar explains nothing.
func labelOutside(bars []bandView, charW, right float64) {
	for i := range bars {
		limit := right
		if i+1 < len(bars) {
			limit = bars[i+1].X
		}
		room := limit - bars[i].X - 8
		width := func(s string) float64 { return float64(len([]rune(s))) * charW }
		if width(bars[i].Label) <= room {
			continue
		}
		if first, _, ok := strings.Cut(bars[i].Label, "-"); ok && width(first) <= room {
			bars[i].Label = first
			continue
		}
		bars[i].Label = ""
	}
}

// samplesText shows the sample count, or "—" for an objective that has a value but declares no
// sample query: "0 samples" beside a value would read as a contradiction.
func samplesText(s verdict.Objective) string {
	if !s.HasSampleCount() {
		return "—"
	}
	return strconv.FormatInt(s.SampleCount, 10)
}
