package profile

import (
	"fmt"
	"math"
	"time"

	"github.com/dailydoco/ddp-verify/internal/yamlfile"
	"github.com/dailydoco/ddp-verify/load"
)

// Timeline is the resolved schedule of a profile: offsets from the start of the run.
type Timeline struct {
	// Duration is when the last scenario's schedule ends (graceful stops not included).
	Duration time.Duration
	Stages   []StageSpan
	Faults   []FaultSpan
	// Windows are every named window SLOs may refer to, in start order.
	Windows []Window
}

// StageSpan is one stage of a ramping scenario.
type StageSpan struct {
	Scenario   string
	Name       string
	Start, End time.Duration
	// From and To are the target at the stage's start and end (VUs or rate).
	From, To float64
}

// FaultSpan is one planned fault and its recovery window.
type FaultSpan struct {
	Name        string
	Fault       Fault
	Start, End  time.Duration
	RecoveryEnd time.Duration
}

// Window kinds.
const (
	WindowRun      = "run"
	WindowStage    = "stage"
	WindowFault    = "fault"
	WindowRecovery = "recovery"
	WindowScenario = "scenario"
	WindowDeclared = "declared"
)

// Window is a named time range that SLOs are evaluated over.
type Window struct {
	Name       string
	Kind       string
	Start, End time.Duration
	// Fault is the fault a fault or recovery window belongs to.
	Fault string
}

// scenarioLength is how long a scenario's schedule lasts from its startTime.
func scenarioLength(s Scenario) time.Duration {
	switch s.Executor {
	case "ramping-vus", "ramping-arrival-rate":
		// Saturating: a file may list enough long stages to overflow, and the validator
		// refuses any scenario that ends after MaxDuration.
		var d time.Duration
		for _, st := range s.Stages {
			d = satAdd(d, max(st.Duration.Duration, 0))
		}
		return d
	case "constant-vus", "constant-arrival-rate":
		return s.Duration.Duration
	default: // per-vu-iterations, shared-iterations: bounded by maxDuration
		if s.MaxDuration.Duration > 0 {
			return s.MaxDuration.Duration
		}
		return load.DefaultMaxDuration
	}
}

// Timeline resolves the profile's stages, faults and windows. Automatic windows: "run" (the
// whole run), "stage-NAME" per stage, "scenario-NAME" per scenario, "fault-NAME" while a fault
// is in force and "recovery-NAME" for the recovery period after it. Declared windows follow.
func (p *Profile) Timeline() Timeline {
	var tl Timeline
	scenarioSpan := map[string][2]time.Duration{}
	for _, s := range p.Scenarios {
		start := s.StartTime.Duration
		end := start + scenarioLength(s)
		scenarioSpan[s.Name] = [2]time.Duration{start, end}
		if end > tl.Duration {
			tl.Duration = end
		}
		from := float64(s.StartVUs)
		if s.Executor == "ramping-arrival-rate" {
			from = s.StartRate
		}
		t := start
		for _, st := range s.Stages {
			tl.Stages = append(tl.Stages, StageSpan{Scenario: s.Name, Name: st.Name, Start: t, End: t + st.Duration.Duration, From: from, To: st.Target})
			t += st.Duration.Duration
			from = st.Target
		}
	}
	tl.Windows = append(tl.Windows, Window{Name: WindowRun, Kind: WindowRun, Start: 0, End: tl.Duration})
	if len(p.Scenarios) > 1 {
		for _, s := range p.Scenarios {
			sp := scenarioSpan[s.Name]
			tl.Windows = append(tl.Windows, Window{Name: WindowScenario + "-" + s.Name, Kind: WindowScenario, Start: sp[0], End: sp[1]})
		}
	}
	stageSpan := map[string]StageSpan{}
	for _, st := range tl.Stages {
		stageSpan[st.Name] = st
		tl.Windows = append(tl.Windows, Window{Name: WindowStage + "-" + st.Name, Kind: WindowStage, Start: st.Start, End: st.End})
	}
	for _, f := range p.Chaos {
		fs := FaultSpan{Name: f.Name, Fault: f, Start: f.At.Duration, End: f.At.Duration + f.Duration.Duration}
		fs.RecoveryEnd = fs.End + f.Recovery.Duration
		if fs.RecoveryEnd > tl.Duration {
			fs.RecoveryEnd = tl.Duration
		}
		tl.Faults = append(tl.Faults, fs)
		tl.Windows = append(tl.Windows, Window{Name: WindowFault + "-" + f.Name, Kind: WindowFault, Start: fs.Start, End: fs.End, Fault: f.Name})
		if fs.RecoveryEnd > fs.End {
			tl.Windows = append(tl.Windows, Window{Name: WindowRecovery + "-" + f.Name, Kind: WindowRecovery, Start: fs.End, End: fs.RecoveryEnd, Fault: f.Name})
		}
	}
	for _, w := range p.Windows {
		win := Window{Name: w.Name, Kind: WindowDeclared}
		switch {
		case w.Stage != "":
			to := w.ToStage
			if to == "" {
				to = w.Stage
			}
			win.Start, win.End = stageSpan[w.Stage].Start, stageSpan[to].End
		case w.Scenario != "":
			sp := scenarioSpan[w.Scenario]
			win.Start, win.End = sp[0], sp[1]
		default:
			win.Start, win.End = w.From.Duration, w.To.Duration
		}
		tl.Windows = append(tl.Windows, win)
	}
	return tl
}

