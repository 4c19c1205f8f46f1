package load

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Threshold is a pass/fail criterion on a metric, in k6's syntax: a metric with optional tag
// filters (a sub-metric such as http_req_duration{step:login}) and an expression such as
// p(95)<100. Beyond k6, an expression may end in "over D" (p(95)<100 over 1m): it must then hold
// in every window of length D (sliding by one second), not only over the whole run.
//
// Values of trend thresholds are milliseconds, as in k6, except for metrics whose name ends in
// "_seconds", which compare in seconds. A trend or rate threshold on a metric without samples
// fails (missing data never passes); counters without samples count 0.
type Threshold struct {
	Source string // the text it was parsed from
	Metric string
	Filter Filter
	Agg    string  // avg, min, max, med, count, rate, value or p
	P      float64 // the percentile for Agg "p"
	Op     string  // <, <=, >, >=, ==, ===, !=
	Value  float64
	Window time.Duration // "over D", at most MaxThresholdWindow; zero means the whole run
	// AbortOnFail stops the run as soon as the threshold fails (evaluated every second),
	// but not before DelayAbortEval has elapsed.
	AbortOnFail    bool
	DelayAbortEval time.Duration
}

// ThresholdResult is a threshold's outcome.
type ThresholdResult struct {
	Source string  `json:"threshold"`
	Metric string  `json:"metric"`
	Value  float64 `json:"value"` // for windowed thresholds, the worst window
	Pass   bool    `json:"pass"`
	NoData bool    `json:"no_data,omitempty"`
	// FailedAt is the offset (from the run's start) of the first failing window's end, or
	// when an abortOnFail threshold failed.
	FailedAt string `json:"failed_at,omitempty"`
}

// ParseError is a threshold syntax error; Token is the offending token.
type ParseError struct {
	Input, Token, Msg string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("threshold %q: %s %q", e.Input, e.Msg, e.Token)
}

// ParseThreshold parses k6's pair of a metric key (name with optional {tag:value,...}) and an
// expression. Errors are *[ParseError] naming the offending token.
func ParseThreshold(metric, expr string) (Threshold, error) {
	t := Threshold{Source: strings.TrimSpace(metric) + ": " + strings.TrimSpace(expr)}
	if err := parseMetricKey(&t, metric); err != nil {
		return Threshold{}, err
	}
	if err := parseExpr(&t, expr); err != nil {
		return Threshold{}, err
	}
	return t, nil
}

// ParseThresholdSpec parses the command-line form
//
//	METRIC[{tag:value,...}]:EXPR[ over D][,abortOnFail][,delayAbortEval=D]
//
// for example "http_req_duration{step:login}:p(95)<100 over 1m,abortOnFail".
func ParseThresholdSpec(spec string) (Threshold, error) {
	depth, colon := 0, -1
	for i, r := range spec {
		switch r {
		case '{':
			depth++
		case '}':
			depth--
		case ':':
			if depth == 0 && colon < 0 {
				colon = i
			}
		}
	}
	if colon < 0 {
		return Threshold{}, &ParseError{Input: spec, Token: spec, Msg: "want METRIC:EXPRESSION, no metric in"}
	}
	parts := strings.Split(spec[colon+1:], ",")
	t, err := ParseThreshold(spec[:colon], parts[0])
	if err != nil {
		return Threshold{}, err
	}
	for _, opt := range parts[1:] {
		opt = strings.TrimSpace(opt)
		switch {
		case opt == "abortOnFail":
			t.AbortOnFail = true
		case strings.HasPrefix(opt, "delayAbortEval="):
			v := strings.TrimPrefix(opt, "delayAbortEval=")
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return Threshold{}, &ParseError{Input: spec, Token: v, Msg: "invalid delayAbortEval duration"}
			}
			t.DelayAbortEval = d
		default:
			return Threshold{}, &ParseError{Input: spec, Token: opt, Msg: "unknown option (want abortOnFail or delayAbortEval=D)"}
		}
	}
	t.Source = strings.TrimSpace(spec)
	return t, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

