package alerting

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/dailydoco/ddp-verify/internal/testenv"
	"github.com/dailydoco/ddp-verify/platform/alerts"
	"github.com/dailydoco/ddp-verify/verdict"
)

func planRoutes(t *testing.T) *Routes {
	t.Helper()
	r, err := LoadRoutes("builtin:alertmanager", alerts.Routing)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The plan's routing through Alertmanager's own code: critical pages (and reaches the team's
// Slack channel), warning goes to Slack, info to email, anything else to the default.
func TestPlanRouting(t *testing.T) {
	r := planRoutes(t)
	for _, c := range []struct {
		severity string
		want     []string
	}{
		{"critical", []string{"pagerduty", "slack"}},
		{"warning", []string{"slack"}},
		{"info", []string{"email"}},
		{"", []string{"email"}},
	} {
		if got := r.Receivers("ZoneDown", map[string]string{"severity": c.severity, "zone": "us-east-1a"}); !slices.Equal(got, c.want) {
			t.Errorf("severity %q goes to %v, want %v", c.severity, got, c.want)
		}
	}
	if got := r.Routed(); !slices.Equal(got, []string{"email", "pagerduty", "slack"}) {
		t.Errorf("routed receivers %v", got)
	}
	if !slices.Contains(r.Routed(), alerts.PageReceiver) {
		t.Errorf("the plan's routing never reaches its page receiver %s", alerts.PageReceiver)
	}
}

func TestLoadRoutesRefusesWhatAlertmanagerRefuses(t *testing.T) {
	for _, c := range []struct{ cfg, want string }{
		{"route: {receiver: nobody}\nreceivers: [{name: team}]\n", `am.yaml: undefined receiver "nobody" used in route`},
		{"receivers: [{name: team}]\n", "am.yaml: no route"},
		{"route: {receiver: team, matchers: ['severity=~(']}\nreceivers: [{name: team}]\n", "am.yaml:"},
		{"route: {receiver: team}\nreceivers: [{name: team}]\nunknown: 1\n", "field unknown not found"},
	} {
		if _, err := LoadRoutes("am.yaml", []byte(c.cfg)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadRoutes(%q) = %v, want an error saying %q", c.cfg, err, c.want)
		}
	}
}

// critical_alerts_paged: with the plan's routing every critical rule and alert pages; with a
// routing that sends criticals to Slack only, it fails naming each rule and alert.
func TestJudgePaged(t *testing.T) {
	slackOnly, err := LoadRoutes("slack-only.yaml", []byte("route: {receiver: slack}\nreceivers: [{name: slack}, {name: pagerduty}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		routes *Routes
		spans  []Span
		want   verdict.Status
		value  float64
		reason string
	}{
		{"the plan's routing", planRoutes(t), []Span{span("NodeNotReady", 142, 171)}, verdict.Pass, 0, ""},
		{"criticals to Slack only", slackOnly, []Span{span("NodeNotReady", 142, 171, "node", "gpu-1a-1")}, verdict.Fail, 3,
			`critical alerts that would not page pagerduty: rule NodeNotReady goes to slack; rule ZoneDown goes to slack; NodeNotReady{node="gpu-1a-1",severity="critical"} goes to slack`},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := input(c.spans...)
			for name, r := range in.Rules {
				r.Labels = map[string]string{"severity": r.Severity}
				in.Rules[name] = r
			}
			in.Routes, in.PageReceiver = c.routes, "pagerduty"
			o := result(t, Judge(in), IDPaged)
			if o.Status != c.want || o.Value == nil || *o.Value != c.value || !strings.Contains(o.Error, c.reason) || !o.Key {
				t.Errorf("%s %v %q (key %v), want %s %v %q", o.Status, o.Value, o.Error, o.Key, c.want, c.value, c.reason)
			}
		})
	}
	in := input()
	in.Rules = Rules{"ZoneDown": {Name: "ZoneDown", Severity: Critical, Health: v1.RuleHealthBad, LastError: "boom"}}
	in.Routes, in.PageReceiver = planRoutes(t), "pagerduty"
	if o := result(t, Judge(in), IDPaged); o.Status != verdict.Error {
		t.Errorf("a broken critical rule: %s, want ERROR", o.Status)
	}
	if out := Judge(input()); slices.ContainsFunc(out, func(o verdict.Objective) bool { return o.ID == IDPaged }) {
		t.Error("judged paging without a page receiver")
	}
}

// The plan's Alertmanager configuration passes the real Alertmanager's check (amtool, Debian's
// prometheus-alertmanager), and amtool's own routing test sends each severity where ours does.
func TestPlanRoutingAgreesWithAmtool(t *testing.T) {
	amtool := testenv.LookPath(t, testenv.Alertmanager, "amtool")
	file := filepath.Join(t.TempDir(), "alertmanager.yaml")
	if err := os.WriteFile(file, alerts.Routing, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(amtool, "check-config", file).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	r := planRoutes(t)
	for _, severity := range []string{"critical", "warning", "info", "page"} {
		out, err := exec.Command(amtool, "config", "routes", "test", "--config.file="+file, "alertname=ZoneDown", "severity="+severity).Output()
		if err != nil {
			t.Fatalf("amtool config routes test severity=%s: %v", severity, err)
		}
		want := strings.TrimSpace(string(out))
		if got := strings.Join(r.Receivers("ZoneDown", map[string]string{"severity": severity}), ","); got != want {
			t.Errorf("severity=%s: we route to %q, amtool to %q", severity, got, want)
		}
	}
}
