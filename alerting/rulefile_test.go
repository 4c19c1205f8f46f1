package alerting

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/dailydoco/ddp-verify/platform/alerts"
)

// The plan's rules scaled by a quarter: every for clause a quarter as long, the expressions
// and comments as written, and the file still a valid rule file.
func TestScaleFor(t *testing.T) {
	out, err := ScaleFor(alerts.Rules, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := parseRules(out)
	if len(errs) > 0 {
		t.Fatalf("the scaled file is not a rule file: %v\n%s", errs, out)
	}
	orig, errs := parseRules(alerts.Rules)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	n := 0
	for i, g := range groups.Groups {
		for j, r := range g.Rules {
			o := orig.Groups[i].Rules[j]
			if r.For != o.For/4 || r.Expr != o.Expr || r.Alert != o.Alert {
				t.Errorf("%s: for %s expr %q, want for %s (a quarter of %s) and the expression unchanged", r.Alert, r.For, r.Expr, o.For/4, o.For)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no rule in the plan's file")
	}
	if !bytes.Contains(out, []byte("# The deployment plan's alert rules")) {
		t.Error("the scaled file lost the rule file's comments")
	}
}

func TestScaleForEdges(t *testing.T) {
	if out, err := ScaleFor(alerts.Rules, 1); err != nil || !bytes.Equal(out, alerts.Rules) {
		t.Errorf("a factor of 1 changed the file (err %v)", err)
	}
	tiny, err := ScaleFor([]byte("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: vector(1)\n        for: 1s\n      - alert: B\n        expr: vector(1)\n"), 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(tiny), "for: 1ms") || strings.Count(string(tiny), "for:") != 1 {
		t.Errorf("a for scaled below a millisecond must become 1ms and an absent one stay absent:\n%s", tiny)
	}
	for _, c := range []struct {
		rules string
		f     float64
		want  string
	}{
		{"groups: []\n", 0, "must be a positive number"},
		{"groups: []\n", -2, "must be a positive number"},
		{"rules: []\n", 2, "no groups list"},
		{"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: vector(1)\n        for: soon\n", 2, "line 4: for:"},
		{"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: vector(1)\n        for: 200y\n", 10, "overflows"},
	} {
		if _, err := ScaleFor([]byte(c.rules), c.f); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ScaleFor(%q, %v) = %v, want an error saying %q", c.rules, c.f, err, c.want)
		}
	}
}

// parseRules reads a rule file with Prometheus's own loader and checks.
func parseRules(b []byte) (*rulefmt.RuleGroups, []error) {
	return rulefmt.Parse(b, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
}

func TestAlertNames(t *testing.T) {
	names, err := AlertNames(alerts.Rules)
	if err != nil {
		t.Fatal(err)
	}
	want := "NodeHighCPU NodeHighMemory NodeDiskFull NodeNotReady ZoneDown APIErrorRateHigh VideoProcessingSlow"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("alert names %q, want %q", got, want)
	}
	if _, err := AlertNames([]byte("groups: {")); err == nil {
		t.Error("a broken rule file gave no error")
	}
}
