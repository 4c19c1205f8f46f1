// Command checkrun checks a run directory the way CI must: the verdict is the expected one,
// every objective was evaluated with data, and exactly the -not-evaluated ones were not
// (a time-scaled run), every planned fault was injected and recovered, no accepted video was
// lost, and the four report files are present and valid. It prints what it checked and
// exits 1 when it found a problem (after listing them all).
//
//	go run ./internal/cmd/checkrun -verdict GO reports/smoke
package main

import (
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dailydoco/ddp-verify/verdict"

	"github.com/dailydoco/ddp-verify/reports"
)

func main() {
	wantVerdict := flag.String("verdict", "GO", "expected verdict")
	faults := flag.Int("faults", -1, "expected number of faults injected and recovered (-1: as many as run.json lists, at least one)")
	notEvaluated := flag.String("not-evaluated", "", "comma-separated objective ids the run must list as not evaluated (a time-scaled run); any other not evaluated is a problem")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: checkrun [-verdict GO] [-faults N] [-not-evaluated ID,...] RUN_DIR")
		os.Exit(2)
	}
	var want []string
	if *notEvaluated != "" {
		want = strings.Split(*notEvaluated, ",")
	}
	problems := check(flag.Arg(0), verdict.Verdict(*wantVerdict), *faults, want)
	for _, p := range problems {
		fmt.Println("FAIL:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Println("checkrun: all checks passed for", flag.Arg(0))
}

func check(dir string, want verdict.Verdict, faults int, wantNotEvaluated []string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	r, err := reports.ReadRun(filepath.Join(dir, "run.json"))
	if err != nil {
		return []string{err.Error()}
	}
	if r.Verdict != want {
		bad("verdict %s, want %s (reasons: %s)", r.Verdict, want, strings.Join(r.Reasons, "; "))
	}
	if len(r.SLOs) == 0 {
		bad("no objective was evaluated")
	}
	for _, s := range r.SLOs {
		if s.Value == nil || s.Status == verdict.NoData || s.Status == verdict.Error {
			bad("objective %s in %s has no data (%s: %s)", s.ID, s.Window, s.Status, s.Error)
		}
	}
	skipped := map[string]bool{}
	for _, n := range r.NotEvaluated {
		skipped[n.ID] = true
		if !slices.Contains(wantNotEvaluated, n.ID) {
			bad("objective %s was not evaluated: %s", n.ID, n.Reason)
		}
	}
	for _, id := range wantNotEvaluated {
		if !skipped[id] {
			bad("objective %s should be listed as not evaluated, and is not", id)
		}
	}
	injected := 0
	for _, c := range r.Chaos {
		switch {
		case c.Error != "":
			bad("fault %s: %s", c.Fault, c.Error)
		case c.InjectedAt == nil:
			bad("fault %s was never injected", c.Fault)
		case c.RecoveredAt == nil:
			bad("fault %s was injected but never recovered", c.Fault)
		default:
			injected++
		}
	}
	switch {
	case faults >= 0 && injected != faults:
		bad("%d faults injected and recovered, want %d", injected, faults)
	case faults < 0 && len(r.Chaos) == 0:
		bad("no fault in run.json")
	}
	if r.Videos.Lost != 0 || r.Videos.Unfinished != 0 || r.Videos.Failed != 0 {
		bad("videos not processed: %s", r.Videos.Summary())
	}
	if len(r.FaultsSkipped) > 0 {
		bad("%s", r.ResilienceNote())
	}
	if r.Videos.Accepted == 0 {
		bad("no video was accepted")
	}
	for _, f := range []string{"report.html", "summary.md"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		switch {
		case err != nil:
			bad("%s: %v", f, err)
		case !strings.Contains(string(b), string(r.Verdict)):
			bad("%s does not show the verdict %s", f, r.Verdict)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil {
		bad("junit.xml: %v", err)
	} else {
		var suites struct {
			Suites []struct {
				Tests int `xml:"tests,attr"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal(b, &suites); err != nil {
			bad("junit.xml does not parse: %v", err)
		} else {
			n := 0
			for _, s := range suites.Suites {
				n += s.Tests
			}
			if n < len(r.SLOs) {
				bad("junit.xml has %d test cases for %d objectives", n, len(r.SLOs))
			}
		}
	}
	fmt.Printf("checkrun: verdict %s, %d objectives, %d faults injected and recovered, videos %s\n",
		r.Verdict, len(r.SLOs), injected, r.Videos.Summary())
	return problems
}
