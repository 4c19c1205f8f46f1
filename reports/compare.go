package reports

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/dailydoco/ddp-verify/verdict"
)

// Tolerances say how much worse run B may be than run A before Compare calls it a
// regression. Zero tolerances flag any worsening.
type Tolerances struct {
	// ValuePct is the relative worsening allowed in an objective's value, in per cent.
	ValuePct float64
	// LatencyPct is the relative increase allowed in a step's p95 and p99, in per cent.
	LatencyPct float64
	// LatencyFloorMS ignores latency changes smaller than this many milliseconds, because a
	// 10 % change of a 3 ms step is noise.
	LatencyFloorMS float64
	// ErrorRatePoints is the increase allowed in a step's error rate, in percentage points.
	ErrorRatePoints float64
}

// Validate refuses a tolerance that would switch the comparison off rather than loosen it:
// NaN (every comparison with it is false, so nothing ever regresses), an infinity, or a
// negative value.
func (t Tolerances) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    float64
	}{{"tolerance", t.ValuePct}, {"latency-tolerance", t.LatencyPct}, {"latency-floor-ms", t.LatencyFloorMS}, {"error-rate-tolerance", t.ErrorRatePoints}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			errs = append(errs, fmt.Errorf("--%s %v: want a finite number >= 0", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// DefaultTolerances are what `ddp-verify compare` uses unless told otherwise.
var DefaultTolerances = Tolerances{ValuePct: 10, LatencyPct: 10, LatencyFloorMS: 5, ErrorRatePoints: 0.5}

// Diff is what changed from run A to run B.
type Diff struct {
	A, B             *Run
	VerdictRegressed bool
	SLOs             []SLOChange
	Steps            []StepChange
	Regressions      []string // one line per regression, for people
}

// Regressed reports whether B is worse than A beyond the tolerances.
func (d Diff) Regressed() bool { return len(d.Regressions) > 0 }

// SLOChange compares one objective in one window.
type SLOChange struct {
	ID, Window, Unit string
	StatusA, StatusB verdict.Status // empty when the objective is missing from that run
	ValueA, ValueB   *float64
	Regressed        bool
	Note             string
}

// StepChange compares one journey step's latency and errors.
type StepChange struct {
	Scenario, Step         string
	P95A, P95B, P99A, P99B float64
	ErrA, ErrB             float64
	InA, InB               bool
	Regressed              bool
	Note                   string
}

func verdictRank(v verdict.Verdict) int {
	switch v {
	case verdict.Go:
		return 0
	case verdict.NoGo:
		return 1
	}
	return 2
}

// Compare diffs two runs: verdicts, each objective's value and status, and latency and
// errors per step.
func Compare(a, b *Run, tol Tolerances) Diff {
	d := Diff{A: a, B: b}
	if verdictRank(b.Verdict) > verdictRank(a.Verdict) {
		d.VerdictRegressed = true
		d.Regressions = append(d.Regressions, fmt.Sprintf("verdict %s -> %s", a.Verdict, b.Verdict))
	}

	type key struct{ id, window string }
	inB := map[key]verdict.Objective{}
	for _, s := range b.SLOs {
		inB[key{s.ID, s.Window}] = s
	}
	seen := map[key]bool{}
	for _, sa := range a.SLOs {
		k := key{sa.ID, sa.Window}
		seen[k] = true
		c := SLOChange{ID: sa.ID, Window: sa.Window, Unit: sa.Unit, StatusA: sa.Status, ValueA: sa.Value}
		sb, ok := inB[k]
		if !ok {
			c.Regressed, c.Note = true, "missing in B"
			if why, skipped := b.notEvaluated(sa.ID); skipped {
				c.Note = "not evaluated in B: " + why
			}
		} else {
			c.StatusB, c.ValueB = sb.Status, sb.Value
			c.Regressed, c.Note = sloRegressed(sa, sb, tol)
		}
		if c.Regressed {
			d.Regressions = append(d.Regressions, fmt.Sprintf("objective %s [%s]: %s", c.ID, c.Window, c.Note))
		}
		d.SLOs = append(d.SLOs, c)
	}
	for _, sb := range b.SLOs {
		if !seen[key{sb.ID, sb.Window}] {
			c := SLOChange{ID: sb.ID, Window: sb.Window, Unit: sb.Unit, StatusB: sb.Status, ValueB: sb.Value, Note: "new in B"}
			if sb.Status.Failing() {
				c.Regressed, c.Note = true, "new in B and "+string(sb.Status)
				d.Regressions = append(d.Regressions, fmt.Sprintf("objective %s [%s]: %s", c.ID, c.Window, c.Note))
			}
			d.SLOs = append(d.SLOs, c)
		}
	}

	type skey struct{ scn, step string }
	stepsB := map[skey]StepStats{}
	for _, s := range b.Load.Steps {
		stepsB[skey{s.Scenario, s.Step}] = s
	}
	for _, sa := range a.Load.Steps {
		c := StepChange{Scenario: sa.Scenario, Step: sa.Step, InA: true, P95A: sa.Response.P95, P99A: sa.Response.P99, ErrA: sa.ErrorRate}
		sb, ok := stepsB[skey{sa.Scenario, sa.Step}]
		if ok {
			c.InB, c.P95B, c.P99B, c.ErrB = true, sb.Response.P95, sb.Response.P99, sb.ErrorRate
			var notes []string
			for _, p := range []struct {
				name string
				a, b float64
			}{{"p95", c.P95A, c.P95B}, {"p99", c.P99A, c.P99B}} {
				if p.b-p.a > tol.LatencyFloorMS && p.b > p.a*(1+tol.LatencyPct/100) {
					notes = append(notes, fmt.Sprintf("%s %.1f ms -> %.1f ms (%+.0f %%)", p.name, p.a, p.b, pctChange(p.a, p.b)))
				}
			}
			if (c.ErrB-c.ErrA)*100 > tol.ErrorRatePoints {
				notes = append(notes, fmt.Sprintf("error rate %s -> %s", formatValue(c.ErrA, "ratio"), formatValue(c.ErrB, "ratio")))
			}
			if len(notes) > 0 {
				c.Regressed, c.Note = true, strings.Join(notes, ", ")
				d.Regressions = append(d.Regressions, fmt.Sprintf("step %s %s: %s", c.Scenario, c.Step, c.Note))
			}
		} else {
			c.Note = "missing in B"
		}
		d.Steps = append(d.Steps, c)
	}
	return d
}

// notEvaluated returns why the run left objective id out, if it did.
func (r *Run) notEvaluated(id string) (string, bool) {
	for _, n := range r.NotEvaluated {
		if n.ID == id {
			return n.Reason, true
		}
	}
	return "", false
}

// sloRegressed decides whether objective b is worse than a: a worse status, or a value that
// moved in the bad direction (set by the objective's operator) by more than the tolerance.
func sloRegressed(a, b verdict.Objective, tol Tolerances) (bool, string) {
	if b.Status.Severity() > a.Status.Severity() {
		return true, fmt.Sprintf("status %s -> %s", a.Status, b.Status)
	}
	if a.Value == nil || b.Value == nil {
		return false, ""
	}
	va, vb := *a.Value, *b.Value
	worse := vb - va // for "<" objectives, higher is worse
	if b.Op == ">" || b.Op == ">=" {
		worse = va - vb
	}
	if worse <= 0 {
		return false, ""
	}
	if va == 0 || worse > math.Abs(va)*tol.ValuePct/100 {
		return true, fmt.Sprintf("value %s -> %s (%+.1f %%)", formatValue(va, a.Unit), formatValue(vb, b.Unit), pctChange(va, vb))
	}
	return false, ""
}

// profileAndScale names the run's profile, with its time scale when it was scaled.
func profileAndScale(r *Run) string {
	if r.Scaled() {
		return fmt.Sprintf("%s, time scale x%g", r.Profile, r.TimeScale)
	}
	return r.Profile
}

func pctChange(a, b float64) float64 {
	if a == 0 {
		return math.Inf(1)
	}
	return (b - a) / math.Abs(a) * 100
}

// WriteText prints the diff for a terminal: verdicts, objectives, steps, then the
// regressions or "no regression".
func (d Diff) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "A %s  %s  score %.1f  (%s)\n", d.A.RunID, d.A.Verdict, d.A.Score, profileAndScale(d.A))
	fmt.Fprintf(&b, "B %s  %s  score %.1f  (%s)\n\n", d.B.RunID, d.B.Verdict, d.B.Score, profileAndScale(d.B))
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECTIVE\tWINDOW\tA\tB\tSTATUS\t")
	val := func(p *float64, unit string) string {
		if p == nil {
			return "-"
		}
		return formatValue(*p, unit)
	}
	st := func(s verdict.Status) string {
		if s == "" {
			return "-"
		}
		return string(s)
	}
	for _, c := range d.SLOs {
		mark := ""
		if c.Regressed {
			mark = "REGRESSED: " + c.Note
		} else if c.Note != "" {
			mark = c.Note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s -> %s\t%s\n", c.ID, c.Window, val(c.ValueA, c.Unit), val(c.ValueB, c.Unit), st(c.StatusA), st(c.StatusB), mark)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t")
	fmt.Fprintln(tw, "STEP\tP95 A\tP95 B\tP99 A\tP99 B\t")
	for _, c := range d.Steps {
		mark := c.Note
		if c.Regressed {
			mark = "REGRESSED: " + c.Note
		}
		fmt.Fprintf(tw, "%s %s\t%.1f\t%.1f\t%.1f\t%.1f\t%s\n", c.Scenario, c.Step, c.P95A, c.P95B, c.P99A, c.P99B, mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if d.Regressed() {
		fmt.Fprintf(&b, "\nB regressed (%d):\n", len(d.Regressions))
		for _, r := range d.Regressions {
			fmt.Fprintf(&b, "  - %s\n", r)
		}
	} else {
		b.WriteString("\nno regression beyond tolerances\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
