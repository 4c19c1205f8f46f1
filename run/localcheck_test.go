package run

import (
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/platform/topology"
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
			plan := checkPlan(t, c.fault, c.alert)
			target := &LocalTarget{AlertRules: c.rules}
			checkRefusal(t, target.Check(plan, true), c.want)
			if err := target.Check(plan, false); (err != nil) != (c.rules != nil && c.want != "" && strings.HasPrefix(c.want, "alert rules:")) {
				t.Errorf("without faults: %v", err)
			}
		})
	}
}

// The Kubernetes target refuses, before anything starts (exit 2): faults without the Chaos
// Mesh controller that injects them, a fault kind it cannot inject here (NetworkChaos), a
// topology broken on purpose (its pods would run the healthy platform and pass for it).
func TestKubernetesTargetCheck(t *testing.T) {
	broken := topology.Default()
	broken.Defects.PriceFactor = 2
	for _, c := range []struct {
		name, fault string
		target      KubernetesTarget
		faults      bool
		want        string // "" accepts
	}{
		{"a node failure with Chaos Mesh", "node-failure", KubernetesTarget{ChaosMesh: "/cm"}, true, ""},
		{"a pod kill with Chaos Mesh", "pod-kill", KubernetesTarget{ChaosMesh: "/cm"}, true, ""},
		{"faults without Chaos Mesh", "node-failure", KubernetesTarget{}, true, "give --chaos-mesh DIR"},
		{"no faults, no Chaos Mesh", "node-failure", KubernetesTarget{}, false, ""},
		{"a network delay", "network-delay", KubernetesTarget{ChaosMesh: "/cm"}, true, "chaos[0].fault: the Kubernetes target injects zone-outage, node-failure and pod-kill, not network-delay"},
		{"defects", "node-failure", KubernetesTarget{Topology: broken}, false, "defects (price_factor=2) break the local target's processes on purpose"},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkRefusal(t, c.target.Check(checkPlan(t, c.fault, "NodeNotReady"), c.faults), c.want)
		})
	}
}

// checkPlan is checkProfile's plan with its fault and expected alert: a pod kill and a
// network delay aim at the API's pods.
func checkPlan(t *testing.T, fault, alert string) *profile.Plan {
	t.Helper()
	src := strings.NewReplacer("FAULT", fault, "ALERT", alert).Replace(checkProfile)
	switch fault {
	case "pod-kill":
		src = strings.Replace(src, "{pool: gpu, count: 1}", "{service: api}", 1)
	case "network-delay":
		src = strings.Replace(src, "{pool: gpu, count: 1}", "{service: api}\n    latency: 100ms", 1)
	}
	p, err := profile.Parse("check.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// checkRefusal fails unless err is nil when want is empty, else bad input saying want.
func checkRefusal(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("refused: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %v, want one containing %q", err, want)
	case want != "" && exitcode.Of(err) != exitcode.BadInput:
		t.Errorf("exit code %d, want %d (bad input)", exitcode.Of(err), exitcode.BadInput)
	}
}
