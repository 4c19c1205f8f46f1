package profile

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dailydoco/ddp-verify/load"
)

// failureBackoff reaches the engine's scenario: the default when absent, the profile's values
// (missing ones defaulted), and off for 0; --time-scale leaves it alone.
func TestFailureBackoffReachesThePlan(t *testing.T) {
	t.Parallel()
	p, err := Load(filepath.Join("testdata", "failure-backoff.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]load.FailureBackoff{
		"default":  load.DefaultFailureBackoff,
		"custom":   {Min: 500 * time.Millisecond, Max: time.Minute},
		"long-min": {Min: 45 * time.Second, Max: 45 * time.Second},
		"off":      {},
	}
	for _, scale := range []float64{1, 0.1} {
		q := p
		if scale != 1 {
			if q, err = p.Scaled(scale); err != nil {
				t.Fatal(err)
			}
		}
		plan, err := q.Plan()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range plan.Scenarios {
			if got := s.Load.FailureBackoff; got != want[s.Load.Name] {
				t.Errorf("scale %g: scenario %s: backoff %+v, want %+v", scale, s.Load.Name, got, want[s.Load.Name])
			}
		}
	}
	for _, name := range Builtin() {
		plan, err := Resolve(name, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range plan.Scenarios {
			if s.Load.FailureBackoff != load.DefaultFailureBackoff {
				t.Errorf("built-in %s, scenario %s: backoff %+v, want the default", name, s.Load.Name, s.Load.FailureBackoff)
			}
		}
	}
}

func TestBadFailureBackoffNamesFileLineAndField(t *testing.T) {
	t.Parallel()
	for file, wants := range map[string][]string{
		"failure-backoff.bad.yaml": {
			`failure-backoff.bad.yaml:9: scenarios[0].failureBackoff: unknown field "maximum"`,
			"failure-backoff.bad.yaml:15: scenarios[1].failureBackoff.min: must be positive; failureBackoff: 0 turns the backoff off",
			`failure-backoff.bad.yaml:21: scenarios[2].failureBackoff.max: invalid duration "30"`,
			"failure-backoff.bad.yaml:27: scenarios[3].failureBackoff: want a mapping such as {min: 1s, max: 30s}, or 0 to turn the backoff off",
		},
		"failure-backoff-rules.bad.yaml": {
			"failure-backoff-rules.bad.yaml:9: scenarios[0].failureBackoff.max: 5s is shorter than min 10s",
			"failure-backoff-rules.bad.yaml:15: scenarios[1].failureBackoff.min: must be positive (got -1s)",
			"failure-backoff-rules.bad.yaml:21: scenarios[2].failureBackoff.max: 2h0m0s is longer than 1h0m0s",
		},
	} {
		_, err := Load(filepath.Join("testdata", file))
		if err == nil {
			t.Fatalf("%s accepted", file)
		}
		for _, want := range wants {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error\n%v\nlacks %q", err, want)
			}
		}
	}
}

func TestFailureBackoffYAMLRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   FailureBackoff
		want string
	}{
		{FailureBackoff{Off: true}, "0\n"},
		{FailureBackoff{Min: Duration{time.Second}, Max: Duration{time.Minute}}, "min: 1s\nmax: 1m0s\n"},
	} {
		b, err := yaml.Marshal(tc.in)
		if err != nil || string(b) != tc.want {
			t.Errorf("%+v: %q %v, want %q", tc.in, b, err, tc.want)
		}
		var back FailureBackoff
		if err := yaml.Unmarshal(b, &back); err != nil || back != tc.in {
			t.Errorf("%q read back as %+v %v, want %+v", b, back, err, tc.in)
		}
	}
}
