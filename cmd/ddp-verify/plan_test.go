package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/dailydoco/ddp-verify/exitcode"
)

func TestPlanLaunchShowsThePlansStagesAndFaults(t *testing.T) {
	out, errOut, code := execute(t, "plan", "--profile", "launch")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"peak 1120 VUs",
		"ramp-100            users     0:00   5:00     0 -> 100",
		"hold-1000           users     35:00  55:00    1000 -> 1000",
		"captures-hold-1000  captures  35:00  55:00    600 -> 600",
		"gpu-node  node-failure",
		"zone-a    zone-outage/power-loss",
		"plateau                  api_latency_p95,",
		"recovery-zone-a          recovery_time",
		"kind: PodChaos",
		"topology.kubernetes.io/zone: us-east-1a",
		"duration: 4m0s",
		"ALERTS (key objectives; the local target runs the plan's rules with their for clauses x1)",
		`gpu-node                 NodeNotReady{pool="gpu"} fires within 2m30s of the injection, resolves within 1m0s of the recovery`,
		`zone-a                   ZoneDown{zone="us-east-1a"} fires within 2m30s`,
		"run                      no critical alert that no fault expects",
		"run                      every critical rule and alert is routed to pagerduty",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
}

// With --aws-secret the plan's node failure and zone power loss are EC2 instance stops
// (AWSChaos ec2-stop, one per instance, with the Secret and the endpoint), and no node is
// cordoned.
func TestPlanWithAWSStopsInstances(t *testing.T) {
	out, errOut, code := execute(t, "plan", "--profile", "launch", "--aws-secret", "aws-creds", "--aws-endpoint", "http://127.0.0.1:4566")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, manifests, _ := strings.Cut(out, "CHAOS MESH MANIFESTS")
	if n := strings.Count(manifests, "kind: AWSChaos"); n != 3 {
		t.Errorf("%d AWSChaos objects, want 3 (the GPU node, the zone's general and GPU nodes):\n%s", n, manifests)
	}
	for _, want := range []string{"action: ec2-stop", "ec2Instance: i-gpu1a1", "awsRegion: us-east-1", "secretName: aws-creds", "endpoint: http://127.0.0.1:4566"} {
		if !strings.Contains(manifests, want) {
			t.Errorf("manifests lack %q:\n%s", want, manifests)
		}
	}
	if strings.Contains(manifests, "PodChaos") || strings.Contains(manifests, "cordons") {
		t.Errorf("pod failures or cordons beside the instance stops:\n%s", manifests)
	}
}

// A time-scaled plan says up front which objectives the run will not evaluate.
func TestPlanTimeScaledListsNotEvaluated(t *testing.T) {
	out, errOut, code := execute(t, "plan", "--profile", "launch", "--time-scale", "0.05")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "not evaluated at time scale x0.05 (they need full-length windows): video_processing_p95_realtime, throughput_videos_per_hour, plateau_backlog_growth"
	if !strings.Contains(out, want) {
		t.Errorf("plan output lacks %q:\n%s", want, out)
	}
	if want := "not evaluated at time scale x0.05 (the faults are shorter than the platform's detection): the faults' expected alerts"; !strings.Contains(out, want) {
		t.Errorf("plan output lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "plateau_backlog_growth, throughput") {
		t.Error("the plateau row still lists the throughput objective")
	}
	full, _, _ := execute(t, "plan", "--profile", "launch")
	if strings.Contains(full, "not evaluated") || !strings.Contains(full, "plateau_backlog, plateau_backlog_growth, throughput_videos_per_hour") {
		t.Errorf("the full-length plan leaves objectives out:\n%s", full)
	}
}

func TestPlanBadInputExits2(t *testing.T) {
	for _, args := range [][]string{
		{"plan"},
		{"plan", "--profile", "no-such"},
		{"plan", "--profile", "smoke", "--time-scale", "-1"},
		{"plan", "--profile", "smoke", "--time-scale", "x"},
	} {
		if _, errOut, code := execute(t, args...); code != exitcode.BadInput {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errOut)
		}
	}
}

func TestProfilesListsBuiltins(t *testing.T) {
	out, _, code := execute(t, "profiles")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"launch   1h0m0s    1120", "smoke    2m0s      90", "nightly  15m0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("profiles output lacks %q:\n%s", want, out)
		}
	}
}

// Garbage in is never a plan out: a time scale that overflows durations, one that shrinks every
// stage to nothing, NaN, a billion users. Each used to print a plan (negative times, every stage
// at 0:00) and exit 0.
func TestPlanRefusesGarbage(t *testing.T) {
	billion := filepath.Join(t.TempDir(), "billion.yaml")
	if err := os.WriteFile(billion, []byte("name: billion\nscenarios:\n  - executor: constant-vus\n    vus: 1000000000\n    duration: 1m\n    journeys: {browse: 1}\nslo: default\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"overflow", []string{"--profile", "stress", "--time-scale", "1e9"}, "5m0s at time scale 1e+09 is 3.472e+06 days, longer than 720h0m0s (30 days)"},
		{"to nothing", []string{"--profile", "launch", "--time-scale", "1e-6"}, "5m0s at time scale 1e-06 is 300µs, shorter than 1ms"},
		{"NaN", []string{"--profile", "smoke", "--time-scale", "NaN"}, "--time-scale NaN: want a finite number"},
		{"billion users", []string{"--profile", billion}, "1000000000 VUs is more than this machine can hold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := executeCombined(t, append([]string{"plan"}, tc.args...)...)
			if code != exitcode.BadInput || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want 2 saying %q:\n%s", code, tc.want, out)
			}
		})
	}
	// --force lifts the machine's bound (the plan is then printed).
	if out, code := executeCombined(t, "plan", "--profile", billion, "--force"); code != 0 || !strings.Contains(out, "peak 1000000000 VUs") {
		t.Errorf("--force: exit %d\n%s", code, out)
	}
}

// plan --agents N prints the Indexed Job that run --agents-on kubernetes applies: completion
// index = segment, one pod per agent, no retry of a failed index, the run id label.
func TestPlanPrintsTheAgentsJob(t *testing.T) {
	out, errOut, code := execute(t, "plan", "--profile", "smoke", "--agents", "3", "--agents-namespace", "load")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, doc, ok := strings.Cut(out, "LOAD AGENTS JOB")
	if !ok {
		t.Fatalf("no agents Job in:\n%s", out)
	}
	_, doc, _ = strings.Cut(doc, "\n")
	var job batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(doc), &job); err != nil {
		t.Fatalf("the Job does not read back: %v\n%s", err, doc)
	}
	s := job.Spec
	if job.Namespace != "load" || *s.Completions != 3 || *s.Parallelism != 3 || *s.CompletionMode != batchv1.IndexedCompletion ||
		s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex != 0 || s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever ||
		job.Labels["ddp-verify.dailydoco.io/run-id"] == "" || s.Template.Spec.Containers[0].Args[0] != "agent" {
		t.Errorf("Job %+v", job)
	}
}
