package slo

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path"
	"slices"
	"strconv"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Status is the outcome of one objective in one window, or of the whole gate.
type Status string

// Statuses. Only PASS and WARN ever count as met; missing data never passes.
const (
	StatusPass       Status = "PASS"
	StatusWarn       Status = "WARN"
	StatusFail       Status = "FAIL"
	StatusNoData     Status = "NO_DATA"
	StatusNoBaseline Status = "NO_BASELINE"
	StatusError      Status = "ERROR"
)

// Schema identifies the JSON of [Report].
const Schema = "ddp-verify/slo/v1"

// Querier is the one method the evaluator needs. client_golang's v1.API satisfies it, for an
// external Prometheus and for the embedded one alike.
type Querier interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
}

// Window is a named time range the caller supplies (the run orchestrator derives them from
// the profile: "run", each stage, the plateau, each fault and each recovery).
type Window struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Target is one criterion of an objective and whether the value violated it.
type Target struct {
	// Kind is "pass" or "warning".
	Kind string `json:"kind"`
	// Criterion as written: "< 0.5", ">= 0.95", "<=+10%".
	Criterion string `json:"criterion"`
	// Threshold is the absolute bound the value was compared with (for a relative criterion,
	// computed from the baseline); nil when it could not be computed (no baseline).
	Threshold *float64 `json:"threshold"`
	Violated  bool     `json:"violated"`
}

// EvidenceResult is an evidence query's outcome.
type EvidenceResult struct {
	Name     string   `json:"name"`
	Query    string   `json:"query"`
	Value    *float64 `json:"value"`
	Unit     string   `json:"unit,omitempty"`
	Error    string   `json:"error,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Result is one objective evaluated in one window. Value is nil when there is no finite
// value (JSON has no NaN); Reason says why the status is what it is.
type Result struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"display_name,omitempty"`
	Window      Window    `json:"window"`
	Query       string    `json:"query"`
	Value       *float64  `json:"value"`
	Unit        string    `json:"unit,omitempty"`
	Status      Status    `json:"status"`
	Reason      string    `json:"reason,omitempty"`
	Targets     []Target  `json:"targets"`
	Key         bool      `json:"key"`
	Weight      float64   `json:"weight"`
	Score       float64   `json:"score"`
	Baseline    *float64  `json:"baseline,omitempty"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	// SampleCount is the min_samples query's value, nil when the objective has none.
	SampleCount      *float64         `json:"sample_count"`
	MinSamples       *float64         `json:"min_samples,omitempty"`
	MinSamplesQuery  string           `json:"min_samples_query,omitempty"`
	Warnings         []string         `json:"warnings,omitempty"`
	Infos            []string         `json:"infos,omitempty"`
	Evidence         []EvidenceResult `json:"evidence,omitempty"`
	RawValue         string           `json:"raw_value,omitempty"` // "NaN", "+Inf" when Value is nil for that reason
	SeriesReturned   int              `json:"series_returned"`
	EmptyMeansZeroed bool             `json:"empty_means_zero_applied,omitempty"`
}

// Report is a whole evaluation: every result, the score and the gate.
type Report struct {
	Schema      string    `json:"schema"`
	SLOFile     string    `json:"slo_file"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	Windows     []Window  `json:"windows"`
	Results     []Result  `json:"results"`
	// Score is the achieved share of the achievable score, in percent (PASS = weight,
	// WARN = half the weight, anything else 0).
	Score      float64    `json:"score"`
	Achieved   float64    `json:"achieved"`
	Achievable float64    `json:"achievable"`
	TotalScore TotalScore `json:"total_score"`
	// Gate is PASS, WARN or FAIL, or ERROR when nothing was evaluated.
	Gate Status `json:"gate"`
	// GateReasons says why the gate is not PASS.
	GateReasons []string `json:"gate_reasons,omitempty"`
	// Skipped lists objectives that were not evaluated, each with the reason: no supplied
	// window matched theirs, or the run was time-scaled and they need full-length windows.
	Skipped []Skip `json:"skipped,omitempty"`
	// BaselineRunID names the baseline the relative criteria were compared with.
	BaselineRunID string `json:"baseline_run_id,omitempty"`
}

// Skip is an objective that was not evaluated, and why.
type Skip struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name,omitempty"`
	Key         bool   `json:"key"`
	Reason      string `json:"reason"`
}