func parseMetricKey(t *Threshold, key string) error {
	key = strings.TrimSpace(key)
	name, tags, hasTags := strings.Cut(key, "{")
	name = strings.TrimSpace(name)
	if !isIdent(name) {
		return &ParseError{Input: key, Token: name, Msg: "invalid metric name"}
	}
	t.Metric = name
	if !hasTags {
		return nil
	}
	if !strings.HasSuffix(tags, "}") {
		return &ParseError{Input: key, Token: "{" + tags, Msg: "unclosed tag filter"}
	}
	tags = strings.TrimSuffix(tags, "}")
	t.Filter = Filter{}
	for kv := range strings.SplitSeq(tags, ",") {
		k, v, ok := strings.Cut(kv, ":")
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		if !ok || !isIdent(k) || v == "" {
			return &ParseError{Input: key, Token: strings.TrimSpace(kv), Msg: "invalid tag filter (want name:value)"}
		}
		t.Filter[k] = v
	}
	return nil
}

// ops longest first, so "<=" is not read as "<".
var ops = []string{"===", "==", "!=", "<=", ">=", "<", ">"}

func parseExpr(t *Threshold, expr string) error {
	in := expr
	s := strings.TrimLeft(expr, " \t")
	fail := func(tok, msg string) error { return &ParseError{Input: in, Token: tok, Msg: msg} }
	// aggregation
	i := 0
	for i < len(s) && unicode.IsLetter(rune(s[i])) {
		i++
	}
	agg := s[:i]
	s = s[i:]
	switch agg {
	case "avg", "min", "max", "med", "count", "rate", "value":
	case "p":
		if !strings.HasPrefix(s, "(") {
			return fail(agg+firstToken(s), "want p(N), got")
		}
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return fail(agg+s, "unclosed percentile")
		}
		num := strings.TrimSpace(s[1:end])
		p, err := strconv.ParseFloat(num, 64)
		if err != nil || p < 0 || p > 100 || math.IsNaN(p) {
			return fail(num, "invalid percentile (want 0..100)")
		}
		t.P = p
		s = s[end+1:]
	default:
		tok := agg + firstToken(s)
		if agg == "" {
			tok = firstToken(s)
		}
		return fail(tok, "unknown aggregation (want avg, min, max, med, count, rate, value or p(N)), got")
	}
	t.Agg = agg
	s = strings.TrimLeft(s, " \t")
	t.Op = ""
	for _, op := range ops {
		if strings.HasPrefix(s, op) {
			t.Op = op
			break
		}
	}
	if t.Op == "" {
		if s == "" {
			return fail(expr, "missing operator and value in")
		}
		return fail(firstToken(s), "want an operator (<, <=, >, >=, ==, !=), got")
	}
	s = strings.TrimLeft(s[len(t.Op):], " \t")
	num := firstToken(s)
	if num == "" {
		return fail(expr, "missing value in")
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fail(num, "invalid number")
	}
	t.Value = v
	s = strings.TrimLeft(s[len(num):], " \t")
	if s == "" {
		return nil
	}
	kw := firstToken(s)
	if kw != "over" {
		return fail(kw, "unexpected")
	}
	s = strings.TrimLeft(s[len(kw):], " \t")
	ds := firstToken(s)
	d, err := time.ParseDuration(ds)
	if err != nil || d < time.Second || d%time.Second != 0 {
		if ds == "" {
			ds = expr
		}
		return fail(ds, "invalid window (want whole seconds, e.g. 30s or 1m)")
	}
	if d > MaxThresholdWindow {
		return fail(ds, fmt.Sprintf("window longer than %s (a threshold without \"over\" is judged over the whole run)", MaxThresholdWindow))
	}
	t.Window = d
	if rest := strings.TrimSpace(s[len(ds):]); rest != "" {
		return fail(firstToken(rest), "unexpected")
	}
	if t.Agg == "value" {
		return fail("value", "windowed thresholds need a trend, rate or count aggregation, got")
	}
	return nil
}

func firstToken(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i]
	}
	return s
}

