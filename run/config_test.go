package run

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	c, err := LoadConfig(filepath.Join("testdata", "config", "staging.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range c.Flags() {
		got[kv[0]] = kv[1]
	}
	want := map[string]string{
		"profile": "nightly", "target": "https://api.staging.example.test",
		"prometheus-url": "https://prometheus.staging.example.test", "expect-job": "api,video-worker",
		"drain-timeout": "5m", "chaos-backend": "mesh", "context": "staging",
		"namespace": "dailydoco-prod", "max-node-share": "0.34", "seed": "7",
		"aws-secret": "aws-chaos", "aws-region": "us-east-1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("flag %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("flags %v, want exactly %v", got, want)
	}
	if fc := c.FixedCosts; fc == nil || fc.AsOf != "2026-11-01" || fc.MonthlyUSD["redis"] != 500 || len(fc.MonthlyUSD) != 3 {
		t.Errorf("fixed costs %+v", fc)
	}
	if err := c.FieldError("max-node-share", errString("nope")); !strings.Contains(err.Error(), "staging.good.yaml:11: chaos.max_node_share: nope") {
		t.Errorf("field error %q does not name file, line and field", err)
	}
}

// A file with nothing in it but comments sets no flag, and a flag it does not set has no line.
func TestEmptyConfigSetsNothing(t *testing.T) {
	c, err := LoadConfig(filepath.Join("testdata", "config", "comments-only.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if f := c.Flags(); len(f) != 0 {
		t.Errorf("flags %v, want none", f)
	}
	if err := c.FieldError("seed", errString("nope")); err.Error() != "testdata/config/comments-only.good.yaml: seed: nope" {
		t.Errorf("field error %q", err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestBadConfigNamesFileLineAndField(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"unknown-field.bad.yaml", []string{"unknown-field.bad.yaml:4: chaos.namespace: unknown field (did you mean namespaces?)"}},
		{"wrong-types.bad.yaml", []string{
			`wrong-types.bad.yaml:2: expect_jobs: want a sequence, got the string "api"`,
			`wrong-types.bad.yaml:3: time_scale: want a number, got the string "fast"`,
			"wrong-types.bad.yaml:5: chaos.namespaces: want a sequence, got a mapping",
		}},
		{"fixed-costs.bad.yaml", []string{
			`fixed-costs.bad.yaml:3: fixed_costs.as_of: "last month" is not YYYY-MM-DD`,
			"fixed-costs.bad.yaml:2: fixed_costs.source: is required",
			"fixed-costs.bad.yaml:5: fixed_costs.monthly_usd.postgres: must be a cost of 0 or more (got -1500)",
		}},
		{"not-a-number.bad.yaml", []string{
			"not-a-number.bad.yaml:2: time_scale: want a finite number, got .inf",
			"not-a-number.bad.yaml:4: chaos.max_node_share: want a finite number, got .nan",
		}},
		{"bad-values.bad.yaml", []string{
			"bad-values.bad.yaml:2: target: want local, kubernetes or the URL",
			`bad-values.bad.yaml:4: chaos.backend: unknown backend "litmus"`,
			"bad-values.bad.yaml:5: chaos.max_node_share: want a share in (0, 1]",
			"bad-values.bad.yaml:6: seed: must be at least 1",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			_, err := LoadConfig(filepath.Join("testdata", "config", tc.file))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
