package alerts_test

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/dailydoco/ddp-verify/internal/testenv"
	"github.com/dailydoco/ddp-verify/platform/alerts"
)

// promtoolCheck runs `promtool check rules` (Debian's prometheus package) on rules.
func promtoolCheck(t *testing.T, rules []byte) (string, error) {
	t.Helper()
	promtool := testenv.LookPath(t, testenv.Prometheus, "promtool")
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
	return string(out), err
}

// The rule file passes `promtool check rules`, and the check is real: a rule with a broken
// expression fails it.
func TestRulesPassPromtool(t *testing.T) {
	if out, err := promtoolCheck(t, alerts.Rules); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	broken := strings.Replace(string(alerts.Rules), "))) > 80", "))) > > 80", 1)
	if broken == string(alerts.Rules) {
		t.Fatal("the broken copy is the rule file itself")
	}
	if out, err := promtoolCheck(t, []byte(broken)); err == nil {
		t.Fatalf("promtool accepted a broken expression:\n%s", out)
	}
}

// Every alert of the plan is there, routed by a known severity, with a summary, and its
// expression compares a value with a threshold (an alert whose expression is a bare metric
// would fire whenever the metric exists).
func TestRulesCoverThePlan(t *testing.T) {
	groups, errs := rulefmt.Parse(alerts.Rules, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var names []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
			if !slices.Contains(alerts.Severities, r.Labels["severity"]) {
				t.Errorf("%s: severity %q, want one of %v", r.Alert, r.Labels["severity"], alerts.Severities)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert, err)
			}
			if b, ok := expr.(*parser.BinaryExpr); !ok || !b.Op.IsComparisonOperator() {
				t.Errorf("%s: %q is not a comparison with a threshold", r.Alert, r.Expr)
			}
		}
	}
	want := []string{"NodeHighCPU", "NodeHighMemory", "NodeDiskFull", "NodeNotReady", "ZoneDown", "APIErrorRateHigh", "VideoProcessingSlow"}
	if !slices.Equal(names, want) {
		t.Errorf("alerts %v, want %v", names, want)
	}
}
