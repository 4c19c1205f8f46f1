package slo

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/dailydoco/ddp-verify/internal/yamlfile"
)

// Comparison operators an objective may use.
const (
	OpLT = "<"
	OpLE = "<="
	OpGT = ">"
	OpGE = ">="
	OpEQ = "=="
)

// What an empty query result means ([Objective.EmptyMeans]).
const (
	EmptyNoData = "no_data"
	EmptyZero   = "zero"
)

// Default total-score thresholds, in percent, when the file gives none.
const (
	DefaultPassPercent    = 90
	DefaultWarningPercent = 75
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultFile is the name under which the embedded default SLO set is reported in errors.
const DefaultFile = "default.yaml (embedded)"

// Spec is a loaded, validated SLO file. It is built once and then only read.
type Spec struct {
	File       string      `json:"file"`
	TotalScore TotalScore  `json:"total_score"`
	Objectives []Objective `json:"objectives"`
}

// TotalScore holds the gate's score thresholds in percent of the achievable score.
type TotalScore struct {
	Pass    float64 `yaml:"pass" json:"pass"`
	Warning float64 `yaml:"warning" json:"warning"`
}

// Objective is one SLO. Query is PromQL with $WINDOW (the window's length, e.g. 3600s),
// $START and $END (the window's bounds in Unix seconds) substituted before each query.
type Objective struct {
	ID          string `yaml:"id" json:"id"`
	DisplayName string `yaml:"display_name" json:"display_name,omitempty"`
	Query       string `yaml:"query" json:"query"`
	// Op and Value are the absolute pass criterion "value Op Value"; Warning is a looser
	// threshold with the same operator: failing the pass criterion but meeting Warning is WARN.
	Op      string   `yaml:"op" json:"op,omitempty"`
	Value   *float64 `yaml:"value" json:"value,omitempty"`
	Warning *float64 `yaml:"warning" json:"warning,omitempty"`
	// Relative is a criterion against the baseline's value of the same objective and window,
	// e.g. "<=+10%" (at most 10 % above the baseline). RelativeWarning is its looser threshold.
	Relative        string   `yaml:"relative" json:"relative,omitempty"`
	RelativeWarning string   `yaml:"relative_warning" json:"relative_warning,omitempty"`
	Unit            string   `yaml:"unit" json:"unit,omitempty"`
	Weight          *float64 `yaml:"weight" json:"weight"`
	Key             bool     `yaml:"key" json:"key"`
	// EmptyMeans says what an empty result is: no_data (default; never passes) or zero.
	EmptyMeans string      `yaml:"empty_means" json:"empty_means"`
	MinSamples *MinSamples `yaml:"min_samples" json:"min_samples,omitempty"`
	// Evidence queries are evaluated beside the objective and shown with it (for example the
	// interpolated p95 beside the exact bucket fraction); they never change the status.
	Evidence []Evidence `yaml:"evidence" json:"evidence,omitempty"`
	// Preconditions must hold in the window for the objective's question to have been asked
	// at all (the load offered the rate a capacity objective needs, say): one that does not
	// makes the objective NO_DATA with its reason, whatever the value.
	Preconditions []Precondition `yaml:"preconditions" json:"preconditions,omitempty"`
	// Interval says how the value's 95 % confidence interval is computed; nil: none.
	Interval *IntervalSpec `yaml:"interval" json:"interval,omitempty"`
	// Requires names series that must exist in the window for the objective to mean anything:
	// without one of them the objective is NO_DATA, its reason naming the series and the
	// requirement's hint, instead of a value computed without it (a cost per video without the
	// managed services' share of the cost, say).
	Requires []Requirement `yaml:"requires" json:"requires,omitempty"`
	// Windows are names (or path.Match patterns such as "recovery-*") of the windows the
	// caller supplies; default ["run"].
	Windows []string `yaml:"windows" json:"windows"`
	// FullLengthOnly marks an objective whose evidence needs the profile's windows at their
	// real length (a rate at a plateau, a sample count sized for the whole run). A run with
	// --time-scale below 1 does not evaluate it and lists it as not evaluated, with the
	// reason, instead of deciding it on compressed windows. At time scale 1 or more it is
	// evaluated as usual.
	FullLengthOnly bool `yaml:"full_length_only" json:"full_length_only,omitempty"`

	relative, relativeWarning *relCriterion
}

// MinSamples makes an objective NO_DATA when Query (same placeholders) returns less than Value.
type MinSamples struct {
	Query string  `yaml:"query" json:"query"`
	Value float64 `yaml:"value" json:"value"`
}

// Precondition is a criterion "Query Op Value" (same placeholders as the objective's query)
// that must hold for the objective to be evaluated; Reason says what it means when it does not.
type Precondition struct {
	Query  string  `yaml:"query" json:"query"`
	Op     string  `yaml:"op" json:"op"`
	Value  float64 `yaml:"value" json:"value"`
	Reason string  `yaml:"reason" json:"reason"`
}

// Requirement is a series an objective needs: Metric is a PromQL series selector, Hint says
// how to provide it.
type Requirement struct {
	Metric string `yaml:"metric" json:"metric"`
	Hint   string `yaml:"hint" json:"hint,omitempty"`
}

// Evidence is a query shown beside an objective.
type Evidence struct {
	Name  string `yaml:"name" json:"name"`
	Query string `yaml:"query" json:"query"`
	Unit  string `yaml:"unit" json:"unit,omitempty"`
}

type relCriterion struct {
	op      string
	percent float64
	text    string
}

type fileYAML struct {
	TotalScore *TotalScore `yaml:"total_score"`
	Objectives []Objective `yaml:"objectives"`
}

// Default returns the SLO set for DailyDoco Pro shipped with the binary (slo/default.yaml).
func Default() (*Spec, error) { return Parse(DefaultFile, defaultYAML) }

// DefaultYAML returns the text of the default SLO set, for `plan` and documentation.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Load reads and validates an SLO file.
func Load(file string) (*Spec, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read SLO file: %w", err)
	}
	return Parse(file, b)
}

