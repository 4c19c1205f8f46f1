package model

import (
	"math"
	"testing"
	"time"
)

// The plan's 1000-user plateau needs >= 500 videos/hour at p95 realtime ratio < 2. The reference
// workload is 60 s 1080p captures (what the journeys upload); the plateau lasts 20 minutes.
func TestCalibrationMeetsPlanWithTwoGPUNodesAndFailsWithOne(t *testing.T) {
	m := Default()
	plateau := Workload{VideosPerHour: 500, Resolution: R1080p, MediaSeconds: 60, Hours: 1, Seed: 1}

	// Headroom: the default pool carries 1.4x the plan's rate and still meets the ratio.
	for _, rate := range []float64{500, 700} {
		w := plateau
		w.VideosPerHour = rate
		r := Simulate(m, Cluster{GPUNodes: 2, MemoryNodes: 2}, w)
		t.Logf("2 GPU nodes, %v videos/h: %+v", rate, r)
		if r.P95Ratio >= 2 {
			t.Errorf("2 GPU nodes at %v videos/h: p95 ratio %.2f, want < 2", rate, r.P95Ratio)
		}
		if arrivedPerHour := float64(r.Arrived) / w.Hours; r.CompletedPerHour < 0.97*arrivedPerHour {
			t.Errorf("2 GPU nodes at %v videos/h: completed %.0f/h of %.0f/h arrived, want it to keep up", rate, r.CompletedPerHour, arrivedPerHour)
		}
	}
	if c := m.GPUCapacityPerHour(2, R1080p, 60); c < 1.4*500 {
		t.Errorf("capacity of 2 GPUs: %.0f videos/h, want >= 700", c)
	}

	one := Simulate(m, Cluster{GPUNodes: 1, MemoryNodes: 2}, plateau)
	t.Logf("1 GPU node: %+v", one)
	if one.P95Ratio < 2 {
		t.Errorf("1 GPU node: p95 ratio %.2f, want >= 2 (the plan must fail)", one.P95Ratio)
	}
	if one.CompletedPerHour >= 500 {
		t.Errorf("1 GPU node: completed %.0f/h, want < 500", one.CompletedPerHour)
	}
}

func TestIdleTimes(t *testing.T) {
	m := Default()
	if got := m.TranscodeSeconds(R1080p, 60); got != 18 {
		t.Errorf("1080p 60 s transcode = %v, want 18", got)
	}
	if got := m.IdleSeconds(R1080p, 60); got != 26 {
		t.Errorf("1080p 60 s idle end to end = %v, want 26", got)
	}
	m.Speed = 10
	if got := m.Wall(18); got != 1800*time.Millisecond {
		t.Errorf("Wall(18) at speed 10 = %v", got)
	}
	if got := m.RealtimeRatio(2600*time.Millisecond, 60); got < 0.4333 || got > 0.4334 {
		t.Errorf("ratio = %v, want 26/60", got)
	}
	// One idle video through the simulation takes exactly the idle time.
	r := Simulate(Default(), Cluster{GPUNodes: 1, MemoryNodes: 1}, Workload{VideosPerHour: 0.5, Resolution: R1080p, MediaSeconds: 60, Hours: 1, Seed: 3})
	if r.Completed > 0 && (r.P95Ratio < 26.0/60-1e-9 || r.P95Ratio > 26.0/60+1e-9) {
		t.Errorf("idle simulated ratio = %v, want %v", r.P95Ratio, 26.0/60)
	}
}

func TestValidate(t *testing.T) {
	if errs := Default().Validate(); len(errs) > 0 {
		t.Fatalf("default model invalid: %v", errs)
	}
	m := Default()
	m.Speed = 0
	m.GPU = map[Resolution]GPUCost{R4K: {Slots: 9, SecondsPerMediaSecond: 1}, "8k": {Slots: 1, SecondsPerMediaSecond: 1}}
	if errs := m.Validate(); len(errs) < 4 {
		t.Errorf("want speed, 4k slots, missing 1080p/720p and unknown 8k errors, got %v", errs)
	}
}

// The load generator's documented media mix (scenarios.DefaultMedia: 720p clips, 1080p
// tutorials and walkthroughs, 4K captures): at 600 videos/hour the default pool meets the plan,
// 4K videos included, and one GPU node does not.
func TestCalibrationWithMediaMix(t *testing.T) {
	mix := []Class{
		{Resolution: R720p, MinSeconds: 20, MaxSeconds: 40, Share: 0.25},
		{Resolution: R1080p, MinSeconds: 30, MaxSeconds: 90, Share: 0.55},
		{Resolution: R1080p, MinSeconds: 90, MaxSeconds: 150, Share: 0.10},
		{Resolution: R4K, MinSeconds: 20, MaxSeconds: 45, Share: 0.10},
	}
	w := Workload{VideosPerHour: 600, Mix: mix, Hours: 1, Seed: 7}
	two := Simulate(Default(), Cluster{GPUNodes: 2, MemoryNodes: 2}, w)
	one := Simulate(Default(), Cluster{GPUNodes: 1, MemoryNodes: 2}, w)
	t.Logf("2 GPU nodes: %+v", two)
	t.Logf("1 GPU node:  %+v", one)
	if two.P95Ratio >= 2 || two.CompletedPerHour < 0.97*float64(two.Arrived) {
		t.Errorf("2 GPU nodes: p95 %.2f, %0.f completed of %d", two.P95Ratio, two.CompletedPerHour, two.Arrived)
	}
	if one.P95Ratio < 2 {
		t.Errorf("1 GPU node: p95 %.2f, want the plan to fail", one.P95Ratio)
	}
	// Both scheduling rules matter: first come first served, or no reservation for videos
	// that need a whole GPU, miss the plan at the same load.
	fifo := Default()
	fifo.DueRatio = 0
	greedy := Default()
	greedy.ReserveSeconds = math.Inf(1)
	for name, m := range map[string]Model{"first come first served": fifo, "no reservation": greedy} {
		r := Simulate(m, Cluster{GPUNodes: 2, MemoryNodes: 2}, w)
		t.Logf("2 GPU nodes, %s: %+v", name, r)
		if r.P95Ratio < two.P95Ratio {
			t.Errorf("%s does better (p95 %.2f) than the platform's scheduling (%.2f)", name, r.P95Ratio, two.P95Ratio)
		}
	}
}
