package profile

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

)

//go:embed profiles/*.yaml
var builtin embed.FS

// ErrUnknownProfile is returned by [Load] for a name that is neither built in nor a file.
var ErrUnknownProfile = errors.New("unknown profile")

// Builtin lists the names of the embedded profiles, sorted.
func Builtin() []string {
	entries, _ := builtin.ReadDir("profiles")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Load resolves nameOrPath: a built-in profile name, or a path to a YAML file. The profile is
// decoded strictly and validated; every problem found is reported, each with file, line and field.
func Load(nameOrPath string) (*Profile, error) {
	if data, err := builtin.ReadFile("profiles/" + nameOrPath + ".yaml"); err == nil && !strings.ContainsAny(nameOrPath, "/\\") {
		return Parse("builtin:"+nameOrPath, data)
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w %q: not a built-in profile (%s) and no such file", ErrUnknownProfile, nameOrPath, strings.Join(Builtin(), ", "))
		}
		return nil, fmt.Errorf("read profile: %w", err)
	}
	return Parse(nameOrPath, data)
}

// Parse decodes and validates one profile document. source names it in errors.
func Parse(source string, data []byte) (*Profile, error) {
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty profile", source)
		}
		return nil, fmt.Errorf("%s", rewriteYAMLError(source, err))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	p.source, p.root = source, &root
	if err := p.check(); err != nil {
		return nil, err
	}
	return &p, nil
}

// check validates the profile with every rule and, when it passes, resolves its plan. Lines in
// errors come from the document the profile was parsed from.
func (p *Profile) check() error {
	v := validator{source: p.source, root: p.root}
	v.profile(p)
	if len(v.errs) == 0 {
		p.plan = v.resolve(p)
	}
	return errors.Join(v.errs...)
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// rewriteYAMLError turns yaml.v3's "yaml: unmarshal errors:\n  line 3: field x not found in
// type profile.Profile" into "FILE:3: unknown field x", one line per problem.
func rewriteYAMLError(source string, err error) string {
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		line := ""
		if loc := yamlLine.FindStringSubmatch(m); loc != nil {
			line = loc[1]
			m = yamlLine.ReplaceAllString(m, "")
		}
		m = regexp.MustCompile(`field (\S+) not found in type \S+`).ReplaceAllString(m, "unknown field $1")
		m = regexp.MustCompile(`cannot unmarshal !!(\w+) .(.*). into \S+`).ReplaceAllString(m, "a $1 \"$2\" is not valid here")
		if line != "" {
			out = append(out, fmt.Sprintf("%s:%s: %s", source, line, m))
		} else {
			out = append(out, fmt.Sprintf("%s: %s", source, m))
		}
	}
	return strings.Join(out, "\n")
}

// validator collects every problem with the field path and the line it is on.
type validator struct {
	source string
	root   *yaml.Node
	errs   []error
}

// FieldError is one validation problem.
type FieldError struct {
	Source string // file or builtin:NAME
	Line   int    // 0 when the field is absent from the file
	Field  string // path such as scenarios[0].stages[2].duration
	Msg    string
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", e.Source, e.Line, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Source, e.Field, e.Msg)
}