// Baseline holds an earlier run's values, per objective and window, for relative criteria.
// The reports side fills it from a previous run.json with [NewBaseline] or [Baseline.Set].
type Baseline struct {
	RunID  string             `json:"run_id"`
	Values map[string]float64 `json:"values"` // key: BaselineKey(id, window)
}

// BaselineKey is the key of an objective's value in a window.
func BaselineKey(id, window string) string { return id + "@" + window }

// NewBaseline builds a baseline from earlier results. Only results with a finite value and a
// status of PASS, WARN, FAIL or NO_BASELINE count: a value that was NO_DATA or ERROR then is
// no baseline now.
func NewBaseline(runID string, results []Result) *Baseline {
	b := &Baseline{RunID: runID}
	for _, r := range results {
		if r.Value == nil || (r.Status != StatusPass && r.Status != StatusWarn && r.Status != StatusFail && r.Status != StatusNoBaseline) {
			continue
		}
		b.Set(r.ID, r.Window.Name, *r.Value)
	}
	return b
}

// Set records a value; the zero Baseline is usable.
func (b *Baseline) Set(id, window string, v float64) {
	if b.Values == nil {
		b.Values = map[string]float64{}
	}
	b.Values[BaselineKey(id, window)] = v
}

// Lookup returns the baseline value, if any. A nil Baseline has none.
func (b *Baseline) Lookup(id, window string) (float64, bool) {
	if b == nil {
		return 0, false
	}
	v, ok := b.Values[BaselineKey(id, window)]
	return v, ok && !math.IsNaN(v) && !math.IsInf(v, 0)
}

// Options tune [Evaluate].
type Options struct {
	// Baseline for relative criteria; nil means none (relative criteria are NO_BASELINE).
	Baseline *Baseline
	// Now stamps results; defaults to time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// TimeScale is the factor the run's profile was scaled by (--time-scale); 0 means 1.
	// Below 1, objectives marked full_length_only are skipped, with the reason.
	TimeScale float64
}

// Evaluate runs every objective of spec in every supplied window its Windows select: one
// instant query at the window's end, covering the window, plus the min_samples and evidence
// queries. It never returns an error: query failures become ERROR results, as in a
// Prometheus rule group, and the gate reflects them.
func Evaluate(ctx context.Context, q Querier, spec *Spec, windows []Window, o Options) *Report {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	rep := &Report{Schema: Schema, EvaluatedAt: o.Now().UTC(), Windows: windows, Results: []Result{}}
	if spec != nil {
		rep.SLOFile = spec.File
		rep.TotalScore = spec.TotalScore
		for i := range spec.Objectives {
			obj := &spec.Objectives[i]
			skip := func(reason string) {
				rep.Skipped = append(rep.Skipped, Skip{ID: obj.ID, DisplayName: obj.DisplayName, Key: obj.Key, Reason: reason})
			}
			if why, ok := obj.NotEvaluatedAt(o.TimeScale); ok {
				skip(why)
				continue
			}
			matched := false
			for _, w := range windows {
				if !selects(obj.Windows, w.Name) {
					continue
				}
				matched = true
				r := evaluateOne(ctx, q, obj, w, o)
				o.Logger.Debug("objective evaluated", "id", r.ID, "window", w.Name, "status", r.Status, "reason", r.Reason)
				rep.Results = append(rep.Results, r)
			}
			if !matched {
				skip(fmt.Sprintf("no window matches %v", obj.Windows))
			}
		}
	}
	if o.Baseline != nil {
		rep.BaselineRunID = o.Baseline.RunID
	}
	score(rep)
	return rep
}

// NotEvaluatedAt reports whether a run whose profile was scaled by timeScale (0 meaning 1)
// leaves the objective out, and why: a full_length_only objective is not evaluated on
// compressed windows.
func (obj *Objective) NotEvaluatedAt(timeScale float64) (reason string, skipped bool) {
	if !obj.FullLengthOnly || timeScale <= 0 || timeScale >= 1 {
		return "", false
	}
	return fmt.Sprintf("the run is time-scaled (x%g) and this objective needs its windows %v at full length", timeScale, obj.Windows), true
}

