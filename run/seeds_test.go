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
// reasons, with one GPU node and no autoscaling.
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
	var underReasons []string
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
		if underReasons == nil {
			underReasons = failing
		} else if !slices.Equal(failing, underReasons) {
			t.Errorf("seed %d, one GPU node: failing %v, seed %d failed %v: the reasons flipped with the seed", seed, failing, seeds[0], underReasons)
		}
	}
}
