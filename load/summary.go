package load

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// ParseStages parses the stage list of the command line, "30s:50,1m:50,10s:0": each item is
// DURATION:TARGET. Errors name the offending item and token.
func ParseStages(s string) ([]Stage, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("stages: empty")
	}
	var out []Stage
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		ds, ts, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("stage %q: want DURATION:TARGET", item)
		}
		d, err := time.ParseDuration(ds)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("stage %q: duration %q is not a duration such as 30s or 1m", item, ds)
		}
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("stage %q: target %q is not a whole number >= 0", item, ts)
		}
		out = append(out, Stage{Duration: d, Target: n})
	}
	return out, nil
}

// Summary is the end-of-run report of `ddp-verify load` (summary.json). Latencies are in
// milliseconds.
type Summary struct {
	Schema       string     `json:"schema"`
	StartedAt    time.Time  `json:"started_at"`
	Duration     string     `json:"duration"`
	DurationSec  float64    `json:"duration_seconds"`
	Requests     uint64     `json:"requests"`
	Failed       uint64     `json:"failed"`
	ErrorRate    float64    `json:"error_rate"`
	RPS          float64    `json:"rps"`
	Iterations   uint64     `json:"iterations"`
	Interrupted  uint64     `json:"interrupted"`
	Dropped      uint64     `json:"dropped"`
	VUsMax       int64      `json:"vus_max"`
	DataSent     uint64     `json:"data_sent"`
	DataReceived uint64     `json:"data_received"`
	Latency      TrendStats `json:"http_req_duration"`
	// Checks counts the checks (k6's checks metric), when any ran; CheckList is each check.
	Checks    *CheckCounts `json:"checks,omitempty"`
	CheckList []NamedCheck `json:"check_list,omitempty"`
	Trends    []NamedTrend `json:"trends"`
	// Custom are the custom metrics (k6/metrics), all their series together, by name.
	Custom     []CustomStats      `json:"custom,omitempty"`
	Errors     map[string]uint64  `json:"errors,omitempty"`
	Scenarios  []ScenarioSnapshot `json:"scenarios"`
	Thresholds []ThresholdResult  `json:"thresholds"`
	Aborted    string             `json:"aborted,omitempty"`
	// AbortedByTest is the reason a scenario gave for aborting the test (k6's test.abort()).
	AbortedByTest string `json:"aborted_by_test,omitempty"`
}

// NamedCheck is one check's passes and failures.
type NamedCheck struct {
	Name   string `json:"name"`
	Passed uint64 `json:"passed"`
	Failed uint64 `json:"failed"`
}

// CheckCounts are a run's checks: how many passed and failed.
type CheckCounts struct {
	Passed uint64 `json:"passed"`
	Failed uint64 `json:"failed"`
}

// checkList is each check's passes and failures, in the order they were first recorded.
func checkList(s *Snapshot) []NamedCheck {
	var out []NamedCheck
	for _, se := range s.Series {
		if se.Metric != MetricChecks {
			continue
		}
		name := se.Tags["step"]
		i := slices.IndexFunc(out, func(c NamedCheck) bool { return c.Name == name })
		if i < 0 {
			out = append(out, NamedCheck{Name: name})
			i = len(out) - 1
		}
		out[i].Passed += se.Count - se.Failed
		out[i].Failed += se.Failed
	}
	return out
}

// CustomStats is one custom metric in a [Summary]: its kind and what k6's summary shows of it
// (a counter's total and rate per second; a gauge's last value, min and max; a rate's share
// of non-zero values; a trend's distribution, in ms when IsTime).
type CustomStats struct {
	Metric  string     `json:"metric"`
	Kind    CustomKind `json:"kind"`
	IsTime  bool       `json:"is_time,omitempty"`
	Count   uint64     `json:"count"`
	NonZero uint64     `json:"non_zero,omitempty"`
	Sum     float64    `json:"sum"`
	Rate    float64    `json:"rate"` // counter: sum per second; rate: non-zero share
	Value   float64    `json:"value,omitempty"`
	Min     float64    `json:"min"`
	Max     float64    `json:"max"`
	Avg     float64    `json:"avg,omitempty"`
	Med     float64    `json:"med,omitempty"`
	P90     float64    `json:"p90,omitempty"`
	P95     float64    `json:"p95,omitempty"`
}

