package k6script

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/load"
)

// Overrides replace a script's execution options the way k6's command-line flags do (--vus,
// --duration, --iterations, --stage). Zero fields are unset. Setting Duration, Iterations or
// Stages replaces the script's own shortcuts and its scenarios with the one scenario "default"
// those shortcuts make (VUs from the override or else the script); VUs alone changes the
// script's vus shortcut and is an error for a script that defines scenarios.
type Overrides struct {
	VUs        int64
	Duration   time.Duration
	Iterations int64
	Stages     []load.Stage
}

func (o Overrides) execution() bool { return o.Duration > 0 || o.Iterations > 0 || len(o.Stages) > 0 }

// topLevelOptions are the supported keys of the exported options.
var topLevelOptions = set("vus", "duration", "iterations", "stages", "scenarios", "thresholds",
	"setupTimeout", "teardownTimeout", "noConnectionReuse", "userAgent", "insecureSkipTLSVerify", "maxRedirects", "discardResponseBodies", "tags")

// executorFields are the fields each executor accepts beside the common ones, with k6's names.
var executorFields = map[string]map[string]bool{
	"constant-vus":          set("vus", "duration"),
	"ramping-vus":           set("startVUs", "stages", "gracefulRampDown"),
	"per-vu-iterations":     set("vus", "iterations", "maxDuration"),
	"shared-iterations":     set("vus", "iterations", "maxDuration"),
	"constant-arrival-rate": set("rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"),
	"ramping-arrival-rate":  set("startRate", "timeUnit", "stages", "preAllocatedVUs", "maxVUs"),
}

var commonFields = set("executor", "startTime", "gracefulStop", "exec", "env", "tags")

// Scenarios returns the script's scenarios for the engine, after ov, with k6's rules: the
// shortcuts iterations (shared-iterations, with vus and duration as maxDuration), duration
// (constant-vus with vus) and stages (ramping-vus starting at vus), or else the scenarios
// map, or else one VU running one iteration. Every scenario is named (the shortcuts make
// "default") and validated; errors name the script and the option or field.
func (s *Script) Scenarios(ov Overrides) ([]load.ScenarioConfig, error) {
	if err := errors.Join(s.checkTopLevel(), s.checkExecs()); err != nil {
		return nil, err
	}
	scs, err := s.deriveScenarios(ov)
	if err != nil {
		return nil, fmt.Errorf("k6 script %s: %w", s.path, err)
	}
	for _, sc := range scs {
		if err := sc.Validate(); err != nil {
			return nil, fmt.Errorf("k6 script %s: %w", s.path, err)
		}
	}
	return scs, nil
}

func (s *Script) checkTopLevel() error {
	var errs []error
	for _, k := range sortedKeys(s.options) {
		if !topLevelOptions[k] {
			errs = append(errs, fmt.Errorf("k6 script %s: option %q is not supported (docs/scripts.md lists what is)", s.path, k))
		}
	}
	return errors.Join(errs...)
}

// shortcuts are the execution shortcuts of the options (or the overrides).
type shortcuts struct {
	vus        int64
	duration   time.Duration
	iterations int64
	stages     []load.Stage
}

func (s *Script) deriveScenarios(ov Overrides) ([]load.ScenarioConfig, error) {
	f := &fields{where: "options", m: s.options}
	sh := shortcuts{vus: f.int("vus"), duration: f.dur("duration"), iterations: f.int("iterations"), stages: f.stages("stages")}
	if err := f.err(); err != nil {
		return nil, err
	}
	_, hasScenarios := s.options["scenarios"]
	scriptExec := sh.duration > 0 || sh.iterations > 0 || len(sh.stages) > 0
	if ov.execution() {
		sh = shortcuts{vus: sh.vus, duration: ov.Duration, iterations: ov.Iterations, stages: ov.Stages}
		hasScenarios = false
	} else if hasScenarios && scriptExec {
		return nil, errors.New("options: duration, iterations or stages cannot be combined with scenarios (as in k6)")
	}
	if ov.VUs > 0 {
		if hasScenarios {
			return nil, errors.New("a VUs override alone cannot change scenarios: give a duration, iterations or stages too")
		}
		sh.vus = ov.VUs
	}
	if hasScenarios {
		return s.parseScenarios()
	}
	ex, err := sh.executor()
	if err != nil {
		return nil, err
	}
	return []load.ScenarioConfig{{Name: "default", Executor: ex, Exec: s.exec("default", nil, nil)}}, nil
}

