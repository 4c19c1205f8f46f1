package slo

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
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
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var f fileYAML
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s:1: objectives: the file has no objectives", file)
		}
		return nil, typeErrors(file, err)
	}
	v := validator{file: file, root: &root}
	s := &Spec{File: file, Objectives: f.Objectives}
	s.TotalScore = TotalScore{Pass: DefaultPassPercent, Warning: DefaultWarningPercent}
	if f.TotalScore != nil {
		s.TotalScore = *f.TotalScore
		ts := s.TotalScore
		if ts.Pass < 0 || ts.Pass > 100 || ts.Warning < 0 || ts.Warning > ts.Pass {
			v.errf(v.line("total_score"), "total_score", "need 0 <= warning <= pass <= 100, got pass %v warning %v", ts.Pass, ts.Warning)
		}
	}
	if len(s.Objectives) == 0 {
		v.errf(v.line("objectives"), "objectives", "no objectives: an SLO file must define at least one")
	}
	seen := map[string]int{}
	for i := range s.Objectives {
		v.objective(i, &s.Objectives[i], seen)
	}
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return s, nil
}

var yamlLineRE = regexp.MustCompile(`^line (\d+): (.*)$`)
var unknownFieldRE = regexp.MustCompile(`^field (\S+) not found in type .*$`)

// typeErrors rewrites yaml.v3's "line N: field x not found in type slo.Objective" as
// "file:N: x: unknown field".
func typeErrors(file string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	errs := make([]error, 0, len(te.Errors))
	for _, e := range te.Errors {
		m := yamlLineRE.FindStringSubmatch(e)
		if m == nil {
			errs = append(errs, fmt.Errorf("%s: %s", file, e))
			continue
		}
		msg := m[2]
		if u := unknownFieldRE.FindStringSubmatch(msg); u != nil {
			msg = u[1] + ": unknown field"
		}
		errs = append(errs, fmt.Errorf("%s:%s: %s", file, m[1], msg))
	}
	return errors.Join(errs...)
}

type validator struct {
	file string
	root *yaml.Node
	errs []error
}

func (v *validator) errf(line int, field, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s:%d: %s: %s", v.file, line, field, fmt.Sprintf(format, args...)))
}

// node finds the value node at a path of mapping keys and sequence indexes.
func (v *validator) node(p ...any) (key, val *yaml.Node) {
	n := v.root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	key = n
	for _, step := range p {
		switch s := step.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return key, nil
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					key, n, found = n.Content[i], n.Content[i+1], true
					break
				}
			}
			if !found {
				return key, nil
			}
		case int:
			if n.Kind != yaml.SequenceNode || s >= len(n.Content) {
				return key, nil
			}
			key, n = n.Content[s], n.Content[s]
		}
	}
	return key, n
}