// Parse decodes and validates an SLO file strictly: unknown fields, wrong types, bad
// operators, invalid PromQL and empty files are errors. Every problem is reported, each as
// "file:line: field: message", joined with errors.Join.
func Parse(file string, data []byte) (*Spec, error) {
	var f fileYAML
	doc, err := yamlfile.Decode(file, data, &f)
	if errors.Is(err, yamlfile.ErrEmpty) {
		return nil, &yamlfile.FieldError{Source: file, Line: 1, Field: "objectives", Msg: "the file has no objectives"}
	}
	if err != nil {
		return nil, err
	}
	v := validator{yamlfile.Validator{Doc: doc}}
	s := &Spec{File: file, Objectives: f.Objectives}
	s.TotalScore = TotalScore{Pass: DefaultPassPercent, Warning: DefaultWarningPercent}
	if f.TotalScore != nil {
		s.TotalScore = *f.TotalScore
		ts := s.TotalScore
		if ts.Pass < 0 || ts.Pass > 100 || ts.Warning < 0 || ts.Warning > ts.Pass {
			v.Fail("total_score", "need 0 <= warning <= pass <= 100, got pass %v warning %v", ts.Pass, ts.Warning)
		}
	}
	if len(s.Objectives) == 0 {
		v.Fail("objectives", "no objectives: an SLO file must define at least one")
	}
	seen := map[string]int{}
	for i := range s.Objectives {
		v.objective(i, &s.Objectives[i], seen)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

type validator struct{ yamlfile.Validator }

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
var relRE = regexp.MustCompile(`^(<=|>=|<|>)\s*([+-]\d+(?:\.\d+)?)%$`)

func (v *validator) objective(i int, o *Objective, seen map[string]int) {
	at := yamlfile.Index("objectives", i)
	label := at
	if o.ID != "" {
		label = fmt.Sprintf("%s (%s)", at, o.ID)
	}
	// failAt reports a problem with the field name on the line of the field lineOf, the one
	// that causes it ("value: required with op" is on the op's line); fail when they are one.
	failAt := func(lineOf, name, format string, args ...any) {
		v.FailAs(at+"."+lineOf, label+"."+name, format, args...)
	}
	fail := func(name, format string, args ...any) { failAt(name, name, format, args...) }
	switch {
	case o.ID == "":
		fail("id", "required")
	case !idRE.MatchString(o.ID):
		fail("id", "%q: use lower-case letters, digits, '_', '.', '-'", o.ID)
	case seen[o.ID] != 0:
		fail("id", "duplicate id %q (first at line %d)", o.ID, seen[o.ID])
	default:
		seen[o.ID] = v.Doc.Line(at + ".id")
	}
	v.query(at+".query", label+".query", o.Query, true)
	if o.Op == "" && o.Relative == "" {
		fail("op", "an objective needs op and value, or relative")
	}
	if o.Op != "" {
		if !validOp(o.Op) {
			fail("op", "%q is not one of <, <=, >, >=, ==", o.Op)
		}
		if o.Value == nil {
			failAt("op", "value", "required with op")
		}
	}
	if o.Op == "" && o.Value != nil {
		failAt("value", "op", "required with value")
	}
	if o.Warning != nil {
		switch {
		case o.Op == "" || o.Value == nil:
			fail("warning", "needs op and value")
		case (o.Op == OpLT || o.Op == OpLE) && *o.Warning < *o.Value,
			(o.Op == OpGT || o.Op == OpGE) && *o.Warning > *o.Value,
			o.Op == OpEQ:
			fail("warning", "%v is stricter than value %v for op %s; warning must be the looser threshold", *o.Warning, *o.Value, o.Op)
		}
	}
	for _, x := range []struct {
		name string
		text string
		dst  **relCriterion
	}{{"relative", o.Relative, &o.relative}, {"relative_warning", o.RelativeWarning, &o.relativeWarning}} {
		if x.text == "" {
			continue
		}
		m := relRE.FindStringSubmatch(strings.TrimSpace(x.text))
		if m == nil {
			fail(x.name, "%q: want an operator and a signed percentage, e.g. \"<=+10%%\"", x.text)
			continue
		}
		pct, err := strconv.ParseFloat(m[2], 64)
		if err != nil || math.IsInf(pct, 0) {
			fail(x.name, "%q: the percentage is out of range", x.text)
			continue
		}
		*x.dst = &relCriterion{op: m[1], percent: pct, text: m[1] + m[2] + "%"}
	}
	if o.RelativeWarning != "" && o.Relative == "" {
		fail("relative_warning", "needs relative")
	}
	if o.Weight == nil {
		one := 1.0
		o.Weight = &one
	} else if !(*o.Weight > 0) || math.IsInf(*o.Weight, 0) {
		fail("weight", "must be a positive number, got %v", *o.Weight)
	}
	switch o.EmptyMeans {
	case "":
		o.EmptyMeans = EmptyNoData
	case EmptyNoData, EmptyZero:
	default:
		fail("empty_means", "%q is not no_data or zero", o.EmptyMeans)
	}
	if ms := o.MinSamples; ms != nil {
		v.query(at+".min_samples.query", label+".min_samples.query", ms.Query, true)
		if !(ms.Value > 0) {
			fail("min_samples.value", "must be positive, got %v", ms.Value)
		}
	}
	for j, e := range o.Evidence {
		f := yamlfile.Index("evidence", j)
		if e.Name == "" {
			fail(f+".name", "required")
		}
		v.query(at+"."+f+".query", label+"."+f+".query", e.Query, true)
	}
	if iv := o.Interval; iv != nil {
		v.intervalSpec(at, label, o, iv)
	}
	for j, pc := range o.Preconditions {
		f := yamlfile.Index("preconditions", j)
		v.query(at+"."+f+".query", label+"."+f+".query", pc.Query, true)
		if !validOp(pc.Op) {
			fail(f+".op", "%q is not one of <, <=, >, >=, ==", pc.Op)
		}
		if pc.Reason == "" {
			fail(f+".reason", "required: say what it means when the precondition does not hold")
		}
	}
	for j, r := range o.Requires {
		f := yamlfile.Index("requires", j) + ".metric"
		if _, err := parser.NewParser(parser.Options{}).ParseMetricSelector(r.Metric); err != nil || strings.TrimSpace(r.Metric) == "" {
			fail(f, "%q is not a series selector such as dailydoco_fixed_hourly_cost{component=\"postgres\"}", r.Metric)
		}
	}
	if len(o.Windows) == 0 {
		o.Windows = []string{"run"}
	}
	for j, w := range o.Windows {
		if _, err := path.Match(w, ""); err != nil || w == "" {
			fail(yamlfile.Index("windows", j), "%q is not a window name or pattern", w)
		}
	}
}

// intervalSpec checks an objective's interval: a known method with what it needs.
func (v *validator) intervalSpec(at, label string, o *Objective, iv *IntervalSpec) {
	fail := func(name, format string, args ...any) {
		v.FailAs(at+".interval."+name, label+".interval."+name, format, args...)
	}
	switch iv.Method {
	case IntervalWilson:
		if o.MinSamples == nil {
			fail("method", "wilson needs min_samples: its query is the number of trials the share is of")
		}
	case IntervalPoisson, IntervalPoissonDenominator:
		v.query(at+".interval.count", label+".interval.count", iv.Count, true)
	case IntervalExact, IntervalSingle:
	default:
		fail("method", "%q is not one of %s, %s, %s, %s, %s", iv.Method, IntervalWilson, IntervalPoisson, IntervalPoissonDenominator, IntervalExact, IntervalSingle)
	}
	if iv.Method != IntervalPoisson && iv.Method != IntervalPoissonDenominator && iv.Count != "" {
		fail("count", "only poisson and poisson-denominator take a count")
	}
	if iv.Scale != "" {
		if iv.Method != IntervalPoisson {
			fail("scale", "only poisson takes a scale")
		}
		v.query(at+".interval.scale", label+".interval.scale", iv.Scale, false)
	}
}

// sampleWindow stands in for a real window when queries are checked at load time.
var sampleWindow = Window{Name: "run", Start: time.Unix(1_700_000_000, 0), End: time.Unix(1_700_003_600, 0)}

// query checks the PromQL q of the field at path, reported as field.
func (v *validator) query(path, field, q string, required bool) {
	if strings.TrimSpace(q) == "" {
		if required {
			v.FailAs(path, field, "required")
		}
		return
	}
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(Substitute(q, sampleWindow))
	if err != nil {
		v.FailAs(path, field, "invalid PromQL: %s", oneLine(err.Error()))
		return
	}
	if t := expr.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
		kind := string(t)
		if t == parser.ValueTypeMatrix {
			kind = "range vector"
		}
		v.FailAs(path, field, "PromQL evaluates to a %s; an objective needs an instant vector or a scalar", kind)
	}
}

func validOp(op string) bool {
	switch op {
	case OpLT, OpLE, OpGT, OpGE, OpEQ:
		return true
	}
	return false
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Substitute replaces $WINDOW, $START, $END and $FAULT in q for window w. $FAULT is the
// window's fault ("" outside fault and recovery windows, so a selector on it matches nothing
// there and the objective is NO_DATA, never PASS). $WINDOW is the window's
// length as a PromQL duration in whole seconds ("3600s"), or in milliseconds when it is not a
// whole number of seconds; $START and $END are Unix seconds with millisecond precision.
func Substitute(q string, w Window) string {
	ms := w.End.Sub(w.Start).Milliseconds()
	var win string
	if ms%1000 == 0 {
		win = strconv.FormatInt(ms/1000, 10) + "s"
	} else {
		win = strconv.FormatInt(ms, 10) + "ms"
	}
	r := strings.NewReplacer("$WINDOW", win, "$START", unixSeconds(w.Start), "$END", unixSeconds(w.End), "$FAULT", w.Fault)
	return r.Replace(q)
}

func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}
