package profile

import (
	"embed"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/internal/yamlfile"
	"github.com/dailydoco/ddp-verify/load"
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

// Limits every duration of a profile must respect, after --time-scale too: a duration shorter
// than MinDuration is below what the engine's clock and the SLO windows resolve (a scaled
// stage of a few microseconds runs as no stage at all), and one longer than MaxDuration is a
// mistake (or, scaled, an overflow) rather than a verification anyone waits for. Zero stays
// valid where it means something: a start at 0s, no graceful stop, a 0s stage that jumps.
const (
	MinDuration = time.Millisecond
	MaxDuration = 30 * 24 * time.Hour
)

// maxCount bounds every count (VUs, iterations) whatever --force says: the engine's counters
// and the sums of scenarios must not overflow.
const maxCount = math.MaxInt32

// Option changes how a profile is checked.
type Option func(*options)

type options struct {
	force       bool
	capacity    load.Capacity
	capacitySet bool
}

// Force accepts VUs and arrival rates beyond this machine's capacity (`--force`).
func Force() Option { return func(o *options) { o.force = true } }

// WithCapacity checks VUs and arrival rates against c instead of [load.MachineCapacity]; the
// zero Capacity bounds nothing.
func WithCapacity(c load.Capacity) Option {
	return func(o *options) { o.capacity, o.capacitySet = c, true }
}

func newOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// capacityOf is what the profile's load is checked against: nothing when forced.
func (o options) capacityOf() load.Capacity {
	switch {
	case o.force:
		return load.Capacity{}
	case o.capacitySet:
		return o.capacity
	}
	return load.MachineCapacity()
}

// Load resolves nameOrPath: a built-in profile name, or a path to a YAML file. The profile is
// decoded strictly and validated; every problem found is reported, each with file, line and field.
func Load(nameOrPath string, opts ...Option) (*Profile, error) {
	if data, err := builtin.ReadFile("profiles/" + nameOrPath + ".yaml"); err == nil && !strings.ContainsAny(nameOrPath, "/\\") {
		return Parse("builtin:"+nameOrPath, data, opts...)
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w %q: not a built-in profile (%s) and no such file", ErrUnknownProfile, nameOrPath, strings.Join(Builtin(), ", "))
		}
		return nil, fmt.Errorf("read profile: %w", err)
	}
	return Parse(nameOrPath, data, opts...)
}

// Parse decodes and validates one profile document. source names it in errors. Its VUs and
// arrival rates are checked against this machine's capacity ([load.MachineCapacity]) unless
// the profile says force_load or an option says otherwise.
func Parse(source string, data []byte, opts ...Option) (*Profile, error) {
	var p Profile
	doc, err := yamlfile.Decode(source, data, &p)
	if err != nil {
		return nil, err
	}
	p.source, p.doc, p.opts = source, doc, newOptions(opts)
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
		// Fault and window checks need a valid run length, and the capacity valid counts.
		return
	}
	v.capacity(p, p.opts.capacityOf())
	tl := p.Timeline()
	faultNames := map[string]bool{}
	for i, f := range p.Chaos {
		v.fault(i, f, tl, faultNames)
		v.alertExpectations(p, i, f)
	}
	v.alerting(p)
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
	nonNegative := func(field string, d Duration) { v.duration(at+"."+field, d) }
	nonNegative("startTime", s.StartTime)
	if s.GracefulStop != nil {
		nonNegative("gracefulStop", *s.GracefulStop)
	}
	if s.GracefulRampDown != nil {
		nonNegative("gracefulRampDown", *s.GracefulRampDown)
	}
	for _, c := range []struct {
		field string
		n     int
	}{{"startVUs", s.StartVUs}, {"vus", s.VUs}, {"iterations", s.Iterations}, {"preAllocatedVUs", s.PreAllocatedVUs}, {"maxVUs", s.MaxVUs}} {
		if c.n > maxCount {
			v.Fail(at+"."+c.field, "%d is more than %d", c.n, maxCount)
		}
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
			v.duration(sat+".duration", st.Duration)
			if st.Target < 0 {
				v.Fail(sat+".target", "must not be negative (got %v)", st.Target)
			}
		}
		// A stage of 0s is a jump; stages of 0s in all are no load at all.
		if len(s.Stages) > 0 && scenarioLength(*s) == 0 && !slices.ContainsFunc(s.Stages, func(st Stage) bool { return st.Duration.Duration < 0 }) {
			v.Fail(at+".stages", "the stages last 0s in all: a scenario needs a positive length")
		}
		if s.Executor == "ramping-vus" && s.StartVUs < 0 {
			v.Fail(at+".startVUs", "must not be negative")
		}
	case "constant-vus":
		positive("vus", s.VUs > 0, "must be at least 1")
		positive("duration", s.Duration.Duration > 0, "must be positive")
		v.durationRange(at+".duration", s.Duration)
	case "per-vu-iterations", "shared-iterations":
		positive("vus", s.VUs > 0, "must be at least 1")
		positive("iterations", s.Iterations > 0, "must be at least 1")
		nonNegative("maxDuration", s.MaxDuration)
	case "constant-arrival-rate":
		positive("rate", s.Rate > 0, "must be positive")
		positive("duration", s.Duration.Duration > 0, "must be positive")
		v.durationRange(at+".duration", s.Duration)
	}
	// Each stage and duration is bounded; their sum, the scenario's end, must be too.
	if end := satAdd(max(s.StartTime.Duration, 0), scenarioLength(*s)); end > MaxDuration {
		v.Fail(at, "the scenario ends at %s, after %s, the longest a profile may run", longText(end), longText(MaxDuration))
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
	v.workload(at, s)
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
		v.durationRange(mat+".min", m.Min)
		v.durationRange(mat+".max", m.Max)
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
	v.duration(at+".recovery_objective", f.RecoveryObjective)
	v.duration(at+".recovery", f.Recovery)
	// The chaos engine's rules below refuse a negative offset, duration or latency.
	v.durationRange(at+".at", f.At)
	v.durationRange(at+".duration", f.Duration)
	v.durationRange(at+".latency", f.Latency)
	if end := f.At.Duration + f.Duration.Duration; f.At.Duration >= 0 && end > tl.Duration {
		v.Fail(at+".duration", "fault ends at %s, after the run ends at %s", end, tl.Duration)
	}
	v.chaosRules(i, f)
}

