package run

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/slo"
	"github.com/dailydoco/ddp-verify/verdict"
)

// capacityTopology is the test topology at model speed 1.5 (so that the capacity profile's
// 6,000 videos an hour need more than one GPU node), with gpuNodes GPU nodes and, when
// scaling is false, no autoscaling.
func capacityTopology(gpuNodes int, scaling bool) *topology.Topology {
	topo := platformtest.Topology()
	topo.Model.Speed = 1.5
	gpu := topo.Pool("gpu")
	gpu.Nodes, gpu.Min = gpuNodes, gpuNodes
	if !scaling {
		gpu.Max = gpuNodes
		topo.Autoscaler.Enabled = false
	}
	return topo
}

// The verdict is a capacity answer, not a demand count, so it does not flip on noise: the same
// profile under several seeds (other journeys, think times, media lengths; the same evenly
// spaced arrivals) is GO every time on the healthy platform, and NO-GO every time, for the same
// reasons, with one GPU node and no autoscaling: every seed fails the capacity objectives
// (backlog growth, realtime, unfinished videos) and nothing outside the video pipeline's
// objectives. (An objective whose value sits near its threshold on the broken platform, such
// as the plateau's peak backlog, may fail on one seed and pass on another: that is a secondary
// symptom, and the verdict and its core reasons do not move.)
//
// The same batch (so that its runs share the machine's waves) proves the "autoscaling off"
// knob of the gate-mutation suite on testdata/autoscale.yaml: from one GPU node, the cluster
// autoscaler adds the node the load needs (GO); the same platform without it is NO-GO for the
// capacity reasons.
func TestVerdictStableAcrossSeeds(t *testing.T) {
	plan, err := profile.Resolve(filepath.Join("testdata", "capacity.yaml"), 1)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := slo.Default()
	if err != nil {
		t.Fatal(err)
	}
	seeds := []uint64{1, 2, 3}
	var opts []Options
	for _, seed := range seeds {
		opts = append(opts, suiteRun(t, plan, spec, capacityTopology(2, true), seed), suiteRun(t, plan, spec, capacityTopology(1, false), seed))
	}
	autoscale, err := profile.Resolve(filepath.Join("testdata", "autoscale.yaml"), 1)
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, suiteRun(t, autoscale, spec, capacityTopology(1, true), 1), suiteRun(t, autoscale, spec, capacityTopology(1, false), 1))
	outs := runAll(t, opts)
	t.Run("autoscaling off", func(t *testing.T) { checkAutoscaling(t, outs[len(outs)-2], outs[len(outs)-1]) })
	for i, seed := range seeds {
		healthy, under := outs[2*i], outs[2*i+1]
		t.Logf("seed %d: healthy %s %v, videos %s%s; one GPU node %s %v, videos %s%s", seed,
			healthy.Run.Verdict, failingObjectives(healthy.Run.SLOs), healthy.Run.Videos.Summary(), clockSteps(healthy),
			under.Run.Verdict, failingObjectives(under.Run.SLOs), under.Run.Videos.Summary(), clockSteps(under))
		if healthy.Run.Verdict != verdict.Go {
			t.Errorf("seed %d, healthy platform: %s, reasons %q", seed, healthy.Run.Verdict, healthy.Run.Reasons)
		}
		if under.Run.Verdict != verdict.NoGo {
			t.Errorf("seed %d, one GPU node: %s, want NO-GO", seed, under.Run.Verdict)
		}
		checkCapacityReasons(t, fmt.Sprintf("seed %d, one GPU node", seed), failingObjectives(under.Run.SLOs))
	}
}

// checkAutoscaling checks the autoscaling knob: GO with the autoscaler, NO-GO without it, for
// the core capacity reasons and no other.
func checkAutoscaling(t *testing.T, scaled, fixed *Outcome) {
	t.Helper()
	t.Logf("one GPU node with autoscaling %s %v, videos %s%s; without %s %v, videos %s%s",
		scaled.Run.Verdict, failingObjectives(scaled.Run.SLOs), scaled.Run.Videos.Summary(), clockSteps(scaled),
		fixed.Run.Verdict, failingObjectives(fixed.Run.SLOs), fixed.Run.Videos.Summary(), clockSteps(fixed))
	if scaled.Run.Verdict != verdict.Go {
		t.Errorf("with autoscaling: %s, reasons %q: the autoscaler did not add the node the load needs", scaled.Run.Verdict, scaled.Run.Reasons)
	}
	if fixed.Run.Verdict != verdict.NoGo {
		t.Errorf("autoscaling off: %s, want NO-GO", fixed.Run.Verdict)
	}
	checkCapacityReasons(t, "autoscaling off", failingObjectives(fixed.Run.SLOs))
}

// checkCapacityReasons checks that a platform short of GPU capacity (what) failed every core
// capacity objective and nothing outside the video pipeline.
func checkCapacityReasons(t *testing.T, what string, failing []string) {
	t.Helper()
	for _, id := range capacityCore {
		if !slices.Contains(failing, id) {
			t.Errorf("%s: %s passed (failing %v): a core capacity reason is missing", what, id, failing)
		}
	}
	for _, id := range failing {
		if !slices.Contains(pipelineObjectives, id) {
			t.Errorf("%s: %s failed, which missing GPU capacity does not explain", what, id)
		}
	}
}

// capacityCore are the objectives that too few GPUs must fail on every seed.
var capacityCore = []string{"plateau_backlog_growth", "video_processing_p95_realtime", "video_success", "videos_unfinished"}

// pipelineObjectives are the video pipeline's objectives: the only ones too few GPUs may fail.
var pipelineObjectives = append([]string{"plateau_backlog", "throughput_videos_per_hour"}, capacityCore...)

// clockSteps says the steps of the machine's wall clock during a run, if any: the runs' windows
// follow them (wallClock), and a failure beside one says where to look.
func clockSteps(o *Outcome) string {
	if len(o.ClockSteps) == 0 {
		return ""
	}
	return fmt.Sprintf(" (the wall clock stepped: %+v)", o.ClockSteps)
}