func (v *validator) fail(field, format string, args ...any) {
	line := 0
	if v.root != nil { // a profile built in code has no document
		line = lineOf(v.root, field)
	}
	v.errs = append(v.errs, &FieldError{Source: v.source, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// lineOf finds the line of a field path (a.b[2].c) in the document; for an absent field it
// returns the line of the nearest present parent.
func lineOf(root *yaml.Node, field string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range strings.Split(field, ".") {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 {
			name = part[:i]
			idx, _ = strconv.Atoi(strings.TrimSuffix(part[i+1:], "]"))
		}
		next := mapValue(n, name)
		if next == nil {
			return line
		}
		line = next.Line
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (v *validator) profile(p *Profile) {
	if strings.TrimSpace(p.Name) == "" {
		v.fail("name", "is required")
	}
	if len(p.Scenarios) == 0 {
		v.fail("scenarios", "at least one scenario is required")
	}
	stageNames := map[string]bool{}
	scenarioNames := map[string]bool{}
	for i := range p.Scenarios {
		v.scenario(p, i, stageNames, scenarioNames)
	}
	if len(v.errs) > 0 {
		// Fault and window checks need a valid run length.
		return
	}
	tl := p.Timeline()
	faultNames := map[string]bool{}
	for i, f := range p.Chaos {
		v.fault(i, f, tl, faultNames)
	}
	windowNames := map[string]bool{}
	for _, w := range tl.Windows {
		if w.Kind != WindowDeclared {
			windowNames[w.Name] = true
		}
	}
	for i, w := range p.Windows {
		v.window(i, w, stageNames, scenarioNames, tl, windowNames)
	}
	if p.SLO == "" {
		v.fail("slo", "is required (\"default\" for the built-in objectives, or a path)")
	}
}

func (v *validator) scenario(p *Profile, i int, stageNames, scenarioNames map[string]bool) {
	s := &p.Scenarios[i]
	at := fmt.Sprintf("scenarios[%d]", i)
	if s.Name == "" {
		s.Name = fmt.Sprintf("scenario-%d", i+1)
	}
	if scenarioNames[s.Name] {
		v.fail(at+".name", "duplicate scenario name %q", s.Name)
	}
	scenarioNames[s.Name] = true
	if !contains(Executors, s.Executor) {
		v.fail(at+".executor", "unknown executor %q (one of %s)", s.Executor, strings.Join(Executors, ", "))
		return
	}
	nonNegative := func(field string, d Duration) {
		if d.Duration < 0 {
			v.fail(at+"."+field, "must not be negative (got %s)", d)
		}
	}
	nonNegative("startTime", s.StartTime)
	if s.GracefulStop != nil {
		nonNegative("gracefulStop", *s.GracefulStop)
	}
	if s.GracefulRampDown != nil {
		nonNegative("gracefulRampDown", *s.GracefulRampDown)
	}
	positive := func(field string, ok bool, what string) {
		if !ok {
			v.fail(at+"."+field, "%s", what)
		}
	}
	switch s.Executor {
	case "ramping-vus", "ramping-arrival-rate":
		positive("stages", len(s.Stages) > 0, "at least one stage is required")
		for j := range s.Stages {
			st := &s.Stages[j]
			sat := fmt.Sprintf("%s.stages[%d]", at, j)
			if st.Name == "" {
				st.Name = fmt.Sprintf("%s-%d", s.Name, j+1)
			}
			if stageNames[st.Name] {
				v.fail(sat+".name", "duplicate stage name %q (stage names are window names and must be unique)", st.Name)
			}
			stageNames[st.Name] = true
			if st.Duration.Duration < 0 {
				v.fail(sat+".duration", "must not be negative (got %s)", st.Duration)
			}
			if st.Target < 0 {
				v.fail(sat+".target", "must not be negative (got %v)", st.Target)
			}
		}
		if s.Executor == "ramping-vus" && s.StartVUs < 0 {
			v.fail(at+".startVUs", "must not be negative")
		}
	case "constant-vus":
		positive("vus", s.VUs > 0, "must be at least 1")
		positive("duration", s.Duration.Duration > 0, "must be positive")
	case "per-vu-iterations", "shared-iterations":
		positive("vus", s.VUs > 0, "must be at least 1")
		positive("iterations", s.Iterations > 0, "must be at least 1")
		nonNegative("maxDuration", s.MaxDuration)
	case "constant-arrival-rate":
		positive("rate", s.Rate > 0, "must be positive")
		positive("duration", s.Duration.Duration > 0, "must be positive")
	}
	if strings.HasSuffix(s.Executor, "arrival-rate") {
		nonNegative("timeUnit", s.TimeUnit)
		positive("preAllocatedVUs", s.PreAllocatedVUs > 0, "must be at least 1")
		if s.MaxVUs != 0 && s.MaxVUs < s.PreAllocatedVUs {
			v.fail(at+".maxVUs", "must be at least preAllocatedVUs (%d)", s.PreAllocatedVUs)
		}
	}
	if len(s.Journeys) == 0 {
		v.fail(at+".journeys", "at least one journey with a positive weight is required")
	}
	names := make([]string, 0, len(s.Journeys))
	for name := range s.Journeys {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if w := s.Journeys[name]; w <= 0 {
			v.fail(at+".journeys."+name, "weight must be positive (got %v)", w)
		}
	}
	for j, m := range s.Media {
		mat := fmt.Sprintf("%s.media[%d]", at, j)
		if m.Resolution != "4k" && m.Resolution != "1080p" && m.Resolution != "720p" {
			v.fail(mat+".resolution", "unknown resolution %q (4k, 1080p or 720p)", m.Resolution)
		}
		if m.Min.Duration <= 0 || m.Max.Duration < m.Min.Duration {
			v.fail(mat+".max", "media durations need 0 < min <= max (got %s..%s)", m.Min, m.Max)
		}
		if m.Share <= 0 {
			v.fail(mat+".share", "must be positive (got %v)", m.Share)
		}
	}
	tt := s.ThinkTime
	switch tt.Distribution {
	case "", "constant", "uniform", "exponential":
	default:
		v.fail(at+".thinkTime.distribution", "unknown distribution %q (constant, uniform or exponential)", tt.Distribution)
	}
	for field, d := range map[string]Duration{"mean": tt.Mean, "min": tt.Min, "max": tt.Max} {
		nonNegative("thinkTime."+field, d)
	}
	if tt.Max.Duration > 0 && tt.Min.Duration > tt.Max.Duration {
		v.fail(at+".thinkTime.min", "is greater than thinkTime.max")
	}
}

func (v *validator) fault(i int, f Fault, tl Timeline, names map[string]bool) {
	at := fmt.Sprintf("chaos[%d]", i)
	if f.Name == "" {
		v.fail(at+".name", "is required (it names the fault's windows)")
	} else if names[f.Name] {
		v.fail(at+".name", "duplicate fault name %q", f.Name)
	}
	names[f.Name] = true
	if f.RecoveryObjective.Duration < 0 {
		v.fail(at+".recovery_objective", "must not be negative (got %s)", f.RecoveryObjective)
	}
	if f.Recovery.Duration < 0 {
		v.fail(at+".recovery", "must not be negative (got %s)", f.Recovery)
	}
	if end := f.At.Duration + f.Duration.Duration; f.At.Duration >= 0 && end > tl.Duration {
		v.fail(at+".duration", "fault ends at %s, after the run ends at %s", end, tl.Duration)
	}
	v.chaosRules(i, f)
}

func (v *validator) window(i int, w WindowSpec, stages, scenarios map[string]bool, tl Timeline, names map[string]bool) {
	at := fmt.Sprintf("windows[%d]", i)
	if w.Name == "" {
		v.fail(at+".name", "is required")
		return
	}
	if names[w.Name] {
		v.fail(at+".name", "window %q is defined twice (automatic windows: run, stage-NAME, fault-NAME, recovery-NAME)", w.Name)
	}
	names[w.Name] = true
	byStage := w.Stage != "" || w.ToStage != ""
	byOffset := w.From.Duration != 0 || w.To.Duration != 0
	switch {
	case byStage && byOffset:
		v.fail(at, "give either stage/to_stage or from/to, not both")
	case byStage:
		if !stages[w.Stage] {
			v.fail(at+".stage", "refers to no stage %q", w.Stage)
		}
		if w.ToStage != "" && !stages[w.ToStage] {
			v.fail(at+".to_stage", "refers to no stage %q", w.ToStage)
		}
	case byOffset:
		if w.From.Duration < 0 || w.To.Duration <= w.From.Duration {
			v.fail(at+".to", "must be after from (from %s, to %s)", w.From, w.To)
		}
		if w.To.Duration > tl.Duration {
			v.fail(at+".to", "ends at %s, after the run ends at %s", w.To, tl.Duration)
		}
	case w.Scenario != "":
		if !scenarios[w.Scenario] {
			v.fail(at+".scenario", "refers to no scenario %q", w.Scenario)
		}
	default:
		v.fail(at, "window %q refers to nothing: give stage, from/to or scenario", w.Name)
	}
}