// customStats summarises the custom metric name of s.
func customStats(s *Snapshot, name string) CustomStats {
	a, _ := s.Custom(name, nil)
	c := CustomStats{Metric: name, Kind: a.Kind, IsTime: a.IsTime, Count: a.Count, NonZero: a.NonZero, Sum: a.Sum, Value: a.Last, Min: a.Min, Max: a.Max}
	switch a.Kind {
	case CustomCounter:
		c.Rate, _ = a.value("rate", 0, s.Elapsed)
	case CustomRate:
		c.Rate, _ = a.value("rate", 0, s.Elapsed)
	case CustomTrend:
		c.Avg, _ = a.value("avg", 0, s.Elapsed)
		c.Med, c.P90, c.P95 = a.Quantile(50), a.Quantile(90), a.Quantile(95)
	}
	return c
}

// line is the metric's line in k6's summary layout.
func (c CustomStats) line() string {
	num := func(v float64) string {
		if c.IsTime {
			return ms(v)
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	switch c.Kind {
	case CustomCounter:
		return fmt.Sprintf("%s	%.2f/s", num(c.Sum), c.Rate)
	case CustomGauge:
		return fmt.Sprintf("%s	min=%s	max=%s", num(c.Value), num(c.Min), num(c.Max))
	case CustomRate:
		return fmt.Sprintf("%.2f%%	✓ %d ✗ %d", 100*c.Rate, c.NonZero, c.Count-c.NonZero)
	}
	return fmt.Sprintf("avg=%s	min=%s	med=%s	max=%s	p(90)=%s	p(95)=%s", num(c.Avg), num(c.Min), num(c.Med), num(c.Max), num(c.P90), num(c.P95))
}

// NamedTrend is one trend metric (all its series together) in a [Summary].
type NamedTrend struct {
	Metric string `json:"metric"`
	TrendStats
}

// SummarySchema names the JSON layout of [Summary].
const SummarySchema = "ddp-verify/load-summary/v1"

// Unsuccessful says why no request of the run succeeded, or "" when one did: none was sent;
// none got a response (each failed to connect, was reset, timed out: the target was never
// reached), with answered false; or every response was an error status, with answered true.
// The reason counts the requests by error class, most frequent first.
func (s *Summary) Unsuccessful() (reason string, answered bool) {
	switch {
	case s.Requests == 0:
		return "no request was sent", false
	case s.Failed < s.Requests:
		return "", true
	}
	type class struct {
		name string
		n    uint64
	}
	var classes []class
	for name, n := range s.Errors {
		classes = append(classes, class{name, n})
		if name == string(Class4xx) || name == string(Class5xx) {
			answered = true
		}
	}
	slices.SortFunc(classes, func(a, b class) int {
		if a.n != b.n {
			return cmp.Compare(b.n, a.n)
		}
		return strings.Compare(a.name, b.name)
	})
	parts := make([]string, len(classes))
	for i, c := range classes {
		parts[i] = fmt.Sprintf("%d %s", c.n, c.name)
	}
	what := "reached the target"
	if answered {
		what = "succeeded"
	}
	return fmt.Sprintf("none of the %d requests %s (%s)", s.Requests, what, strings.Join(parts, ", ")), answered
}

// Summarize builds the summary of a result.
func Summarize(r *Result) *Summary {
	s := r.Snapshot
	sum := &Summary{Schema: SummarySchema, StartedAt: s.StartedAt, Duration: s.Elapsed.Truncate(time.Millisecond).String(),
		DurationSec: s.Elapsed.Seconds(), VUsMax: s.VUsMax, DataSent: s.DataSent, DataReceived: s.DataReceived,
		Thresholds: r.Thresholds}
	sum.Requests, sum.Failed = s.Requests()
	if sum.Requests > 0 {
		sum.ErrorRate = float64(sum.Failed) / float64(sum.Requests)
	}
	if s.Elapsed > 0 {
		sum.RPS = float64(sum.Requests) / s.Elapsed.Seconds()
	}
	sum.Latency = s.TrendStats(MetricReqDuration, nil)
	if total, failed := s.Rate(MetricChecks, nil); total > 0 {
		sum.Checks = &CheckCounts{Passed: total - failed, Failed: failed}
		sum.CheckList = checkList(s)
	}
	var metrics []string
	for i := range s.Series {
		se := &s.Series[i]
		if se.Hist != nil && !slices.Contains(metrics, se.Metric) {
			metrics = append(metrics, se.Metric)
		}
		for r, n := range se.Reasons {
			if sum.Errors == nil {
				sum.Errors = map[string]uint64{}
			}
			sum.Errors[r] += n
		}
	}
	slices.Sort(metrics)
	for _, m := range metrics {
		sum.Trends = append(sum.Trends, NamedTrend{Metric: m, TrendStats: s.TrendStats(m, nil)})
	}
	for _, m := range s.SortedCustomNames() {
		sum.Custom = append(sum.Custom, customStats(s, m))
	}
	for _, sc := range s.Scenarios {
		sum.Iterations += sc.Iterations
		sum.Interrupted += sc.Interrupted
		sum.Dropped += sc.Dropped
		sc.Stages = slices.Clone(sc.Stages)
		for i := range sc.Stages {
			sc.Stages[i].Hist = nil
		}
		sum.Scenarios = append(sum.Scenarios, sc)
	}
	if r.Aborted != nil {
		sum.Aborted = r.Aborted.Source
	}
	sum.AbortedByTest = r.AbortedByTest
	return sum
}

func ms(v float64) string {
	d := time.Duration(v * float64(time.Millisecond))
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", v)
	}
	return fmt.Sprintf("%.2fµs", v*1000)
}

// WriteText renders the summary in the layout of k6's end-of-test summary: the thresholds by
// metric, then the total results (checks, each check, then the HTTP, execution, network and
// custom metrics, each name dotted out to one column), the stages of staged scenarios, and the
// run's duration.
func (s *Summary) WriteText(w io.Writer) error {
	var lines []summaryLine
	add := func(section, name, value string) { lines = append(lines, summaryLine{section, name, value}) }
	if c := s.Checks; c != nil {
		total := c.Passed + c.Failed
		add("", "checks_total", fmt.Sprintf("%d\t%s/s", total, perSecond(total, s.DurationSec)))
		add("", "checks_succeeded", fmt.Sprintf("%s\t%d out of %d", percent(c.Passed, total), c.Passed, total))
		add("", "checks_failed", fmt.Sprintf("%s\t%d out of %d", percent(c.Failed, total), c.Failed, total))
	}
	for _, t := range s.Trends {
		section := "EXECUTION"
		if strings.HasPrefix(t.Metric, "http_req") {
			section = "HTTP"
		}
		add(section, t.Metric, fmt.Sprintf("avg=%s\tmin=%s\tmed=%s\tmax=%s\tp(90)=%s\tp(95)=%s\tp(99)=%s",
			ms(t.Avg), ms(t.Min), ms(t.Med), ms(t.Max), ms(t.P90), ms(t.P95), ms(t.P99)))
	}
	add("HTTP", "http_req_failed", fmt.Sprintf("%s\t%d out of %d", percent(s.Failed, s.Requests), s.Failed, s.Requests))
	add("HTTP", "http_reqs", fmt.Sprintf("%d\t%s/s", s.Requests, perSecond(s.Requests, s.DurationSec)))
	if len(s.Errors) > 0 {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(s.Errors)) {
			parts = append(parts, fmt.Sprintf("%s=%d", r, s.Errors[r]))
		}
		add("HTTP", "http_req_errors", strings.Join(parts, " "))
	}
	add("EXECUTION", "iterations", fmt.Sprintf("%d\t%s/s\tinterrupted=%d\tdropped=%d", s.Iterations, perSecond(s.Iterations, s.DurationSec), s.Interrupted, s.Dropped))
	add("EXECUTION", "vus_max", fmt.Sprintf("%d", s.VUsMax))
	add("NETWORK", "data_received", fmt.Sprintf("%d B\t%s B/s", s.DataReceived, perSecond(s.DataReceived, s.DurationSec)))
	add("NETWORK", "data_sent", fmt.Sprintf("%d B\t%s B/s", s.DataSent, perSecond(s.DataSent, s.DurationSec)))
	for _, c := range s.Custom {
		add("CUSTOM", c.Metric, c.line())
	}
	rank := map[string]int{"": 0, "HTTP": 1, "EXECUTION": 2, "NETWORK": 3, "CUSTOM": 4}
	slices.SortStableFunc(lines, func(a, b summaryLine) int { return rank[a.section] - rank[b.section] })
	width := 0
	for _, l := range lines {
		width = max(width, len(l.name))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	s.writeThresholds(tw)
	fmt.Fprintln(tw, "  █ TOTAL RESULTS")
	fmt.Fprintln(tw)
	section := "-"
	for i, l := range lines {
		if l.section != section {
			if i > 0 {
				fmt.Fprintln(tw)
			}
			if l.section == "" {
				section = l.section
			} else {
				fmt.Fprintf(tw, "    %s\n", l.section)
				section = l.section
			}
		}
		fmt.Fprintf(tw, "    %s%s: %s\n", l.name, strings.Repeat(".", width+3-len(l.name)), l.value)
		if l.name == "checks_failed" {
			s.writeChecks(tw)
		}
	}
	for _, sc := range s.Scenarios {
		if len(sc.Stages) < 2 {
			continue
		}
		fmt.Fprintf(tw, "\n  █ STAGES (%s)\n\n", sc.Name)
		for _, st := range sc.Stages {
			fmt.Fprintf(tw, "    #%d until %s\t: reqs=%d\tfailed=%d\tp50=%s\tp95=%s\tp99=%s\n", st.Index, st.End, st.Requests, st.Failed, ms(st.P50), ms(st.P95), ms(st.P99))
		}
	}
	fmt.Fprintf(tw, "\n  duration %s", s.Duration)
	if s.Aborted != "" {
		fmt.Fprintf(tw, ", aborted by threshold %s", s.Aborted)
	}
	if s.AbortedByTest != "" {
		fmt.Fprintf(tw, ", %s", s.AbortedByTest)
	}
	fmt.Fprintln(tw)
	return tw.Flush()
}

// summaryLine is one metric's line of the summary, in its section.
type summaryLine struct{ section, name, value string }

// writeThresholds lists the thresholds under their metric, k6's way: ✓ or ✗, the expression
// and the value it was judged on.
func (s *Summary) writeThresholds(w io.Writer) {
	if len(s.Thresholds) == 0 {
		return
	}
	fmt.Fprintln(w, "  █ THRESHOLDS")
	metric := ""
	for _, t := range s.Thresholds {
		key, expr, _ := strings.Cut(t.Source, ": ")
		if key != metric {
			fmt.Fprintf(w, "\n    %s\n", key)
			metric = key
		}
		mark, extra := "✓", ""
		if !t.Pass {
			mark = "✗"
		}
		switch {
		case t.NoData:
			extra = " (no data)"
		case t.FailedAt != "":
			extra = " (first failed at " + t.FailedAt + ")"
		}
		agg, _, _ := strings.Cut(expr, "<")
		agg, _, _ = strings.Cut(agg, ">")
		agg, _, _ = strings.Cut(agg, "=")
		agg, _, _ = strings.Cut(agg, "!")
		fmt.Fprintf(w, "    %s '%s' %s=%.4g%s\n", mark, expr, strings.TrimSpace(agg), t.Value, extra)
	}
	fmt.Fprintln(w)
}

// writeChecks lists each check: ✓ when every run passed, else ✗ with its share of passes.
func (s *Summary) writeChecks(w io.Writer) {
	if len(s.CheckList) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, c := range s.CheckList {
		if c.Failed == 0 {
			fmt.Fprintf(w, "    ✓ %s\n", c.Name)
			continue
		}
		fmt.Fprintf(w, "    ✗ %s\n      ↳  %s — ✓ %d / ✗ %d\n", c.Name, percent(c.Passed, c.Passed+c.Failed), c.Passed, c.Failed)
	}
}

func percent(n, total uint64) string {
	if total == 0 {
		return "0.00%"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(total))
}

func perSecond(n uint64, seconds float64) string {
	if seconds <= 0 {
		return "0"
	}
	return strconv.FormatFloat(float64(n)/seconds, 'f', 2, 64)
}