// sourceMetric maps a threshold metric to the series that carries its samples.
func sourceMetric(m string) string {
	switch m {
	case MetricReqs, MetricReqFailed:
		return MetricReqDuration
	case MetricIterations:
		return MetricIterDuration
	}
	return m
}

func isCounter(m string) bool {
	switch m {
	case MetricReqs, MetricIterations, MetricIterInterrupted, MetricIterFailed, MetricDroppedIterations, MetricDataSent, MetricDataReceived:
		return true
	}
	return false
}

func compare(v float64, op string, want float64) bool {
	switch op {
	case "<":
		return v < want
	case "<=":
		return v <= want
	case ">":
		return v > want
	case ">=":
		return v >= want
	case "==", "===":
		return v == want
	case "!=":
		return v != want
	}
	return false
}

// trendValue turns an aggregation of an HDR histogram (µs) into the threshold's unit.
func (t *Threshold) trendValue(h *hdr.Histogram, count uint64, sumNs int64) float64 {
	unit := 1000.0 // µs per ms
	if strings.HasSuffix(t.Metric, "_seconds") {
		unit = 1e6
	}
	switch t.Agg {
	case "avg":
		return float64(sumNs) / float64(count) / 1000 / unit
	case "min":
		return float64(h.Min()) / unit
	case "max", "value":
		return float64(h.Max()) / unit
	case "med":
		return float64(h.ValueAtQuantile(50)) / unit
	case "p":
		return float64(h.ValueAtQuantile(t.P)) / unit
	case "count":
		return float64(count)
	}
	return math.NaN()
}

// rateValue is the fraction of "true" samples: failed requests for http_req_failed, passed
// checks for checks (as in k6).
func (t *Threshold) rateValue(total, failed uint64) float64 {
	if t.Metric == MetricChecks {
		return float64(total-failed) / float64(total)
	}
	return float64(failed) / float64(total)
}

// Evaluate computes the threshold over a whole snapshot (windowed thresholds are evaluated
// by the engine while it runs; here they are treated as whole-run).
func (t *Threshold) Evaluate(s *Snapshot) ThresholdResult {
	r := ThresholdResult{Source: t.Source, Metric: t.Metric}
	if a, ok := s.Custom(t.Metric, t.Filter); ok {
		v, has := a.value(t.Agg, t.P, s.Elapsed)
		if !has {
			r.NoData = true
			return r
		}
		r.Value = v
		r.Pass = compare(r.Value, t.Op, t.Value)
		return r
	}
	switch {
	case isCounter(t.Metric):
		n := s.Counter(t.Metric, t.Filter)
		r.Value = n
		if t.Agg == "rate" {
			r.Value = n / math.Max(s.Elapsed.Seconds(), 1e-9)
		}
	case t.Metric == MetricReqFailed || t.Metric == MetricChecks:
		total, failed := s.Rate(t.Metric, t.Filter)
		if total == 0 {
			r.NoData = true
			return r
		}
		r.Value = t.rateValue(total, failed)
		if t.Agg == "count" {
			r.Value = float64(total)
		}
	default:
		h, n, sum := s.Trend(sourceMetric(t.Metric), t.Filter)
		if n == 0 {
			r.NoData = true
			return r
		}
		r.Value = t.trendValue(h, n, sum)
	}
	r.Pass = compare(r.Value, t.Op, t.Value)
	return r
}

// MaxThresholdWindow bounds "over D": a windowed threshold keeps one slot per second of its
// window (for trends, each with its own histogram as the seconds fill) and merges them every
// second, so a window of a million hours used to ask for more memory than any machine has
// before the first request.
const MaxThresholdWindow = time.Hour

// windowSink collects one windowed threshold's samples per second.
type windowSink struct {
	th    Threshold
	src   string
	trend bool
	slots []windowSlot
}

type windowSlot struct {
	sec           int64
	hist          *hdr.Histogram
	count, failed uint64
	n             int64
	sumNs         int64
}