func selects(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func evaluateOne(ctx context.Context, q Querier, obj *Objective, w Window, o Options) Result {
	r := Result{
		ID: obj.ID, DisplayName: obj.DisplayName, Window: w, Unit: obj.Unit, Key: obj.Key,
		Weight: *obj.Weight, Query: Substitute(obj.Query, w), EvaluatedAt: o.Now().UTC(), Targets: []Target{},
	}
	if !w.End.After(w.Start) || w.End.Sub(w.Start) < time.Millisecond {
		r.Status, r.Reason = StatusError, fmt.Sprintf("window %q is empty: it ends at %s, not after its start %s", w.Name, w.End.Format(time.RFC3339Nano), w.Start.Format(time.RFC3339Nano))
		return r
	}

	// Evidence first: it is shown whatever the status turns out to be.
	for _, e := range obj.Evidence {
		er := EvidenceResult{Name: e.Name, Query: Substitute(e.Query, w), Unit: e.Unit}
		val, warns, _, err := q.Query(ctx, er.Query, w.End)
		er.Warnings = append(er.Warnings, warns...)
		if err != nil {
			er.Error = err.Error()
		} else if f, _, reason := single(val); reason == "" && finite(f) {
			er.Value = ptr(f)
		} else if reason != "" {
			er.Error = reason
		} else {
			er.Error = "value is " + formatValue(f)
		}
		r.Evidence = append(r.Evidence, er)
	}

	val, warns, infos, err := q.Query(ctx, r.Query, w.End)
	r.Warnings = appendUnique(r.Warnings, warns...)
	r.Infos = appendUnique(r.Infos, infos...)
	if err != nil {
		r.Status, r.Reason = StatusError, "query failed: "+err.Error()
		return r
	}
	f, n, reason := single(val)
	r.SeriesReturned = n
	switch {
	case reason != "" && n != 0:
		r.Status, r.Reason = StatusError, reason
		return r
	case reason != "": // empty
		if obj.EmptyMeans != EmptyZero {
			r.Status, r.Reason = StatusNoData, "the query returned no series"
			return r
		}
		f, r.EmptyMeansZeroed = 0, true
	}
	if !finite(f) {
		r.RawValue = formatValue(f)
		r.Status, r.Reason = StatusNoData, "the value is "+r.RawValue+", not a measurement"
		return r
	}
	r.Value = ptr(f)

	if ms := obj.MinSamples; ms != nil {
		r.MinSamples = ptr(ms.Value)
		r.MinSamplesQuery = Substitute(ms.Query, w)
		cval, cwarns, cinfos, err := q.Query(ctx, r.MinSamplesQuery, w.End)
		r.Warnings = appendUnique(r.Warnings, cwarns...)
		r.Infos = appendUnique(r.Infos, cinfos...)
		if err != nil {
			r.Status, r.Reason = StatusError, "min_samples query failed: "+err.Error()
			return r
		}
		c, cn, creason := single(cval)
		switch {
		case creason != "" && cn != 0:
			r.Status, r.Reason = StatusError, "min_samples query: "+creason
			return r
		case creason != "" || math.IsNaN(c):
			c = 0
		}
		r.SampleCount = ptr(c)
		if c < ms.Value {
			r.Status, r.Reason = StatusNoData, fmt.Sprintf("too few samples: %s < %s", formatValue(c), formatValue(ms.Value))
			return r
		}
	}

	judge(&r, obj, f, o.Baseline)
	return r
}

// judge applies the criteria. Pass needs every pass criterion; WARN needs every criterion's
// warning threshold (or its pass threshold when it has no warning one) and at least one
// warning threshold to exist. A relative criterion without a baseline makes the result
// NO_BASELINE unless an absolute criterion already fails.
func judge(r *Result, obj *Objective, f float64, b *Baseline) {
	passOK, warnOK, hasWarn, missingBase := true, true, false, false
	if obj.Op != "" {
		ok := compare(f, obj.Op, *obj.Value)
		r.Targets = append(r.Targets, Target{Kind: "pass", Criterion: obj.Op + " " + formatValue(*obj.Value), Threshold: ptr(*obj.Value), Violated: !ok})
		passOK = passOK && ok
		wok := ok
		if obj.Warning != nil {
			hasWarn = true
			wok = compare(f, obj.Op, *obj.Warning)
			r.Targets = append(r.Targets, Target{Kind: "warning", Criterion: obj.Op + " " + formatValue(*obj.Warning), Threshold: ptr(*obj.Warning), Violated: !wok})
		}
		warnOK = warnOK && wok
	}
	if obj.relative != nil {
		base, ok := b.Lookup(obj.ID, r.Window.Name)
		if ok {
			r.Baseline = ptr(base)
		}
		check := func(kind string, c *relCriterion) bool {
			t := Target{Kind: kind, Criterion: c.text}
			if !ok {
				r.Targets = append(r.Targets, t)
				return false
			}
			th := base * (1 + c.percent/100)
			t.Threshold = ptr(th)
			met := compare(f, c.op, th)
			t.Violated = !met
			r.Targets = append(r.Targets, t)
			return met
		}
		if !ok {
			missingBase = true
		}
		pok := check("pass", obj.relative)
		passOK = passOK && pok
		wok := pok
		if obj.relativeWarning != nil {
			hasWarn = true
			wok = check("warning", obj.relativeWarning)
		}
		warnOK = warnOK && wok
	}
	absoluteFails := obj.Op != "" && !compare(f, obj.Op, *obj.Value) && (obj.Warning == nil || !compare(f, obj.Op, *obj.Warning))
	switch {
	case missingBase && absoluteFails:
		r.Status, r.Reason = StatusFail, "the absolute criterion fails; the relative one has no baseline"
	case missingBase:
		r.Status, r.Reason = StatusNoBaseline, "relative criterion "+obj.relative.text+" has no baseline value for this objective and window"
	case passOK:
		r.Status = StatusPass
	case hasWarn && warnOK:
		r.Status, r.Reason = StatusWarn, "misses the pass criterion, meets the warning one"
	default:
		r.Status, r.Reason = StatusFail, "misses the criterion"
	}
}

func compare(v float64, op string, th float64) bool {
	switch op {
	case OpLT:
		return v < th
	case OpLE:
		return v <= th
	case OpGT:
		return v > th
	case OpGE:
		return v >= th
	case OpEQ:
		return v == th
	}
	return false
}

// single extracts the one number of an instant result. reason is empty on success; with n == 0
// it means "empty".
func single(v model.Value) (f float64, n int, reason string) {
	switch x := v.(type) {
	case *model.Scalar:
		return float64(x.Value), 1, ""
	case model.Vector:
		switch len(x) {
		case 0:
			return 0, 0, "empty"
		case 1:
			if x[0].Histogram != nil {
				return 0, 1, "the query returned a native histogram, not a number"
			}
			return float64(x[0].Value), 1, ""
		default:
			return 0, len(x), fmt.Sprintf("the query returned %d series; aggregate it to one (e.g. sum(...)), first two: %s, %s", len(x), x[0].Metric, x[1].Metric)
		}
	case nil:
		return 0, 0, "empty"
	default:
		return 0, -1, fmt.Sprintf("the query returned a %s, not an instant vector or scalar", v.Type())
	}
}

// score fills the score and the gate (Keptn-style, with missing data never passing).
func score(rep *Report) {
	for i := range rep.Results {
		r := &rep.Results[i]
		switch r.Status {
		case StatusPass:
			r.Score = r.Weight
		case StatusWarn:
			r.Score = r.Weight / 2
		}
		rep.Achieved += r.Score
		rep.Achievable += r.Weight
	}
	if len(rep.Results) == 0 {
		rep.Gate = StatusError
		rep.GateReasons = []string{"no objective was evaluated: an empty evaluation never passes"}
		return
	}
	rep.Score = 100 * rep.Achieved / rep.Achievable
	var reasons []string
	for _, r := range rep.Results {
		switch {
		case r.Status == StatusNoData || r.Status == StatusError:
			reasons = append(reasons, fmt.Sprintf("%s in %s is %s: %s", r.ID, r.Window.Name, r.Status, r.Reason))
		case r.Key && r.Status != StatusPass && r.Status != StatusWarn:
			reasons = append(reasons, fmt.Sprintf("key objective %s in %s is %s", r.ID, r.Window.Name, r.Status))
		}
	}
	switch {
	case len(reasons) > 0:
		rep.Gate = StatusFail
	case rep.Score >= rep.TotalScore.Pass:
		rep.Gate = StatusPass
	case rep.Score >= rep.TotalScore.Warning:
		rep.Gate = StatusWarn
		reasons = append(reasons, fmt.Sprintf("score %.1f%% is below the pass threshold %.1f%%", rep.Score, rep.TotalScore.Pass))
	default:
		rep.Gate = StatusFail
		reasons = append(reasons, fmt.Sprintf("score %.1f%% is below the warning threshold %.1f%%", rep.Score, rep.TotalScore.Warning))
	}
	rep.GateReasons = reasons
}

// Passed reports whether the gate lets the run through (PASS or WARN).
func (rep *Report) Passed() bool { return rep.Gate == StatusPass || rep.Gate == StatusWarn }

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func ptr(f float64) *float64 { return &f }

func formatValue(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func appendUnique(dst []string, src ...string) []string {
	for _, s := range src {
		if !slices.Contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}
