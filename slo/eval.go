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

	"github.com/dailydoco/ddp-verify/verdict"
)

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
	// Fault is the fault a fault or recovery window belongs to ($FAULT in queries); empty
	// for the other windows.
	Fault string `json:"fault,omitempty"`
}

// Report is a whole evaluation: every result, the score and the gate. Results are the
// records run.json stores ([verdict.Objective]); the run and `evaluate` put the report's
// parts into a run.json.
type Report struct {
	SLOFile     string
	EvaluatedAt time.Time
	Windows     []Window
	Results     []verdict.Objective
	// Score is the achieved share of the achievable score, in percent (PASS = weight,
	// WARN = half the weight, anything else 0).
	Score      float64
	Achieved   float64
	Achievable float64
	TotalScore TotalScore
	// Gate is PASS, WARN or FAIL, or ERROR when nothing was evaluated.
	Gate verdict.Status
	// GateReasons says why the gate is not PASS.
	GateReasons []string
	// Skipped lists objectives that were not evaluated, each with the reason: no supplied
	// window matched theirs, or the run was time-scaled and they need full-length windows.
	Skipped []verdict.NotEvaluated
	// BaselineRunID names the baseline the relative criteria were compared with.
	BaselineRunID string
}

// Baseline holds an earlier run's values, per objective and window, for relative criteria.
// The reports side fills it from a previous run.json with [NewBaseline] or [Baseline.Set].
type Baseline struct {
	RunID  string
	Values map[string]float64 // key: BaselineKey(id, window)
}

// BaselineKey is the key of an objective's value in a window.
func BaselineKey(id, window string) string { return id + "@" + window }