// newWindowSink returns a sink whose ring holds the window, the seconds still open and spare
// more seconds (a coordinator's sinks hold the seconds by which its generators differ).
func newWindowSink(t Threshold, spare int) *windowSink {
	w := &windowSink{th: t, src: sourceMetric(t.Metric)}
	w.trend = !isCounter(t.Metric) && t.Metric != MetricReqFailed && t.Metric != MetricChecks
	w.slots = make([]windowSlot, int(t.Window/time.Second)+closeLag+2+spare)
	for i := range w.slots {
		w.slots[i].sec = -1
	}
	return w
}

func (w *windowSink) matches(k seriesKey) bool {
	return k.Metric == w.src && w.th.Filter.match(k.tags())
}

func (w *windowSink) slot(sec int64) *windowSlot {
	s := &w.slots[sec%int64(len(w.slots))]
	if s.sec != sec {
		if s.sec > sec {
			return nil // too late
		}
		*s = windowSlot{sec: sec, hist: s.hist}
		if w.trend {
			if s.hist == nil {
				s.hist = newHist()
			}
			s.hist.Reset()
		}
	}
	return s
}

func (w *windowSink) add(sec, us int64, failed bool) {
	if s := w.slot(sec); s != nil {
		s.count++
		s.sumNs += us * 1000
		if failed {
			s.failed++
		}
		if s.hist != nil {
			_ = s.hist.RecordValue(us)
		}
	}
}

func (w *windowSink) addN(sec, n int64) {
	if s := w.slot(sec); s != nil {
		s.n += n
		s.count++
	}
}

// addSecond adds one generator's second; false when the ring has moved past it.
func (w *windowSink) addSecond(ws WindowSecond) bool {
	s := w.slot(ws.Second)
	if s == nil {
		return false
	}
	s.count += ws.Count
	s.failed += ws.Failed
	s.n += ws.N
	s.sumNs += ws.SumNs
	if s.hist != nil && len(ws.Hist) > 0 {
		s.hist.Merge(decode(ws.Hist))
	}
	return true
}

// second returns the slot of sec as a WindowSecond of threshold i, if the ring still holds it.
func (w *windowSink) second(i int, sec int64) (WindowSecond, bool) {
	s := &w.slots[sec%int64(len(w.slots))]
	if s.sec != sec {
		return WindowSecond{}, false
	}
	ws := WindowSecond{Threshold: i, Second: sec, Count: s.count, Failed: s.failed, N: s.n, SumNs: s.sumNs}
	if s.hist != nil && s.hist.TotalCount() > 0 {
		ws.Hist = encode(s.hist)
	}
	return ws, true
}

// eval evaluates the window of seconds (last−W, last].
func (w *windowSink) eval(last int64) (v float64, ok, noData bool) {
	t := &w.th
	ws := int64(t.Window / time.Second)
	h := newHist()
	var count, failed uint64
	var n, sum int64
	for i := range w.slots {
		s := &w.slots[i]
		if s.sec > last-ws && s.sec <= last {
			count += s.count
			failed += s.failed
			n += s.n
			sum += s.sumNs
			if s.hist != nil {
				h.Merge(s.hist)
			}
		}
	}
	switch {
	case isCounter(t.Metric):
		v = float64(n)
		if t.Metric == MetricReqs || t.Metric == MetricIterations {
			v = float64(count)
		}
		if t.Agg == "rate" {
			v /= float64(ws)
		}
	case !w.trend:
		if count == 0 {
			return 0, false, true
		}
		v = t.rateValue(count, failed)
	default:
		if count == 0 {
			return 0, false, true
		}
		v = t.trendValue(h, count, sum)
	}
	return v, compare(v, t.Op, t.Value), false
}

// thresholdState is a threshold's progress during a run.
type thresholdState struct {
	th        Threshold
	sink      *windowSink
	lastEval  int64 // last window end evaluated
	worst     float64
	evaluated bool
	failed    bool
	failedAt  time.Duration
}

func (ts *thresholdState) note(v float64, ok bool, at time.Duration) {
	lower := strings.HasPrefix(ts.th.Op, "<")
	if !ts.evaluated || (lower && v > ts.worst) || (!lower && v < ts.worst) {
		ts.worst = v
	}
	ts.evaluated = true
	if !ok && !ts.failed {
		ts.failed, ts.failedAt = true, at
	}
}

