package profile

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/dailydoco/ddp-verify/internal/yamlfile"
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
	doc, err := yamlfile.Decode(source, data, &p)
	if err != nil {
		return nil, err
	}
	p.source, p.doc = source, doc
	if err := p.check(); err != nil {
		return nil, err
	}
	return &p, nil
}

// check validates the profile with every rule and, when it passes, resolves its plan. Lines in
// errors come from the document the profile was parsed from (none for a profile built in code).
func (p *Profile) check() error {
	v := validator{yamlfile.Validator{Doc: p.doc}}
	v.profile(p)
	if v.Len() == 0 {
		p.plan = v.resolve(p)
	}
	return v.Err()
}

// FieldError is one problem in a profile file, at a field path such as
// scenarios[0].stages[2].duration. [Load] and [Parse] report every problem in a file as one,
// joined with errors.Join; only an empty file is reported otherwise.
type FieldError = yamlfile.FieldError

// validator collects every problem with the field path and the line it is on.
type validator struct{ yamlfile.Validator }

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
		v.Fail("name", "is required")
	}
	if len(p.Scenarios) == 0 {
		v.Fail("scenarios", "at least one scenario is required")
	}
	switch p.Decision {
	case "", DecisionPoint, DecisionConfident:
	default:
		v.Fail("decision", "unknown decision %q (%s or %s)", p.Decision, DecisionPoint, DecisionConfident)
	}
	stageNames := map[string]bool{}
	scenarioNames := map[string]bool{}
	for i := range p.Scenarios {
		v.scenario(p, i, stageNames, scenarioNames)
	}
	if v.Len() > 0 {
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
		v.Fail("slo", "is required (\"default\" for the built-in objectives, or a path)")
	}
}