// Window returns the named window of the timeline.
func (tl Timeline) Window(name string) (Window, bool) {
	for _, w := range tl.Windows {
		if w.Name == name {
			return w, true
		}
	}
	return Window{}, false
}

// PeakVUs is the highest VU target of any ramping-vus stage or the VU count of constant
// executors, summed over scenarios that may overlap (an upper bound).
func (p *Profile) PeakVUs() int {
	total := 0
	for _, s := range p.Scenarios {
		peak := 0
		switch s.Executor {
		case "ramping-vus":
			peak = s.StartVUs
			for _, st := range s.Stages {
				peak = max(peak, int(math.Ceil(st.Target)))
			}
		case "constant-vus", "per-vu-iterations", "shared-iterations":
			peak = s.VUs
		default:
			peak = max(s.MaxVUs, s.PreAllocatedVUs)
		}
		total += peak
	}
	return total
}

// Scaled returns a copy of the profile with stage, scenario, fault and window durations and
// offsets multiplied by f, checked again with every rule and resolved into its plan. Per-user
// behaviour (think time, graceful periods, time units) is unchanged. f must be positive and
// finite, and every scaled duration that was not zero must stay within [MinDuration,
// MaxDuration]: a stage scaled to microseconds runs as no stage at all, and one scaled past
// MaxDuration is an overflow, not a plan. Each such duration is reported at its field.
func (p *Profile) Scaled(f float64) (*Profile, error) {
	if !(f > 0) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("time scale must be a positive number (got %v)", f)
	}
	v := validator{yamlfile.Validator{Doc: p.doc}}
	// sc scales d, checking the product as a float before it becomes a Duration: converting
	// a float beyond the int64 range is undefined (on amd64 it gives a negative duration).
	sc := func(path string, d Duration) Duration {
		if d.Duration <= 0 {
			return d // zero stays zero; a negative one is reported by the rules below
		}
		x := math.Round(float64(d.Duration) * f)
		switch {
		case x > float64(MaxDuration):
			v.Fail(path, "%s at time scale %g is %.4g days, longer than %s, the longest duration a profile may give", d, f, x/float64(24*time.Hour), longText(MaxDuration))
			return d
		case x < float64(MinDuration):
			v.Fail(path, "%s at time scale %g is %s, shorter than %s, the shortest duration a profile may give", d, f, time.Duration(x), MinDuration)
			return d
		}
		return Duration{time.Duration(x)}
	}
	q := *p
	q.timeScale = p.TimeScale() * f
	q.Scenarios = make([]Scenario, len(p.Scenarios))
	for i, s := range p.Scenarios {
		at := yamlfile.Index("scenarios", i)
		s.StartTime = sc(at+".startTime", s.StartTime)
		s.Duration = sc(at+".duration", s.Duration)
		s.MaxDuration = sc(at+".maxDuration", s.MaxDuration)
		s.Stages = append([]Stage(nil), s.Stages...)
		for j := range s.Stages {
			s.Stages[j].Duration = sc(yamlfile.Index(at+".stages", j)+".duration", s.Stages[j].Duration)
		}
		q.Scenarios[i] = s
	}
	q.Chaos = append([]Fault(nil), p.Chaos...)
	for i := range q.Chaos {
		at := yamlfile.Index("chaos", i)
		q.Chaos[i].At = sc(at+".at", q.Chaos[i].At)
		q.Chaos[i].Duration = sc(at+".duration", q.Chaos[i].Duration)
		q.Chaos[i].Recovery = sc(at+".recovery", q.Chaos[i].Recovery)
	}
	q.Windows = append([]WindowSpec(nil), p.Windows...)
	for i := range q.Windows {
		at := yamlfile.Index("windows", i)
		q.Windows[i].From = sc(at+".from", q.Windows[i].From)
		q.Windows[i].To = sc(at+".to", q.Windows[i].To)
	}
	q.plan = nil
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("at time scale %g: %w", f, err)
	}
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("at time scale %g: %w", f, err)
	}
	return &q, nil
}