// executor applies k6's shortcut rules.
func (sh shortcuts) executor() (load.Executor, error) {
	vus := max(sh.vus, 1)
	switch {
	case sh.iterations > 0:
		if len(sh.stages) > 0 {
			return nil, errors.New("options: iterations and stages cannot be used together (as in k6)")
		}
		return load.SharedIterations{VUs: vus, Iterations: sh.iterations, MaxDuration: sh.duration}, nil
	case sh.duration > 0:
		if len(sh.stages) > 0 {
			return nil, errors.New("options: duration and stages cannot be used together (as in k6)")
		}
		return load.ConstantVUs{VUs: vus, Duration: sh.duration}, nil
	case len(sh.stages) > 0:
		return load.RampingVUs{StartVUs: vus, Stages: sh.stages}, nil
	}
	return load.SharedIterations{VUs: vus, Iterations: 1}, nil
}

// parseScenarios reads the scenarios map, in name order.
func (s *Script) parseScenarios() ([]load.ScenarioConfig, error) {
	m, ok := s.options["scenarios"].(map[string]any)
	if !ok || len(m) == 0 {
		return nil, errors.New("options.scenarios: want an object of named scenarios")
	}
	var out []load.ScenarioConfig
	var errs []error
	for _, name := range sortedKeys(m) {
		sc, err := s.parseScenario(name, m[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, sc)
	}
	return out, errors.Join(errs...)
}

func (s *Script) parseScenario(name string, v any) (load.ScenarioConfig, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return load.ScenarioConfig{}, fmt.Errorf("scenario %q: want an object", name)
	}
	f := &fields{where: fmt.Sprintf("scenario %q", name), m: m}
	kind := f.str("executor")
	own, ok := executorFields[kind]
	if !ok {
		return load.ScenarioConfig{}, fmt.Errorf("scenario %q: executor %q is not supported (want one of constant-vus, ramping-vus, per-vu-iterations, shared-iterations, constant-arrival-rate, ramping-arrival-rate)", name, kind)
	}
	for _, k := range sortedKeys(m) {
		if !own[k] && !commonFields[k] {
			f.errs = append(f.errs, fmt.Errorf("%s: field %q is not supported by executor %s", f.where, k, kind))
		}
	}
	exec := f.str("exec")
	if exec == "" {
		exec = "default"
	}
	sc := load.ScenarioConfig{Name: name, StartTime: f.dur("startTime"), GracefulStop: f.grace("gracefulStop"),
		Exec: s.exec(exec, f.env("env"), f.tags("tags"))}
	sc.Executor = f.executor(kind)
	return sc, f.err()
}

// executor builds the executor named kind from the fields.
func (f *fields) executor(kind string) load.Executor {
	switch kind {
	case "constant-vus":
		return load.ConstantVUs{VUs: f.int("vus"), Duration: f.dur("duration")}
	case "ramping-vus":
		return load.RampingVUs{StartVUs: f.int("startVUs"), Stages: f.stages("stages"), GracefulRampDown: f.grace("gracefulRampDown")}
	case "per-vu-iterations":
		return load.PerVUIterations{VUs: f.int("vus"), Iterations: f.int("iterations"), MaxDuration: f.dur("maxDuration")}
	case "shared-iterations":
		return load.SharedIterations{VUs: f.int("vus"), Iterations: f.int("iterations"), MaxDuration: f.dur("maxDuration")}
	case "constant-arrival-rate":
		return load.ConstantArrivalRate{Rate: f.int("rate"), TimeUnit: f.dur("timeUnit"), Duration: f.dur("duration"),
			PreAllocatedVUs: f.int("preAllocatedVUs"), MaxVUs: f.int("maxVUs")}
	case "ramping-arrival-rate":
		return load.RampingArrivalRate{StartRate: f.int("startRate"), TimeUnit: f.dur("timeUnit"), Stages: f.stages("stages"),
			PreAllocatedVUs: f.int("preAllocatedVUs"), MaxVUs: f.int("maxVUs")}
	}
	return nil
}

