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
	// Checks counts the checks (k6's checks metric), when any ran.
	Checks *CheckCounts `json:"checks,omitempty"`
	Trends []NamedTrend `json:"trends"`
	// Custom are the custom metrics (k6/metrics), all their series together, by name.
	Custom     []CustomStats      `json:"custom,omitempty"`
	Errors     map[string]uint64  `json:"errors,omitempty"`
	Scenarios  []ScenarioSnapshot `json:"scenarios"`
	Thresholds []ThresholdResult  `json:"thresholds"`
	Aborted    string             `json:"aborted,omitempty"`
	// AbortedByTest is the reason a scenario gave for aborting the test (k6's test.abort()).
	AbortedByTest string `json:"aborted_by_test,omitempty"`
}

// CheckCounts are a run's checks: how many passed and failed.
type CheckCounts struct {
	Passed uint64 `json:"passed"`
	Failed uint64 `json:"failed"`
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

// WriteText renders the summary in the shape of k6's end-of-test summary.
func (s *Summary) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	if len(s.Thresholds) > 0 {
		fmt.Fprintln(tw, "  THRESHOLDS")
		for _, t := range s.Thresholds {
			mark := "✓"
			if !t.Pass {
				mark = "✗"
			}
			extra := ""
			if t.NoData {
				extra = " (no data)"
			} else if t.FailedAt != "" {
				extra = " (first failed at " + t.FailedAt + ")"
			}
			fmt.Fprintf(tw, "    %s %s\tvalue=%.4g%s\n", mark, t.Source, t.Value, extra)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw, "  TOTAL RESULTS")
	for _, t := range s.Trends {
		fmt.Fprintf(tw, "    %s\t: avg=%s\tmin=%s\tmed=%s\tmax=%s\tp(90)=%s\tp(95)=%s\tp(99)=%s\n", t.Metric,
			ms(t.Avg), ms(t.Min), ms(t.Med), ms(t.Max), ms(t.P90), ms(t.P95), ms(t.P99))
	}
	fmt.Fprintf(tw, "    http_reqs\t: %d\t%.2f/s\n", s.Requests, s.RPS)
	fmt.Fprintf(tw, "    http_req_failed\t: %.2f%%\t%d out of %d\n", 100*s.ErrorRate, s.Failed, s.Requests)
	if len(s.Errors) > 0 {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(s.Errors)) {
			parts = append(parts, fmt.Sprintf("%s=%d", r, s.Errors[r]))
		}
		fmt.Fprintf(tw, "    errors\t: %s\n", strings.Join(parts, " "))
	}
	if c := s.Checks; c != nil {
		fmt.Fprintf(tw, "    checks\t: %.2f%%\t✓ %d ✗ %d\n", 100*float64(c.Passed)/float64(c.Passed+c.Failed), c.Passed, c.Failed)
	}
	fmt.Fprintf(tw, "    iterations\t: %d\tinterrupted=%d\tdropped=%d\n", s.Iterations, s.Interrupted, s.Dropped)
	fmt.Fprintf(tw, "    vus_max\t: %d\n", s.VUsMax)
	fmt.Fprintf(tw, "    data_received\t: %d B\n    data_sent\t: %d B\n", s.DataReceived, s.DataSent)
	if len(s.Custom) > 0 {
		fmt.Fprintln(tw, "\n  CUSTOM METRICS")
		for _, c := range s.Custom {
			fmt.Fprintf(tw, "    %s\t: %s\n", c.Metric, c.line())
		}
	}
	for _, sc := range s.Scenarios {
		if len(sc.Stages) < 2 {
			continue
		}
		fmt.Fprintf(tw, "\n  STAGES (%s)\n", sc.Name)
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