// advanceWindows evaluates the windows that closed up to second upTo (exclusive).
func (ts *thresholdState) advanceWindows(upTo int64) {
	ws := int64(ts.th.Window / time.Second)
	if ts.lastEval == 0 {
		ts.lastEval = ws - 2 // the first full window ends at second ws−1
	}
	for last := ts.lastEval + 1; last < upTo; last++ {
		v, ok, noData := ts.sink.eval(last)
		if !noData {
			ts.note(v, ok, time.Duration(last+1)*time.Second)
		}
		ts.lastEval = last
	}
}

// thresholdSet is the thresholds of one run as they are evaluated: by the engine over its own
// samples, or by a coordinator over the seconds of several generators ([MergedThresholds]).
type thresholdSet []*thresholdState

func newThresholdSet(ths []Threshold, spare int) thresholdSet {
	set := make(thresholdSet, 0, len(ths))
	for _, th := range ths {
		ts := &thresholdState{th: th}
		if th.Window > 0 {
			ts.sink = newWindowSink(th, spare)
		}
		set = append(set, ts)
	}
	return set
}

// sinks are the windowed thresholds' sinks, which the samples feed.
func (set thresholdSet) sinks() []*windowSink {
	var out []*windowSink
	for _, ts := range set {
		if ts.sink != nil {
			out = append(out, ts.sink)
		}
	}
	return out
}

// advance evaluates the windowed thresholds' windows that end before second upTo.
func (set thresholdSet) advance(upTo int64) {
	for _, ts := range set {
		if ts.sink != nil {
			ts.advanceWindows(upTo)
		}
	}
}

// abort returns the first abortOnFail threshold that failed once elapsed is past its
// delayAbortEval: windowed ones from their windows so far, the others over snapshot (called
// only when one is needed).
func (set thresholdSet) abort(elapsed time.Duration, snapshot func() *Snapshot) *ThresholdResult {
	var snap *Snapshot
	for _, ts := range set {
		if !ts.th.AbortOnFail || elapsed < ts.th.DelayAbortEval {
			continue
		}
		if ts.sink != nil {
			if ts.failed {
				return &ThresholdResult{Source: ts.th.Source, Metric: ts.th.Metric, Value: ts.worst, FailedAt: ts.failedAt.String()}
			}
			continue
		}
		if snap == nil {
			snap = snapshot()
		}
		if r := ts.th.Evaluate(snap); !r.Pass && !r.NoData {
			r.FailedAt = elapsed.Truncate(time.Millisecond).String()
			return &r
		}
	}
	return nil
}

// final evaluates every threshold at the end of a run that lasted end: the windowed ones
// over every window (a run shorter than one window is judged whole), the others over snap.
func (set thresholdSet) final(snap *Snapshot, end time.Duration) []ThresholdResult {
	set.advance(int64(end/time.Second) + 1)
	var out []ThresholdResult
	for _, ts := range set {
		if ts.sink == nil || !ts.evaluated {
			out = append(out, ts.th.Evaluate(snap))
			continue
		}
		r := ThresholdResult{Source: ts.th.Source, Metric: ts.th.Metric, Value: ts.worst, Pass: !ts.failed}
		if ts.failed {
			r.FailedAt = ts.failedAt.String()
		}
		out = append(out, r)
	}
	return out
}

// evalRunning runs once a second: it records the second's VUs, closes the seconds no sample
// can reach any more, evaluates windowed thresholds on them, and returns the first threshold
// that asks for an abort.
func (e *Engine) evalRunning() *ThresholdResult {
	el := e.elapsed()
	e.store.advance(el)
	if len(e.thresholds) == 0 {
		return nil
	}
	e.store.mu.Lock()
	e.thState.advance(e.store.closed)
	e.store.mu.Unlock()
	return e.thState.abort(el, e.Snapshot)
}

// evalFinal evaluates every threshold at the end of the run.
func (e *Engine) evalFinal(snap *Snapshot, end time.Duration) []ThresholdResult {
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	return e.thState.final(snap, end)
}