// fields reads typed values from an options object, collecting errors that name the field.
type fields struct {
	where string
	m     map[string]any
	errs  []error
}

func (f *fields) fail(key string, format string, args ...any) {
	f.errs = append(f.errs, fmt.Errorf("%s.%s: %s", f.where, key, fmt.Sprintf(format, args...)))
}

func (f *fields) err() error { return errors.Join(f.errs...) }

func (f *fields) int(key string) int64 {
	v, ok := f.m[key]
	if !ok || v == nil {
		return 0
	}
	n, ok := toInt(v)
	if !ok {
		f.fail(key, "%v is not an integer", v)
	}
	return n
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) {
			return int64(x), true
		}
	}
	return 0, false
}

// tags reads tags: an object of strings, none of the engine's own tag names.
func (f *fields) tags(key string) map[string]string {
	m := f.env(key)
	for k := range m {
		if slices.Contains(engineTags, k) {
			f.fail(key+"."+k, "is the engine's own tag")
		}
	}
	return m
}

// env reads a scenario's env: an object of strings.
func (f *fields) env(key string) map[string]string {
	v, ok := f.m[key]
	if !ok || v == nil {
		return nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		f.fail(key, "want an object of NAME: value")
		return nil
	}
	env := make(map[string]string, len(m))
	for k, e := range m {
		s, isStr := e.(string)
		if !isStr {
			f.fail(key+"."+k, "want a string, got %v", e)
		}
		env[k] = s
	}
	return env
}

func (f *fields) boolean(key string) bool {
	v, ok := f.m[key]
	if !ok || v == nil {
		return false
	}
	b, isBool := v.(bool)
	if !isBool {
		f.fail(key, "want true or false, got %v", v)
	}
	return b
}

func (f *fields) str(key string) string {
	v, ok := f.m[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		f.fail(key, "%v is not a string", v)
	}
	return s
}

func (f *fields) dur(key string) time.Duration {
	v, ok := f.m[key]
	if !ok || v == nil {
		return 0
	}
	d, err := jsDuration(v)
	if err != nil {
		f.fail(key, "%v", err)
	}
	return d
}

// grace reads gracefulStop or gracefulRampDown: an explicit 0 means none (load.NoGrace),
// absent means k6's default of 30s.
func (f *fields) grace(key string) time.Duration {
	if _, ok := f.m[key]; !ok {
		return 0
	}
	if d := f.dur(key); d > 0 {
		return d
	}
	return load.NoGrace
}

func (f *fields) stages(key string) []load.Stage {
	v, ok := f.m[key]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		f.fail(key, "want a list of {duration, target}")
		return nil
	}
	out := make([]load.Stage, 0, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			f.fail(fmt.Sprintf("%s[%d]", key, i), "want {duration, target}")
			continue
		}
		sf := &fields{where: fmt.Sprintf("%s.%s[%d]", f.where, key, i), m: m}
		for _, k := range sortedKeys(m) {
			if k != "duration" && k != "target" {
				sf.fail(k, "is not supported (a stage has duration and target)")
			}
		}
		out = append(out, load.Stage{Duration: sf.dur("duration"), Target: sf.int("target")})
		f.errs = append(f.errs, sf.errs...)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Thresholds returns the thresholds of options.thresholds: for each metric key (with optional
// tag filter) a list of expressions, each a string or {threshold, abortOnFail,
// delayAbortEval}, parsed by load.ParseThreshold. They are ordered by metric key.
func (s *Script) Thresholds() ([]load.Threshold, error) {
	v, ok := s.options["thresholds"]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("k6 script %s: options.thresholds: want an object of metric: [expressions]", s.path)
	}
	var out []load.Threshold
	var errs []error
	for _, metric := range sortedKeys(m) {
		list, ok := m[metric].([]any)
		if !ok {
			errs = append(errs, fmt.Errorf("k6 script %s: options.thresholds[%q]: want a list of expressions", s.path, metric))
			continue
		}
		for i, e := range list {
			t, err := parseThreshold(metric, e)
			if err == nil {
				err = s.checkThreshold(&t)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("k6 script %s: options.thresholds[%q][%d]: %w", s.path, metric, i, err))
				continue
			}
			out = append(out, t)
		}
	}
	return out, errors.Join(errs...)
}