// line is the line of the field at p, or of its closest existing parent.
func (v *validator) line(p ...any) int {
	k, _ := v.node(p...)
	if k == nil || k.Line == 0 {
		return 1
	}
	return k.Line
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
var relRE = regexp.MustCompile(`^(<=|>=|<|>)\s*([+-]\d+(?:\.\d+)?)%$`)

func (v *validator) objective(i int, o *Objective, seen map[string]int) {
	field := func(name string) string {
		if o.ID != "" {
			return fmt.Sprintf("objectives[%d] (%s).%s", i, o.ID, name)
		}
		return fmt.Sprintf("objectives[%d].%s", i, name)
	}
	at := func(name string) int { return v.line("objectives", i, name) }
	switch {
	case o.ID == "":
		v.errf(v.line("objectives", i), field("id"), "required")
	case !idRE.MatchString(o.ID):
		v.errf(at("id"), field("id"), "%q: use lower-case letters, digits, '_', '.', '-'", o.ID)
	case seen[o.ID] != 0:
		v.errf(at("id"), field("id"), "duplicate id %q (first at line %d)", o.ID, seen[o.ID])
	default:
		seen[o.ID] = at("id")
	}
	v.query(at("query"), field("query"), o.Query, true)
	if o.Op == "" && o.Relative == "" {
		v.errf(v.line("objectives", i), field("op"), "an objective needs op and value, or relative")
	}
	if o.Op != "" {
		if !validOp(o.Op) {
			v.errf(at("op"), field("op"), "%q is not one of <, <=, >, >=, ==", o.Op)
		}
		if o.Value == nil {
			v.errf(at("op"), field("value"), "required with op")
		}
	}
	if o.Op == "" && o.Value != nil {
		v.errf(at("value"), field("op"), "required with value")
	}
	if o.Warning != nil {
		switch {
		case o.Op == "" || o.Value == nil:
			v.errf(at("warning"), field("warning"), "needs op and value")
		case (o.Op == OpLT || o.Op == OpLE) && *o.Warning < *o.Value,
			(o.Op == OpGT || o.Op == OpGE) && *o.Warning > *o.Value,
			o.Op == OpEQ:
			v.errf(at("warning"), field("warning"), "%v is stricter than value %v for op %s; warning must be the looser threshold", *o.Warning, *o.Value, o.Op)
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
			v.errf(at(x.name), field(x.name), "%q: want an operator and a signed percentage, e.g. \"<=+10%%\"", x.text)
			continue
		}
		pct, _ := strconv.ParseFloat(m[2], 64)
		*x.dst = &relCriterion{op: m[1], percent: pct, text: m[1] + m[2] + "%"}
	}
	if o.RelativeWarning != "" && o.Relative == "" {
		v.errf(at("relative_warning"), field("relative_warning"), "needs relative")
	}
	if o.Weight == nil {
		one := 1.0
		o.Weight = &one
	} else if !(*o.Weight > 0) || math.IsInf(*o.Weight, 0) {
		v.errf(at("weight"), field("weight"), "must be a positive number, got %v", *o.Weight)
	}
	switch o.EmptyMeans {
	case "":
		o.EmptyMeans = EmptyNoData
	case EmptyNoData, EmptyZero:
	default:
		v.errf(at("empty_means"), field("empty_means"), "%q is not no_data or zero", o.EmptyMeans)
	}
	if ms := o.MinSamples; ms != nil {
		v.query(v.line("objectives", i, "min_samples", "query"), field("min_samples.query"), ms.Query, true)
		if !(ms.Value > 0) {
			v.errf(v.line("objectives", i, "min_samples", "value"), field("min_samples.value"), "must be positive, got %v", ms.Value)
		}
	}
	for j, e := range o.Evidence {
		f := fmt.Sprintf("evidence[%d]", j)
		if e.Name == "" {
			v.errf(v.line("objectives", i, "evidence", j), field(f+".name"), "required")
		}
		v.query(v.line("objectives", i, "evidence", j, "query"), field(f+".query"), e.Query, true)
	}
	if len(o.Windows) == 0 {
		o.Windows = []string{"run"}
	}
	for j, w := range o.Windows {
		if _, err := path.Match(w, ""); err != nil || w == "" {
			v.errf(v.line("objectives", i, "windows", j), field(fmt.Sprintf("windows[%d]", j)), "%q is not a window name or pattern", w)
		}
	}
}

// sampleWindow stands in for a real window when queries are checked at load time.
var sampleWindow = Window{Name: "run", Start: time.Unix(1_700_000_000, 0), End: time.Unix(1_700_003_600, 0)}

func (v *validator) query(line int, field, q string, required bool) {
	if strings.TrimSpace(q) == "" {
		if required {
			v.errf(line, field, "required")
		}
		return
	}
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(Substitute(q, sampleWindow))
	if err != nil {
		v.errf(line, field, "invalid PromQL: %s", oneLine(err.Error()))
		return
	}
	if t := expr.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
		kind := string(t)
		if t == parser.ValueTypeMatrix {
			kind = "range vector"
		}
		v.errf(line, field, "PromQL evaluates to a %s; an objective needs an instant vector or a scalar", kind)
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

// Substitute replaces $WINDOW, $START and $END in q for window w. $WINDOW is the window's
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
	r := strings.NewReplacer("$WINDOW", win, "$START", unixSeconds(w.Start), "$END", unixSeconds(w.End))
	return r.Replace(q)
}

func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}