func (v *validator) scenario(p *Profile, i int, stageNames, scenarioNames map[string]bool) {
	s := &p.Scenarios[i]
	at := fmt.Sprintf("scenarios[%d]", i)
	if s.Name == "" {
		s.Name = fmt.Sprintf("scenario-%d", i+1)
	}
	if scenarioNames[s.Name] {
		v.Fail(at+".name", "duplicate scenario name %q", s.Name)
	}
	scenarioNames[s.Name] = true
	if !contains(Executors, s.Executor) {
		v.Fail(at+".executor", "unknown executor %q (one of %s)", s.Executor, strings.Join(Executors, ", "))
		return
	}
	nonNegative := func(field string, d Duration) {
		if d.Duration < 0 {
			v.Fail(at+"."+field, "must not be negative (got %s)", d)
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
			v.Fail(at+"."+field, "%s", what)
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
				v.Fail(sat+".name", "duplicate stage name %q (stage names are window names and must be unique)", st.Name)
			}
			stageNames[st.Name] = true
			if st.Duration.Duration < 0 {
				v.Fail(sat+".duration", "must not be negative (got %s)", st.Duration)
			}
			if st.Target < 0 {
				v.Fail(sat+".target", "must not be negative (got %v)", st.Target)
			}
		}
		if s.Executor == "ramping-vus" && s.StartVUs < 0 {
			v.Fail(at+".startVUs", "must not be negative")
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
	switch {
	case s.Arrivals != "" && !strings.HasSuffix(s.Executor, "arrival-rate"):
		v.Fail(at+".arrivals", "only the arrival-rate executors take arrivals")
	case s.Arrivals != "" && s.Arrivals != ArrivalsEven && s.Arrivals != ArrivalsPoisson:
		v.Fail(at+".arrivals", "unknown arrivals %q (%s, the default, or %s)", s.Arrivals, ArrivalsEven, ArrivalsPoisson)
	}
	if strings.HasSuffix(s.Executor, "arrival-rate") {
		nonNegative("timeUnit", s.TimeUnit)
		positive("preAllocatedVUs", s.PreAllocatedVUs > 0, "must be at least 1")
		if s.MaxVUs != 0 && s.MaxVUs < s.PreAllocatedVUs {
			v.Fail(at+".maxVUs", "must be at least preAllocatedVUs (%d)", s.PreAllocatedVUs)
		}
	}
	if len(s.Journeys) == 0 {
		v.Fail(at+".journeys", "at least one journey with a positive weight is required")
	}
	names := make([]string, 0, len(s.Journeys))
	for name := range s.Journeys {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if w := s.Journeys[name]; w <= 0 {
			v.Fail(yamlfile.Join(at+".journeys", name), "weight must be positive (got %v)", w)
		}
	}
	for j, m := range s.Media {
		mat := fmt.Sprintf("%s.media[%d]", at, j)
		if m.Resolution != "4k" && m.Resolution != "1080p" && m.Resolution != "720p" {
			v.Fail(mat+".resolution", "unknown resolution %q (4k, 1080p or 720p)", m.Resolution)
		}
		if m.Min.Duration <= 0 || m.Max.Duration < m.Min.Duration {
			v.Fail(mat+".max", "media durations need 0 < min <= max (got %s..%s)", m.Min, m.Max)
		}
		if m.Share <= 0 {
			v.Fail(mat+".share", "must be positive (got %v)", m.Share)
		}
	}
	v.failureBackoff(at, s.FailureBackoff)
	tt := s.ThinkTime
	switch tt.Distribution {
	case "", "constant", "uniform", "exponential":
	default:
		v.Fail(at+".thinkTime.distribution", "unknown distribution %q (constant, uniform or exponential)", tt.Distribution)
	}
	for field, d := range map[string]Duration{"mean": tt.Mean, "min": tt.Min, "max": tt.Max} {
		nonNegative("thinkTime."+field, d)
	}
	if tt.Max.Duration > 0 && tt.Min.Duration > tt.Max.Duration {
		v.Fail(at+".thinkTime.min", "is greater than thinkTime.max")
	}
}

func (v *validator) fault(i int, f Fault, tl Timeline, names map[string]bool) {
	at := fmt.Sprintf("chaos[%d]", i)
	if f.Name == "" {
		v.Fail(at+".name", "is required (it names the fault's windows)")
	} else if names[f.Name] {
		v.Fail(at+".name", "duplicate fault name %q", f.Name)
	}
	names[f.Name] = true
	if f.RecoveryObjective.Duration < 0 {
		v.Fail(at+".recovery_objective", "must not be negative (got %s)", f.RecoveryObjective)
	}
	if f.Recovery.Duration < 0 {
		v.Fail(at+".recovery", "must not be negative (got %s)", f.Recovery)
	}
	if end := f.At.Duration + f.Duration.Duration; f.At.Duration >= 0 && end > tl.Duration {
		v.Fail(at+".duration", "fault ends at %s, after the run ends at %s", end, tl.Duration)
	}
	v.chaosRules(i, f)
}

func (v *validator) window(i int, w WindowSpec, stages, scenarios map[string]bool, tl Timeline, names map[string]bool) {
	at := fmt.Sprintf("windows[%d]", i)
	if w.Name == "" {
		v.Fail(at+".name", "is required")
		return
	}
	if names[w.Name] {
		v.Fail(at+".name", "window %q is defined twice (automatic windows: run, stage-NAME, fault-NAME, recovery-NAME)", w.Name)
	}
	names[w.Name] = true
	byStage := w.Stage != "" || w.ToStage != ""
	byOffset := w.From.Duration != 0 || w.To.Duration != 0
	switch {
	case byStage && byOffset:
		v.Fail(at, "give either stage/to_stage or from/to, not both")
	case byStage:
		if !stages[w.Stage] {
			v.Fail(at+".stage", "refers to no stage %q", w.Stage)
		}
		if w.ToStage != "" && !stages[w.ToStage] {
			v.Fail(at+".to_stage", "refers to no stage %q", w.ToStage)
		}
	case byOffset:
		if w.From.Duration < 0 || w.To.Duration <= w.From.Duration {
			v.Fail(at+".to", "must be after from (from %s, to %s)", w.From, w.To)
		}
		if w.To.Duration > tl.Duration {
			v.Fail(at+".to", "ends at %s, after the run ends at %s", w.To, tl.Duration)
		}
	case w.Scenario != "":
		if !scenarios[w.Scenario] {
			v.Fail(at+".scenario", "refers to no scenario %q", w.Scenario)
		}
	default:
		v.Fail(at, "window %q refers to nothing: give stage, from/to or scenario", w.Name)
	}
}
