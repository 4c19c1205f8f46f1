package profile

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dailydoco/ddp-verify/internal/printable"
)

// WritePlan prints the resolved timeline: stages with start and end offsets and targets,
// faults with their windows, and every named window.
// Names come from the profile and are printed with their control characters escaped.
func (p *Profile) WritePlan(w io.Writer) error {
	pr := printable.String
	tl := p.Timeline()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "profile %s (%s): %s, peak %d VUs\n\n", pr(p.Name), pr(p.source), offset(tl.Duration), p.PeakVUs())
	fmt.Fprintln(tw, "STAGES\tSCENARIO\tFROM\tTO\tTARGET")
	for _, s := range tl.Stages {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%g -> %g\n", pr(s.Name), pr(s.Scenario), offset(s.Start), offset(s.End), s.From, s.To)
	}
	for _, s := range p.Scenarios {
		if len(s.Stages) == 0 {
			fmt.Fprintf(tw, "-\t%s\t%s\t%s\t%s\n", pr(s.Name), offset(s.StartTime.Duration), offset(s.StartTime.Duration+scenarioLength(s)), describeExecutor(s))
		}
	}
	if len(tl.Faults) > 0 {
		fmt.Fprintln(tw, "\nFAULTS\tKIND\tTARGET\tINJECT\tRECOVER\tRECOVERY WINDOW END")
		for _, f := range tl.Faults {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", pr(f.Name), pr(f.Fault.Kind()), pr(f.Fault.Target.String()), offset(f.Start), offset(f.End), offset(f.RecoveryEnd))
		}
	} else {
		fmt.Fprintln(tw, "\nFAULTS\tnone")
	}
	fmt.Fprintln(tw, "\nWINDOWS\tKIND\tFROM\tTO")
	for _, win := range tl.Windows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", pr(win.Name), win.Kind, offset(win.Start), offset(win.End))
	}
	return tw.Flush()
}

// offset formats an offset from the start of the run as m:ss (or h:mm:ss).
func offset(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// Kind is the fault kind with its mode, e.g. "zone-outage/power-loss".
func (f Fault) Kind() string {
	if f.Mode != "" {
		return f.Fault + "/" + f.Mode
	}
	return f.Fault
}

// String describes what the fault targets, e.g. "pool=gpu count=1".
func (t FaultTarget) String() string {
	var parts []string
	if t.Zone != "" {
		parts = append(parts, "zone="+t.Zone)
	}
	if t.Pool != "" {
		parts = append(parts, fmt.Sprintf("pool=%s count=%d", t.Pool, t.Count))
	}
	if t.Node != "" {
		parts = append(parts, "node="+t.Node)
	}
	if t.Service != "" {
		parts = append(parts, "service="+t.Service)
	}
	return strings.Join(parts, " ")
}

func describeExecutor(s Scenario) string {
	switch s.Executor {
	case "constant-vus":
		return fmt.Sprintf("%d VUs", s.VUs)
	case "constant-arrival-rate":
		unit := s.TimeUnit.Duration
		if unit == 0 {
			unit = time.Second
		}
		return fmt.Sprintf("%g iterations per %s", s.Rate, unit)
	default:
		return fmt.Sprintf("%s, %d VUs, %d iterations", s.Executor, s.VUs, s.Iterations)
	}
}
