package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/exitcode"
)

// Bad run flags (the Chaos Mesh backend's combinations, the seed) are refused before anything is contacted.
func TestRunBadFlags(t *testing.T) {
	url := []string{"--target", "http://127.0.0.1:1", "--prometheus-url", "http://127.0.0.1:1"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"faults on a URL target need a backend or --no-chaos", url, "add --chaos-backend mesh"},
		{"unknown backend", append([]string{"--chaos-backend", "chaosd"}, url...), `--chaos-backend "chaosd"`},
		{"mesh is for a URL target", []string{"--chaos-backend", "mesh", "--namespace", "ns"}, "--chaos-backend is for a URL target"},
		{"mesh flags without the backend", append([]string{"--namespace", "ns"}, url...), "--namespace configures the Chaos Mesh backend"},
		{"mesh needs namespaces", append([]string{"--chaos-backend", "mesh"}, url...), "needs --namespace"},
		{"node share out of range", append([]string{"--chaos-backend", "mesh", "--namespace", "ns", "--max-node-share", "1.5"}, url...), "--max-node-share 1.5"},
		{"node share NaN", append([]string{"--chaos-backend", "mesh", "--namespace", "ns", "--max-node-share", "NaN"}, url...), "--max-node-share NaN: want a finite number"},
		{"time scale Inf", []string{"--time-scale", "Inf"}, "--time-scale +Inf: want a finite number"},
		{"--out not empty", []string{"--out", "testdata"}, "run directory (--out): testdata is not empty"},
		{"seed 0", []string{"--seed", "0"}, "--seed: must be at least 1"},
		{"an Alertmanager configuration Alertmanager refuses", []string{"--alertmanager-config", writeFile(t, "am.yaml", "route: {receiver: nobody}\nreceivers: [{name: team}]\n")},
			`am.yaml: undefined receiver "nobody" used in route`},
		{"no Alertmanager configuration", []string{"--alertmanager-config", filepath.Join(t.TempDir(), "missing.yaml")}, "--alertmanager-config: open "},
		{"a routing that never pages", []string{"--alertmanager-config", writeFile(t, "slack.yaml", "route: {receiver: slack}\nreceivers: [{name: slack}]\n")},
			`builtin:smoke:40: alerts.page_receiver: no route of the Alertmanager configuration`},
		{"no alert rule file", []string{"--alert-rules", filepath.Join(t.TempDir(), "missing.yaml")}, "--alert-rules: open "},
		{"an alert rule file that does not read", []string{"--alert-rules", writeFile(t, "rules.yaml", "groups: {")}, "alert rules: read the alert rules:"},
		{"alert rules without the alert a fault expects", []string{"--alert-rules", writeFile(t, "rules.yaml", "groups: [{name: g, rules: [{alert: Other, expr: vector(1)}]}]\n"),
			"--profile", "nightly"}, `chaos[0].alerts[0].alert: the alert rules the run evaluates define no alert "NodeNotReady" (they define Other)`},
		{"AWS flags without the backend", append([]string{"--aws-secret", "aws"}, url...), "--aws-secret configures the Chaos Mesh backend"},
		{"an AWS endpoint that is not a URL", append([]string{"--chaos-backend", "mesh", "--namespace", "ns", "--aws-endpoint", "127.0.0.1:9"}, url...), `--aws-endpoint "127.0.0.1:9": want the http(s) URL of an EC2 API`},
		{"--assets is for the kubernetes target", []string{"--assets", "/x"}, "--assets is for --target kubernetes"},
		{"--chaos-mesh is for the kubernetes target", append([]string{"--chaos-mesh", "/x"}, url...), "--chaos-mesh is for --target kubernetes"},
		{"the kubernetes target has its own Prometheus", []string{"--target", "kubernetes", "--prometheus-url", "http://127.0.0.1:1"}, "--prometheus-url is for a URL target; the kubernetes target"},
		{"the kubernetes target runs its own Chaos Mesh", []string{"--target", "kubernetes", "--chaos-backend", "mesh", "--namespace", "ns"}, "the kubernetes target through the Chaos Mesh it runs"},
		{"the kubernetes target's faults need Chaos Mesh", []string{"--target", "kubernetes", "--chaos-mesh", ""}, "give --chaos-mesh DIR"},
		{"--metrics-server is for the kubernetes target", append([]string{"--metrics-server", "/x"}, url...), "--metrics-server is for --target kubernetes"},
		{"a metrics-server directory without it", []string{"--target", "kubernetes", "--metrics-server", t.TempDir()}, "no metrics-server there; hack/metrics-server.sh builds it"},
		{"an unknown target", []string{"--target", "kube"}, `--target "kube": want local, kubernetes or the URL`},
		{"bad kubeconfig", append([]string{"--chaos-backend", "mesh", "--namespace", "ns", "--kubeconfig", filepath.Join(t.TempDir(), "missing")}, url...), "kubeconfig:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--profile", "smoke", "--out", filepath.Join(t.TempDir(), "run")}, tc.args...)
			out, code := executeCombined(t, args...)
			if code != exitcode.BadInput || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, output %q; want exit %d saying %q", code, out, exitcode.BadInput, tc.want)
			}
		})
	}
}

// A profile whose fault breaks one of the chaos engine's rules (a fault name is a Kubernetes
// label value) is bad input: exit 2, naming the file, the line and the field, before anything
// starts (no run directory, no platform).
func TestRunProfileBreakingAChaosRuleIsBadInput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	_, errOut, code := execute(t, "run", "--profile", filepath.Join("..", "..", "profile", "testdata", "fault-name-not-a-label.bad.yaml"), "--out", out)
	if code != exitcode.BadInput || !strings.Contains(errOut, "fault-name-not-a-label.bad.yaml:8: chaos[0].name") || !strings.Contains(errOut, "DNS label") {
		t.Fatalf("exit %d, stderr %q; want exit 2 naming file:8 and chaos[0].name", code, errOut)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a run directory was created: %v", err)
	}
}

// writeFile writes content to a new file named name and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
