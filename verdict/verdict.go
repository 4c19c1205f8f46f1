// Package verdict is the vocabulary of a go/no-go decision, shared by the SLO evaluator that
// produces results (package slo), the run that decides (package run) and the reports that show
// them (package reports): the status of one objective, the verdict of a run, and the record of
// one objective evaluated in one window as run.json stores it.
//
// It imports nothing but the standard library, so that reports depends on model types only.
package verdict

import "time"

// Verdict is the answer of a run.
type Verdict string

// Verdicts.
const (
	Go      Verdict = "GO"
	NoGo    Verdict = "NO-GO"
	Aborted Verdict = "ABORTED"
)

// Status is the outcome of one objective in one window, or of a whole SLO gate.
type Status string

// Statuses. Only PASS and WARN ever count as met: missing data never passes.
const (
	Pass       Status = "PASS"
	Warn       Status = "WARN"
	Fail       Status = "FAIL"
	NoData     Status = "NO_DATA"
	NoBaseline Status = "NO_BASELINE"
	// Inconclusive is a result whose 95 % interval holds both passing and failing values, under
	// a profile that decides confidently (decision: confident): not enough evidence either way.
	// It fails the gate.
	Inconclusive Status = "INCONCLUSIVE"
	Error        Status = "ERROR"
)

// Statuses lists every status, in the order of [Status.Severity].
var Statuses = []Status{Pass, NoBaseline, Warn, Inconclusive, NoData, Fail, Error}

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool { return s.Severity() >= 0 }

// Met reports whether s lets a gate through (PASS or WARN).
func (s Status) Met() bool { return s == Pass || s == Warn }

// Failing reports whether s counts as a failed objective (FAIL, NO_DATA, INCONCLUSIVE or
// ERROR). NO_BASELINE is neither met nor failing: a relative criterion had nothing to compare
// with.
func (s Status) Failing() bool { return s == Fail || s == NoData || s == Inconclusive || s == Error }

// Severity orders statuses for tables and comparisons, from PASS (0) to ERROR (6); -1 for an
// unknown status. NO_BASELINE ranks below WARN: it says nothing bad about the value, only that
// there was nothing to compare it with.
func (s Status) Severity() int {
	switch s {
	case Pass:
		return 0
	case NoBaseline:
		return 1
	case Warn:
		return 2
	case Inconclusive:
		return 3
	case NoData:
		return 4
	case Fail:
		return 5
	case Error:
		return 6
	}
	return -1
}

// Objective is one objective evaluated in one window: the `slos[]` record of run.json.
type Objective struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"display_name"`
	Window      string    `json:"window"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Query is the PromQL that produced Value, with the window already substituted.
	Query string `json:"query"`
	// Value is null when there was no finite value (no data, NaN, a failed query).
	Value *float64 `json:"value"`
	Unit  string   `json:"unit"`
	// Op and Objective are the pass criterion the value was compared with; for a relative
	// criterion Objective is the threshold computed from the baseline (0 when there was none).
	Op        string   `json:"op"`
	Objective float64  `json:"objective"`
	Warning   *float64 `json:"warning,omitempty"`
	// Baseline is the value of the same objective in the baseline run, when one was given.
	Baseline *float64 `json:"baseline,omitempty"`
	Status   Status   `json:"status"`
	// SampleCount is the value of the objective's sample query, else the events a Poisson
	// interval counts, else 1 for a single observation; 0 for an objective with a value that
	// declares none of these (see [Objective.HasSampleCount]).
	SampleCount int64      `json:"sample_count"`
	Warnings    []string   `json:"warnings,omitempty"`
	Key         bool       `json:"key"`
	Weight      float64    `json:"weight"`
	Evidence    []Evidence `json:"evidence,omitempty"`
	// Error says why the status is not PASS or WARN (no data, too few samples, a failed query,
	// the criterion missed, not enough evidence).
	Error string `json:"error,omitempty"`
	// Interval is the value's 95 % confidence interval (docs/slo.md); nil when the objective
	// declares none or has no value.
	Interval *Interval `json:"interval,omitempty"`
	// LowConfidence is set when the interval holds values on both sides of the pass
	// threshold: the status rests on thin evidence.
	LowConfidence bool `json:"low_confidence,omitempty"`
	// ExtendToSeconds is how long the window would need to be, at the rate observed, for the
	// interval to lie on one side of the threshold; nil when it is not low-confidence or when
	// no window up to 100 times longer would do.
	ExtendToSeconds *float64 `json:"extend_to_seconds,omitempty"`
}

// Interval is a 95 % confidence interval and how it was computed: "wilson" (a share),
// "poisson" (a count or rate: Garwood's exact interval), "poisson-denominator" (a total per
// counted event), "exact" (counted, not sampled: the interval is the value) or "single" (one
// observation: no interval, Low and High are nil).
type Interval struct {
	Method string   `json:"method"`
	Low    *float64 `json:"low,omitempty"`
	High   *float64 `json:"high,omitempty"`
}

// Name is the display name, or the id when there is none.
func (o *Objective) Name() string {
	if o.DisplayName != "" {
		return o.DisplayName
	}
	return o.ID
}

// HasSampleCount is false for an objective that has a value but declares no sample query:
// its count of 0 means "not counted", not "no samples".
func (o Objective) HasSampleCount() bool { return o.SampleCount != 0 || o.Value == nil }

// Evidence is a supporting figure shown beside a value, such as the interpolated p95 next to
// the exact fraction of requests under 100 ms.
type Evidence struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// NotEvaluated is an objective a run did not evaluate, and why (a time-scaled run, no window
// of the run matches its windows, faults skipped). A verdict says nothing about it.
type NotEvaluated struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name,omitempty"`
	Key         bool   `json:"key"`
	Reason      string `json:"reason"`
}
