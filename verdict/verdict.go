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
	Error      Status = "ERROR"
)

// Statuses lists every status, in the order of [Status.Severity].
var Statuses = []Status{Pass, NoBaseline, Warn, NoData, Fail, Error}

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool { return s.Severity() >= 0 }

// Met reports whether s lets a gate through (PASS or WARN).
func (s Status) Met() bool { return s == Pass || s == Warn }

// Failing reports whether s counts as a failed objective (FAIL, NO_DATA or ERROR).
// NO_BASELINE is neither met nor failing: a relative criterion had nothing to compare with.
func (s Status) Failing() bool { return s == Fail || s == NoData || s == Error }

// Severity orders statuses for tables and comparisons, from PASS (0) to ERROR (5); -1 for an
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
	case NoData:
		return 3
	case Fail:
		return 4
	case Error:
		return 5
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
	// SampleCount is the value of the objective's sample query; 0 for an objective with a
	// value that declares none (see [Objective.HasSampleCount]).
	SampleCount int64      `json:"sample_count"`
	Warnings    []string   `json:"warnings,omitempty"`
	Key         bool       `json:"key"`
	Weight      float64    `json:"weight"`
	Evidence    []Evidence `json:"evidence,omitempty"`
	// Error says why the status is not PASS or WARN (no data, too few samples, a failed query,
	// the criterion missed).
	Error string `json:"error,omitempty"`
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