// maxForScale bounds alerts.for_scale: a factor beyond it turns a 5-minute hold into hours,
// which is a typing mistake rather than a plan.
const maxForScale = 10

// alerting checks the profile's alerts section.
func (v *validator) alerting(p *Profile) {
	if p.Alerts == nil {
		return
	}
	if f := p.Alerts.ForScale; f < 0 || f > maxForScale || math.IsNaN(f) {
		v.Fail("alerts.for_scale", "%v must be above 0 and at most %d (0 or absent means 1: the rules as written)", f, maxForScale)
	}
}

// ruleName is what an alert or label name may be: Prometheus's classic name syntax, which
// every rule file and Alertmanager accept.
var ruleName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// alertExpectations checks the alerts fault i expects.
func (v *validator) alertExpectations(p *Profile, i int, f Fault) {
	if len(f.Alerts) > 0 && p.Alerts == nil {
		v.Fail(fmt.Sprintf("chaos[%d].alerts", i), "expected alerts are judged only when the profile has an alerts section (alerts: {} for the rules as written)")
	}
	seen := map[string]bool{}
	for j, a := range f.Alerts {
		at := fmt.Sprintf("chaos[%d].alerts[%d]", i, j)
		if !ruleName.MatchString(a.Alert) {
			v.Fail(at+".alert", "%q is not an alert name (letters, digits and _, not starting with a digit)", a.Alert)
		}
		for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
			if !ruleName.MatchString(k) {
				v.Fail(at+".labels", "%q is not a label name (letters, digits and _, not starting with a digit)", k)
			}
		}
		v.within(at+".fire_within", a.FireWithin, "injection")
		v.within(at+".resolve_within", a.ResolveWithin, "recovery")
		key := a.Alert + fmt.Sprint(a.Labels)
		if seen[key] {
			v.Fail(at+".alert", "%s with the same labels is expected twice", a.Alert)
		}
		seen[key] = true
	}
}

