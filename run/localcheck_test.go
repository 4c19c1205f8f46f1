package run

import (
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/profile"
)

const checkProfile = `name: check
scenarios:
  - executor: constant-vus
    vus: 1
    duration: 1m
    journeys: {browse: 1}
alerts: {}
chaos:
  - name: gpu
    fault: FAULT
    target: {pool: gpu, count: 1}
    at: 10s
    duration: 10s
    alerts:
      - {alert: ALERT, fire_within: 30s, resolve_within: 30s}
slo: default
`

// The local target refuses, before anything starts (exit 2, at the profile's field), a fault
// it cannot inject and an expected alert its rules do not define; without faults neither
// matters.
func TestLocalTargetCheck(t *testing.T) {
	custom := []byte("groups:\n  - name: g\n    rules:\n      - alert: Custom\n        expr: vector(1)\n        labels: {severity: critical}\n")
	for _, c := range []struct {
		name, fault, alert string
		rules              []byte
		want               string // "" accepts
	}{
		{"the plan's alert", "node-failure", "NodeNotReady", nil, ""},
		{"a fault the platform cannot inject", "pod-kill", "NodeNotReady", nil, "check.yaml: chaos[0].fault: the local reference platform injects zone-outage and node-failure, not pod-kill"},
		{"a misspelt alert", "node-failure", "NodeNotReadyy", nil, `check.yaml:15: chaos[0].alerts[0].alert: the alert rules the run evaluates define no alert "NodeNotReadyy" (they define NodeHighCPU, NodeHighMemory`},
		{"an alert of other rules", "node-failure", "NodeNotReady", custom, `no alert "NodeNotReady" (they define Custom)`},
		{"custom rules", "node-failure", "Custom", custom, ""},
		{"broken rules", "node-failure", "Custom", []byte("groups: {"), "alert rules: read the alert rules:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.NewReplacer("FAULT", c.fault, "ALERT", c.alert).Replace(checkProfile)
			if c.fault == "pod-kill" {
				src = strings.Replace(src, "{pool: gpu, count: 1}", "{service: api}", 1)
			}
			p, err := profile.Parse("check.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			plan, err := p.Plan()
			if err != nil {
				t.Fatal(err)
			}
			target := &LocalTarget{AlertRules: c.rules}
			err = target.Check(plan, true)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one containing %q", err, c.want)
			case c.want != "" && exitcode.Of(err) != exitcode.BadInput:
				t.Errorf("exit code %d, want %d (bad input)", exitcode.Of(err), exitcode.BadInput)
			}
			if err := target.Check(plan, false); (err != nil) != (c.rules != nil && c.want != "" && strings.HasPrefix(c.want, "alert rules:")) {
				t.Errorf("without faults: %v", err)
			}
		})
	}
}