// NewBaseline builds a baseline from an earlier run's results. Only results with a finite
// value and a status of PASS, WARN, FAIL or NO_BASELINE count: a value that was NO_DATA (too
// few samples) or ERROR then is no baseline now.
func NewBaseline(runID string, results []verdict.Objective) *Baseline {
	b := &Baseline{RunID: runID}
	for _, r := range results {
		if r.Value == nil || !finite(*r.Value) || !(r.Status.Met() || r.Status == verdict.Fail || r.Status == verdict.NoBaseline) {
			continue
		}
		b.Set(r.ID, r.Window, *r.Value)
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
	// Decision is the profile's decision policy: DecisionPoint (default) or DecisionConfident.
	Decision string
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
	rep := &Report{EvaluatedAt: o.Now().UTC(), Windows: windows, Results: []verdict.Objective{}}
	if spec != nil {
		rep.SLOFile = spec.File
		rep.TotalScore = spec.TotalScore
		for i := range spec.Objectives {
			obj := &spec.Objectives[i]
			skip := func(reason string) {
				rep.Skipped = append(rep.Skipped, verdict.NotEvaluated{ID: obj.ID, DisplayName: obj.DisplayName, Key: obj.Key, Reason: reason})
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
				o.Logger.Debug("objective evaluated", "id", r.ID, "window", w.Name, "status", r.Status, "reason", r.Error)
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

func evaluateOne(ctx context.Context, q Querier, obj *Objective, w Window, o Options) verdict.Objective {
	r := verdict.Objective{
		ID: obj.ID, DisplayName: obj.DisplayName, Window: w.Name, WindowStart: w.Start, WindowEnd: w.End,
		Query: Substitute(obj.Query, w), Unit: obj.Unit, Key: obj.Key, Weight: *obj.Weight,
	}
	declared(&r, obj)
	if !w.End.After(w.Start) || w.End.Sub(w.Start) < time.Millisecond {
		r.Status, r.Error = verdict.Error, fmt.Sprintf("window %q is empty: it ends at %s, not after its start %s", w.Name, w.End.Format(time.RFC3339Nano), w.Start.Format(time.RFC3339Nano))
		return r
	}
	// Evidence first: it is shown whatever the status turns out to be.
	r.Evidence = evidence(ctx, q, obj, w, o.Logger)
	if missing, err := missingRequirement(ctx, q, obj, w); err != nil {
		r.Status, r.Error = verdict.Error, err.Error()
		return r
	} else if missing != "" {
		r.Status, r.Error = verdict.NoData, missing
		return r
	}
	if unmet, err := unmetPrecondition(ctx, q, obj, w); err != nil {
		r.Status, r.Error = verdict.Error, err.Error()
		return r
	} else if unmet != "" {
		r.Status, r.Error = verdict.NoData, unmet
		return r
	}

	val, warns, infos, err := q.Query(ctx, r.Query, w.End)
	r.Warnings = appendUnique(r.Warnings, warns...)
	logInfos(o.Logger, r, infos)
	if err != nil {
		r.Status, r.Error = verdict.Error, "query failed: "+err.Error()
		return r
	}
	f, n, reason := single(val)
	switch {
	case reason != "" && n != 0:
		r.Status, r.Error = verdict.Error, reason
		return r
	case reason != "": // empty
		if obj.EmptyMeans != EmptyZero {
			r.Status, r.Error = verdict.NoData, "the query returned no series"
			return r
		}
		f = 0
	}
	if !finite(f) {
		r.Status, r.Error = verdict.NoData, "the value is "+formatValue(f)+", not a measurement"
		return r
	}
	r.Value = ptr(f)

	if ms := obj.MinSamples; ms != nil {
		c, err := sampleCount(ctx, q, &r, Substitute(ms.Query, w), w.End, o.Logger)
		if err != nil {
			r.Status, r.Error = verdict.Error, err.Error()
			return r
		}
		r.SampleCount = roundCount(c)
		if c < ms.Value {
			r.Status, r.Error = verdict.NoData, fmt.Sprintf("too few samples: %s < %s", formatValue(c), formatValue(ms.Value))
			return r
		}
	}
	judge(&r, obj, f, o.Baseline)
	if err := interval(ctx, q, obj, w, &r, f); err != nil {
		r.Status, r.Error = verdict.Error, err.Error()
		return r
	}
	applyDecision(&r, o.Decision, w)
	return r
}

// sampleCount runs the objective's min_samples query; an empty or NaN answer is 0 samples.
func sampleCount(ctx context.Context, q Querier, r *verdict.Objective, query string, at time.Time, log *slog.Logger) (float64, error) {
	val, warns, infos, err := q.Query(ctx, query, at)
	r.Warnings = appendUnique(r.Warnings, warns...)
	logInfos(log, *r, infos)
	if err != nil {
		return 0, fmt.Errorf("min_samples query failed: %w", err)
	}
	c, n, reason := single(val)
	switch {
	case reason != "" && n != 0:
		return 0, fmt.Errorf("min_samples query: %s", reason)
	case reason != "" || math.IsNaN(c):
		return 0, nil
	}
	return c, nil
}

// missingRequirement returns why the objective cannot be evaluated in w: the first required
// series without a sample in the window, with its hint; "" when every one is there.
func missingRequirement(ctx context.Context, q Querier, obj *Objective, w Window) (string, error) {
	for _, req := range obj.Requires {
		query := Substitute("count(last_over_time("+req.Metric+"[$WINDOW]))", w)
		val, _, _, err := q.Query(ctx, query, w.End)
		if err != nil {
			return "", fmt.Errorf("requirement query failed: %w", err)
		}
		if n, _, reason := single(val); reason != "" || !(n > 0) {
			msg := "no " + req.Metric + " series in the window"
			if req.Hint != "" {
				msg += ": " + req.Hint
			}
			return msg, nil
		}
	}
	return "", nil
}

// unmetPrecondition returns why the objective's question was not asked in w: the first
// precondition that does not hold (or has no value), with its reason; "" when all hold.
func unmetPrecondition(ctx context.Context, q Querier, obj *Objective, w Window) (string, error) {
	for _, pc := range obj.Preconditions {
		val, _, _, err := q.Query(ctx, Substitute(pc.Query, w), w.End)
		if err != nil {
			return "", fmt.Errorf("precondition query failed: %w", err)
		}
		f, n, reason := single(val)
		switch {
		case reason != "" && n != 0:
			return "", fmt.Errorf("precondition query: %s", reason)
		case reason != "" || !finite(f):
			return fmt.Sprintf("precondition not met: %s (no value for %s %s %s)", pc.Reason, oneLine(pc.Query), pc.Op, formatValue(pc.Value)), nil
		case !compare(f, pc.Op, pc.Value):
			return fmt.Sprintf("precondition not met: %s (%s, want %s %s)", pc.Reason, formatValue(f), pc.Op, formatValue(pc.Value)), nil
		}
	}
	return "", nil
}

// evidence runs the objective's evidence queries; a figure that has no finite value is left
// out (and logged), never shown as zero.
func evidence(ctx context.Context, q Querier, obj *Objective, w Window, log *slog.Logger) []verdict.Evidence {
	var out []verdict.Evidence
	for _, e := range obj.Evidence {
		query := Substitute(e.Query, w)
		val, _, _, err := q.Query(ctx, query, w.End)
		if err != nil {
			log.Debug("evidence query failed", "objective", obj.ID, "evidence", e.Name, "err", err)
			continue
		}
		f, _, reason := single(val)
		if reason != "" || !finite(f) {
			log.Debug("evidence has no value", "objective", obj.ID, "evidence", e.Name, "reason", reason, "value", formatValue(f))
			continue
		}
		out = append(out, verdict.Evidence{Label: e.Name, Value: f, Unit: e.Unit})
	}
	return out
}

// logInfos logs PromQL's informational annotations (such as "metric might not be a counter"):
// they help whoever writes queries, but are not warnings about the result.
func logInfos(log *slog.Logger, r verdict.Objective, infos v1.Infos) {
	for _, i := range infos {
		log.Debug("promql info", "objective", r.ID, "window", r.Window, "info", i)
	}
}

// declared sets the objective's criteria as written: the absolute one, or the operator of a
// relative one (whose threshold [judge] computes from the baseline).
func declared(r *verdict.Objective, obj *Objective) {
	r.Op = obj.Op
	if r.Op == "" && obj.relative != nil {
		r.Op = obj.relative.op
	}
	if obj.Value != nil {
		r.Objective = *obj.Value
	}
	if obj.Warning != nil {
		w := *obj.Warning
		r.Warning = &w
	}
}

// judge applies the criteria. Pass needs every pass criterion; WARN needs every criterion's
// warning threshold (or its pass threshold when it has no warning one) and at least one
// warning threshold to exist. A relative criterion without a baseline makes the result
// NO_BASELINE unless an absolute criterion already fails. A relative threshold computed from
// the baseline replaces the declared one in the record.
func judge(r *verdict.Objective, obj *Objective, f float64, b *Baseline) {
	passOK, warnOK, hasWarn, missingBase := true, true, false, false
	if obj.Op != "" {
		ok := compare(f, obj.Op, *obj.Value)
		passOK = passOK && ok
		wok := ok
		if obj.Warning != nil {
			hasWarn = true
			wok = compare(f, obj.Op, *obj.Warning)
		}
		warnOK = warnOK && wok
	}
	if obj.relative != nil {
		base, ok := b.Lookup(obj.ID, r.Window)
		if ok {
			r.Baseline = ptr(base)
		} else {
			missingBase = true
		}
		check := func(c *relCriterion, set func(th float64)) bool {
			if !ok {
				return false
			}
			th := base * (1 + c.percent/100)
			set(th)
			return compare(f, c.op, th)
		}
		pok := check(obj.relative, func(th float64) { r.Objective = th })
		passOK = passOK && pok
		wok := pok
		if obj.relativeWarning != nil {
			hasWarn = true
			wok = check(obj.relativeWarning, func(th float64) { r.Warning = ptr(th) })
		}
		warnOK = warnOK && wok
	}
	absoluteFails := obj.Op != "" && !compare(f, obj.Op, *obj.Value) && (obj.Warning == nil || !compare(f, obj.Op, *obj.Warning))
	switch {
	case missingBase && absoluteFails:
		r.Status, r.Error = verdict.Fail, "the absolute criterion fails; the relative one has no baseline"
	case missingBase:
		r.Status, r.Error = verdict.NoBaseline, "relative criterion "+obj.relative.text+" has no baseline value for this objective and window"
	case passOK:
		r.Status = verdict.Pass
	case hasWarn && warnOK:
		r.Status = verdict.Warn
	default:
		r.Status, r.Error = verdict.Fail, "misses the criterion"
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
	for _, r := range rep.Results {
		rep.Achieved += Points(r)
		rep.Achievable += r.Weight
	}
	if len(rep.Results) == 0 {
		rep.Gate = verdict.Error
		rep.GateReasons = []string{"no objective was evaluated: an empty evaluation never passes"}
		return
	}
	rep.Score = 100 * rep.Achieved / rep.Achievable
	var reasons []string
	for _, r := range rep.Results {
		switch {
		case r.Status == verdict.NoData || r.Status == verdict.Error:
			reasons = append(reasons, fmt.Sprintf("%s in %s is %s: %s", r.ID, r.Window, r.Status, r.Error))
		case r.Key && !r.Status.Met() && r.Error != "":
			reasons = append(reasons, fmt.Sprintf("key objective %s in %s is %s: %s", r.ID, r.Window, r.Status, r.Error))
		case r.Key && !r.Status.Met():
			reasons = append(reasons, fmt.Sprintf("key objective %s in %s is %s", r.ID, r.Window, r.Status))
		}
	}
	switch {
	case len(reasons) > 0:
		rep.Gate = verdict.Fail
	case rep.Score >= rep.TotalScore.Pass:
		rep.Gate = verdict.Pass
	case rep.Score >= rep.TotalScore.Warning:
		rep.Gate = verdict.Warn
		reasons = append(reasons, fmt.Sprintf("score %.1f%% is below the pass threshold %.1f%%", rep.Score, rep.TotalScore.Pass))
	default:
		rep.Gate = verdict.Fail
		reasons = append(reasons, fmt.Sprintf("score %.1f%% is below the warning threshold %.1f%%", rep.Score, rep.TotalScore.Warning))
	}
	rep.GateReasons = reasons
}

// Include adds objectives judged outside the SLO set (the run's alert objectives) and the ones
// it left out, and scores the gate again over everything.
func (rep *Report) Include(results []verdict.Objective, skipped []verdict.NotEvaluated) {
	rep.Results = append(rep.Results, results...)
	rep.Skipped = append(rep.Skipped, skipped...)
	rep.Achieved, rep.Achievable, rep.Score, rep.Gate, rep.GateReasons = 0, 0, 0, "", nil
	score(rep)
}

// Points is what one result adds to the score: its weight for PASS, half of it for WARN,
// nothing otherwise.
func Points(r verdict.Objective) float64 {
	switch r.Status {
	case verdict.Pass:
		return r.Weight
	case verdict.Warn:
		return r.Weight / 2
	}
	return 0
}

// Passed reports whether the gate lets the run through (PASS or WARN).
func (rep *Report) Passed() bool { return rep.Gate.Met() }

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func ptr(f float64) *float64 { return &f }

// roundCount turns a sample count into a whole number (a count query may return 59.9999
// from rate arithmetic).
func roundCount(c float64) int64 { return int64(math.Round(c)) }

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