func parseThreshold(metric string, e any) (load.Threshold, error) {
	if expr, ok := e.(string); ok {
		return load.ParseThreshold(metric, expr)
	}
	m, ok := e.(map[string]any)
	if !ok {
		return load.Threshold{}, fmt.Errorf("%v: want a string or {threshold, abortOnFail, delayAbortEval}", e)
	}
	f := &fields{where: "threshold", m: m}
	for _, k := range sortedKeys(m) {
		if k != "threshold" && k != "abortOnFail" && k != "delayAbortEval" {
			f.fail(k, "is not supported")
		}
	}
	expr := f.str("threshold")
	abort, isBool := m["abortOnFail"].(bool)
	if _, present := m["abortOnFail"]; present && !isBool {
		f.fail("abortOnFail", "want true or false")
	}
	delay := f.dur("delayAbortEval")
	if err := f.err(); err != nil {
		return load.Threshold{}, err
	}
	t, err := load.ParseThreshold(metric, expr)
	if err != nil {
		return load.Threshold{}, err
	}
	t.AbortOnFail, t.DelayAbortEval = abort, delay
	return t, nil
}

// checkThreshold checks a threshold against the metric it names: a custom metric's
// aggregation must be one its kind has (k6's), its tags are free and it is judged over the
// whole run; a built-in metric's tags are read in k6's names ([k6Tags]).
func (s *Script) checkThreshold(t *load.Threshold) error {
	m, custom := s.customMetric(t.Metric)
	if !custom {
		return k6Tags(t)
	}
	if aggs := m.Kind.Aggregations(); !slices.Contains(aggs, t.Agg) {
		return fmt.Errorf("%s: a %s has no %q aggregation (it has %s)", t.Source, m.Kind, t.Agg, strings.Join(aggs, ", "))
	}
	if t.Window > 0 {
		return fmt.Errorf("%s: windowed thresholds (over D) on custom metrics are not supported", t.Source)
	}
	return nil
}

// k6AutoTags are tags k6 sets on its metrics that the engine does not record: a filter on one
// would match nothing, so it is an error.
var k6AutoTags = []string{"url", "expected_response", "proto", "tls_version", "error", "error_code", "ip", "subproto", "service", "rpc_type"}

// k6Tags reads a threshold's tag filter in k6's tag names: the engine tags requests, checks
// and groups with step where k6 has name, check and group ("::NAME" for a top-level group),
// and tags scenario, method and status as k6 does; the script's own tags (and group on
// requests and checks) filter as they are. A tag k6 sets that the engine does not record is an
// error, not a filter that matches nothing.
func k6Tags(t *load.Threshold) error {
	for k, v := range t.Filter {
		step := ""
		switch {
		case k == "name" && strings.HasPrefix(t.Metric, "http_req"):
			step = v
		case k == "check" && t.Metric == load.MetricChecks:
			step = v
		case k == "group" && t.Metric == load.MetricGroupDuration && strings.HasPrefix(v, "::") && !strings.Contains(v[2:], "::"):
			step = v[2:]
		case k == "group" && t.Metric == load.MetricGroupDuration:
			return fmt.Errorf("%s: tag group: group_duration{group:::NAME} names a top-level group (a nested group's duration is under its own name)", t.Source)
		case slices.Contains(k6AutoTags, k) || (k == "name" || k == "check"):
			return fmt.Errorf("%s: tag %q is not recorded for %s (the engine's tags: scenario, method, status; name on http_req_*, check on checks, group; and the script's own)", t.Source, k, t.Metric)
		default:
			continue // the engine's tags and the script's own
		}
		if _, both := t.Filter["step"]; both {
			return fmt.Errorf("%s: tags %s and step both name the step", t.Source, k)
		}
		delete(t.Filter, k)
		t.Filter["step"] = step
	}
	return nil
}