// within checks an expectation's time limit after the fault's injection or recovery.
func (v *validator) within(path string, d Duration, after string) {
	if d.Duration <= 0 {
		v.Fail(path, "is required and must be positive (how long after the fault's %s)", after)
		return
	}
	v.durationRange(path, d)
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
		v.durationRange(at+".from", w.From)
		v.durationRange(at+".to", w.To)
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

// duration refuses a negative duration and one outside [MinDuration, MaxDuration].
func (v *validator) duration(path string, d Duration) {
	if d.Duration < 0 {
		v.Fail(path, "must not be negative (got %s)", d)
		return
	}
	v.durationRange(path, d)
}

// durationRange refuses a positive duration outside [MinDuration, MaxDuration]; zero and
// negative durations are left to the field's own rule.
func (v *validator) durationRange(path string, d Duration) {
	switch {
	case d.Duration > 0 && d.Duration < MinDuration:
		v.Fail(path, "%s is shorter than %s, the shortest duration a profile may give", d, MinDuration)
	case d.Duration > MaxDuration:
		v.Fail(path, "%s is longer than %s, the longest duration a profile may give", longText(d.Duration), longText(MaxDuration))
	}
}

// longText writes a long duration in days as well: "2160h0m0s (90 days)".
func longText(d time.Duration) string {
	if d < 48*time.Hour {
		return d.String()
	}
	return fmt.Sprintf("%s (%.4g days)", d, d.Hours()/24)
}

// satAdd is a+b for non-negative durations, saturating instead of overflowing.
func satAdd(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// capacity refuses load beyond c, an estimate of what this machine can hold, unless the
// profile says force_load: each scenario's peak VUs and arrival rate on the field that sets
// it, and the scenarios' VUs together (an upper bound: they may overlap).
func (v *validator) capacity(p *Profile, c load.Capacity) {
	if p.ForceLoad || !c.Bounded() {
		return
	}
	const force = "; --force (or force_load: true in the profile) runs it anyway"
	var total int64
	alone := false
	for i, s := range p.Scenarios {
		at := fmt.Sprintf("scenarios[%d]", i)
		field, vus := peakVUs(s)
		total += vus
		if err := c.CheckVUs(vus); err != nil {
			v.Fail(at+"."+field, "%v%s", err, force)
			alone = true
		}
		if field, rate := peakRate(s); c.CheckRate(rate) != nil {
			v.Fail(at+"."+field, "%v%s", c.CheckRate(rate), force)
		}
	}
	if err := c.CheckVUs(total); err != nil && !alone {
		v.Fail("scenarios", "the scenarios together may hold VUs at once: %v%s", err, force)
	}
}

// peakVUs is the most VUs scenario s holds and the field (under the scenario) that sets it.
func peakVUs(s Scenario) (string, int64) {
	switch s.Executor {
	case "ramping-vus":
		field, peak := "startVUs", float64(s.StartVUs)
		for j, st := range s.Stages {
			if st.Target > peak {
				field, peak = fmt.Sprintf("stages[%d].target", j), st.Target
			}
		}
		return field, int64(math.Min(math.Ceil(peak), maxCount))
	case "constant-arrival-rate", "ramping-arrival-rate":
		if s.MaxVUs > s.PreAllocatedVUs {
			return "maxVUs", int64(s.MaxVUs)
		}
		return "preAllocatedVUs", int64(s.PreAllocatedVUs)
	}
	return "vus", int64(s.VUs)
}

// peakRate is the highest arrival rate of scenario s per second and the field that sets it;
// 0 for executors without one.
func peakRate(s Scenario) (string, float64) {
	unit := s.TimeUnit.Duration
	if unit <= 0 {
		unit = time.Second
	}
	perSecond := func(r float64) float64 { return r / unit.Seconds() }
	switch s.Executor {
	case "constant-arrival-rate":
		return "rate", perSecond(s.Rate)
	case "ramping-arrival-rate":
		field, peak := "startRate", s.StartRate
		for j, st := range s.Stages {
			if st.Target > peak {
				field, peak = fmt.Sprintf("stages[%d].target", j), st.Target
			}
		}
		return field, perSecond(peak)
	}
	return "", 0
}

// jsIdentifier is what an exec function's name may be.
var jsIdentifier = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// workload checks what the scenario's users do: DailyDoco journeys, or a k6 script's
// function, never both.
func (v *validator) workload(at string, s *Scenario) {
	if s.Script == "" {
		if s.Exec != "" {
			v.Fail(at+".exec", "exec names a function of a script: give script too")
		}
		if len(s.Journeys) == 0 {
			v.Fail(at+".journeys", "at least one journey with a positive weight is required (or a script)")
		}
		return
	}
	for _, f := range []struct {
		field string
		set   bool
	}{{"journeys", len(s.Journeys) > 0}, {"thinkTime", s.ThinkTime != ThinkTime{}}, {"media", len(s.Media) > 0}} {
		if f.set {
			v.Fail(at+"."+f.field, "a scenario with a script takes no %s: the script says what its users do", f.field)
		}
	}
	if !strings.HasSuffix(s.Script, ".js") {
		v.Fail(at+".script", "want a k6 script file ending in .js, got %q", s.Script)
	}
	if s.Exec != "" && !jsIdentifier.MatchString(s.Exec) {
		v.Fail(at+".exec", "%q is not a JavaScript function name", s.Exec)
	}
}
