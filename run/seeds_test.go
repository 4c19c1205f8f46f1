package run

import (
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
	outs := runAll(t, opts)
	for i, seed := range seeds {
		healthy, under := outs[2*i], outs[2*i+1]
		t.Logf("seed %d: healthy %s %v, videos %s; one GPU node %s %v, videos %s", seed,
			healthy.Run.Verdict, failingObjectives(healthy.Run.SLOs), healthy.Run.Videos.Summary(),
			under.Run.Verdict, failingObjectives(under.Run.SLOs), under.Run.Videos.Summary())
		if healthy.Run.Verdict != verdict.Go {
			t.Errorf("seed %d, healthy platform: %s, reasons %q", seed, healthy.Run.Verdict, healthy.Run.Reasons)
		}
		if under.Run.Verdict != verdict.NoGo {
			t.Errorf("seed %d, one GPU node: %s, want NO-GO", seed, under.Run.Verdict)
		}
		failing := failingObjectives(under.Run.SLOs)
		for _, id := range capacityCore {
			if !slices.Contains(failing, id) {
				t.Errorf("seed %d, one GPU node: %s passed (failing %v): the core capacity reasons flipped with the seed", seed, id, failing)
			}
		}
		for _, id := range failing {
			if !slices.Contains(pipelineObjectives, id) {
				t.Errorf("seed %d, one GPU node: %s failed, which the missing GPU capacity does not explain", seed, id)
			}
		}
	}
}

// capacityCore are the objectives that too few GPUs must fail on every seed.
var capacityCore = []string{"plateau_backlog_growth", "video_processing_p95_realtime", "video_success", "videos_unfinished"}

// pipelineObjectives are the video pipeline's objectives: the only ones too few GPUs may fail.
var pipelineObjectives = append([]string{"plateau_backlog", "throughput_videos_per_hour"}, capacityCore...)
