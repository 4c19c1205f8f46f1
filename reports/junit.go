package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/dailydoco/ddp-verify/verdict"
)

// JUnit XML types, the subset that CI systems (GitLab, Jenkins, GitHub test reporters) read.
// Exported so that tests and tools can parse a junit.xml back.
type (
	// JUnitSuites is the document root.
	JUnitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Time     float64      `xml:"time,attr"`
		Suites   []JUnitSuite `xml:"testsuite"`
	}
	// JUnitSuite groups test cases.
	JUnitSuite struct {
		Name      string      `xml:"name,attr"`
		Tests     int         `xml:"tests,attr"`
		Failures  int         `xml:"failures,attr"`
		Errors    int         `xml:"errors,attr"`
		Skipped   int         `xml:"skipped,attr"`
		Time      float64     `xml:"time,attr"`
		Timestamp string      `xml:"timestamp,attr,omitempty"`
		Cases     []JUnitCase `xml:"testcase"`
	}
	// JUnitCase is one objective in one window, or the verdict.
	JUnitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      float64       `xml:"time,attr"`
		Failure   *JUnitFailure `xml:"failure,omitempty"`
		Error     *JUnitFailure `xml:"error,omitempty"`
		Skipped   *JUnitSkipped `xml:"skipped,omitempty"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	// JUnitFailure is a failure or error element.
	JUnitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	// JUnitSkipped marks a case that was not decided.
	JUnitSkipped struct {
		Message string `xml:"message,attr"`
	}
)

// Suite names in junit.xml.
const (
	JUnitSLOSuite     = "ddp-verify.slos"
	JUnitVerdictSuite = "ddp-verify.verdict"
)

// BuildJUnit converts a run into JUnit suites: one test case per objective and window in the
// SLO suite, and one for the verdict, so a NO-GO or ABORTED run fails in CI even when every
// evaluated objective passed. A run without objectives gets a failing case, never an empty,
// passing report.
func BuildJUnit(r *Run) JUnitSuites {
	secs := r.Duration().Seconds()
	slo := JUnitSuite{Name: JUnitSLOSuite, Timestamp: r.StartedAt.UTC().Format("2006-01-02T15:04:05"), Time: secs}
	for _, s := range r.SLOs {
		c := JUnitCase{Name: s.ID + " [" + s.Window + "]", Classname: "slo." + s.ID}
		msg := sloMessage(s)
		detail := sloDetail(s)
		switch s.Status {
		case verdict.Pass:
			c.SystemOut = msg + "\n" + detail
		case verdict.Warn:
			c.SystemOut = "WARN: " + msg + "\n" + detail
		case verdict.NoBaseline:
			// Not decided without a baseline: visible in CI, neither passed nor failed.
			c.Skipped = &JUnitSkipped{Message: "NO_BASELINE: " + msg}
			slo.Skipped++
		case verdict.Error:
			c.Error = &JUnitFailure{Message: "ERROR: " + msg, Type: string(s.Status), Text: detail}
			slo.Errors++
		default: // FAIL and NO_DATA: missing data never passes
			c.Failure = &JUnitFailure{Message: string(s.Status) + ": " + msg, Type: string(s.Status), Text: detail}
			slo.Failures++
		}
		slo.Cases = append(slo.Cases, c)
	}
	for _, n := range r.NotEvaluated {
		// Not evaluated in this run: visible in CI, neither passed nor failed.
		slo.Cases = append(slo.Cases, JUnitCase{Name: n.ID + " [not evaluated]", Classname: "slo." + n.ID,
			Skipped: &JUnitSkipped{Message: "NOT EVALUATED: " + n.Reason}})
		slo.Skipped++
	}
	if len(r.SLOs) == 0 {
		slo.Cases = append(slo.Cases, JUnitCase{Name: "objectives evaluated", Classname: "slo",
			Failure: &JUnitFailure{Message: "no objective was evaluated; a run without objectives cannot pass", Type: "NO_OBJECTIVES"}})
		slo.Failures++
	}
	if note := r.ResilienceNote(); note != "" {
		slo.Cases = append(slo.Cases, JUnitCase{Name: "resilience [not verified]", Classname: "chaos",
			Skipped: &JUnitSkipped{Message: note}})
		slo.Skipped++
	}
	slo.Tests = len(slo.Cases)

	vs := JUnitSuite{Name: JUnitVerdictSuite, Time: secs, Tests: 1}
	vc := JUnitCase{Name: "verdict", Classname: "run." + r.Profile, Time: secs}
	reasons := strings.Join(r.Reasons, "\n")
	if r.Verdict == verdict.Go {
		vc.SystemOut = fmt.Sprintf("GO, score %.1f", r.Score)
	} else {
		vc.Failure = &JUnitFailure{Message: fmt.Sprintf("%s, score %.1f", r.Verdict, r.Score), Type: string(r.Verdict), Text: reasons}
		vs.Failures = 1
	}
	vs.Cases = []JUnitCase{vc}

	out := JUnitSuites{Name: "ddp-verify " + r.Profile + " " + r.RunID, Time: secs, Suites: []JUnitSuite{slo, vs}}
	for _, s := range out.Suites {
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
	}
	return out
}

// sloMessage is the one-line outcome: value against threshold.
func sloMessage(s verdict.Objective) string {
	val := "no value"
	if s.Value != nil {
		val = formatValue(*s.Value, s.Unit)
	}
	msg := fmt.Sprintf("%s: %s, objective %s %s", s.Name(), val, s.Op, formatValue(s.Objective, s.Unit))
	if s.Warning != nil {
		msg += fmt.Sprintf(", warning %s", formatValue(*s.Warning, s.Unit))
	}
	if s.HasSampleCount() {
		msg += fmt.Sprintf(" (%d samples)", s.SampleCount)
	}
	if iv := intervalText(s); iv != "" && s.Value != nil {
		msg += ", " + iv
	}
	if lc := lowConfidenceText(s); lc != "" {
		msg += "; " + lc
	}
	return msg
}

func sloDetail(s verdict.Objective) string {
	var b strings.Builder
	fmt.Fprintf(&b, "window %s %s to %s\nquery: %s\n", s.Window, s.WindowStart.UTC().Format("15:04:05"), s.WindowEnd.UTC().Format("15:04:05"), s.Query)
	for _, e := range s.Evidence {
		fmt.Fprintf(&b, "%s: %s\n", e.Label, formatValue(e.Value, e.Unit))
	}
	for _, w := range s.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	if s.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", s.Error)
	}
	return b.String()
}

// WriteJUnit renders junit.xml.
func WriteJUnit(w io.Writer, r *Run) error {
	b, err := xml.MarshalIndent(BuildJUnit(r), "", "  ")
	if err != nil {
		return fmt.Errorf("render junit.xml: %w", err)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n")
	return err
}
