package main

import (
	"strings"
	"testing"

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
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
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
