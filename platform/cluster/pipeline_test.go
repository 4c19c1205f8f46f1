package cluster_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/model"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
)

func signup(t *testing.T, c *cluster.Cluster, ip string) *platformtest.Client {
	t.Helper()
	cl := &platformtest.Client{BaseURL: c.GatewayURL(), IP: ip}
	if err := cl.Signup(context.Background(), fmt.Sprintf("user-%s-%d@example.com", ip, time.Now().UnixNano())); err != nil {
		t.Fatal(err)
	}
	return cl
}

// A 60 s 1080p video on an idle cluster takes the model's time, measured in wall time by the
// platform's own timestamps: transcode + thumbnail on a half-GPU slot, then the AI step.
func TestIdleVideoTakesTheModelTime(t *testing.T) {
	t.Parallel()
	topo := platformtest.Topology()
	c := platformtest.Start(t, topo)
	cl := signup(t, c, "198.51.100.20")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	v, err := cl.Upload(ctx, "1080p", 60, 1, 1024)
	if err != nil {
		t.Fatal(err)
	}
	v, err = cl.WaitReady(ctx, v.ID, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	m := topo.Model
	check := func(what string, got time.Duration, modelSeconds float64) {
		t.Helper()
		want := m.Wall(modelSeconds)
		if dev := math.Abs(got.Seconds()-want.Seconds()) / want.Seconds(); dev > 0.05 {
			t.Errorf("%s took %v, model %v: %.1f%% off, want within 5%%", what, got, want, dev*100)
		} else {
			t.Logf("%s took %v, model %v (%.2f%% off)", what, got, want, dev*100)
		}
	}
	check("GPU step (half slot, then thumbnail)", v.GPUDoneAt.Sub(*v.ProcessingStartedAt), m.TranscodeSeconds(model.R1080p, 60)+m.ThumbnailSeconds)
	check("upload complete to ready", v.ReadyAt.Sub(v.AcceptedAt), m.IdleSeconds(model.R1080p, 60))

	dt := scrapeRole(t, c, cluster.RoleDataTier, "")
	if n := dt.Sum("dailydoco_video_processing_realtime_ratio", map[string]string{"resolution": "1080p"}); n != 1 {
		t.Errorf("ratio observations = %v, want 1", n)
	}
}

// More concurrent jobs than slots queue: 2 GPU nodes hold 4 half-GPU (1080p) jobs at once.
func TestJobsBeyondSlotsQueue(t *testing.T) {
	t.Parallel()
	c := platformtest.Start(t, nil)
	cl := signup(t, c, "198.51.100.30")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const n = 7
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := cl.Upload(ctx, "1080p", 20, 1, 1024)
			ids[i] = v.ID
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Right after the uploads, 4 run and the rest wait in the queue.
	dt := scrapeRole(t, c, cluster.RoleDataTier, "")
	if q := dt.Sum("dailydoco_queue_waiting", map[string]string{"stage": "gpu"}); q < 1 {
		t.Errorf("%v jobs waiting for a GPU after %d uploads on 4 half-GPU slots, want >= 1", q, n)
	}
	if q := dt.Sum("dailydoco_queue_depth", nil); q != n {
		t.Errorf("queue depth %v, want all %d videos (waiting or in progress)", q, n)
	}
	var vs []platformtest.Video
	for _, id := range ids {
		v, err := cl.WaitReady(ctx, id, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	// At no instant did a node hold more than its 4 quarter-GPU slots: 2 per 1080p transcode,
	// then 1 for the thumbnail.
	type edge struct {
		at    time.Time
		delta int
	}
	edges := map[string][]edge{}
	thumb := c.Topology().Model.Wall(c.Topology().Model.ThumbnailSeconds)
	for _, v := range vs {
		// The transcode's extra slot went back a thumbnail before completion, less the
		// completion call's latency: allow 20 ms for it.
		thumbAt := v.GPUDoneAt.Add(-thumb - 20*time.Millisecond)
		edges[v.GPUNode] = append(edges[v.GPUNode], edge{*v.ProcessingStartedAt, +2}, edge{thumbAt, -1}, edge{*v.GPUDoneAt, -1})
	}
	for node, es := range edges {
		sort.Slice(es, func(i, j int) bool {
			if es[i].at.Equal(es[j].at) {
				return es[i].delta < es[j].delta
			}
			return es[i].at.Before(es[j].at)
		})
		used, peak := 0, 0
		for _, e := range es {
			used += e.delta
			peak = max(peak, used)
		}
		if peak > 4 {
			t.Errorf("%s used %d slots at once, it has 4", node, peak)
		}
	}
	waited := 0
	for _, v := range vs {
		if v.ProcessingStartedAt.Sub(v.AcceptedAt) > 200*time.Millisecond {
			waited++
		}
	}
	if waited < n-4 {
		t.Errorf("%d videos waited in the queue, want at least %d", waited, n-4)
	}
	dt = scrapeRole(t, c, cluster.RoleDataTier, "")
	if got := dt.Sum("dailydoco_video_processing_realtime_ratio", nil); got != n {
		t.Errorf("ratio observations = %v, want %d", got, n)
	}
	if got := dt.Sum("dailydoco_video_queue_wait_seconds", map[string]string{"stage": "gpu"}); got != n {
		t.Errorf("queue wait observations = %v, want %d", got, n)
	}
}

// Killing the node process that holds a job loses no video: its lease expires, the other GPU
// node processes it, and accepted equals processed once the queue drains.
func TestKilledGPUNodeLosesNoVideo(t *testing.T) {
	t.Parallel()
	c := platformtest.Start(t, nil)
	cl := signup(t, c, "198.51.100.40")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	v, err := cl.Upload(ctx, "1080p", 60, 1, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for v.Status != "processing" {
		time.Sleep(10 * time.Millisecond)
		if v, err = cl.Video(ctx, v.ID); err != nil {
			t.Fatal(err)
		}
	}
	victim := v.GPUNode
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	v, err = cl.WaitReady(ctx, v.ID, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if v.GPUNode == victim || v.GPUAttempts != 2 {
		t.Errorf("video finished on %s after %d attempts, want the other GPU node on attempt 2", v.GPUNode, v.GPUAttempts)
	}
	if v.ReadyAt.Sub(killedAt) < c.Topology().Timing.Lease.D()/2 {
		t.Errorf("ready %v after the kill: faster than a lease expiry", v.ReadyAt.Sub(killedAt))
	}
	st, err := c.DataTier().Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Accepted != 1 || st.Ready != 1 || st.InPipeline != 0 || st.QueuedJobs != 0 {
		t.Errorf("after the drain: %+v, want every accepted video ready", st)
	}
	dt := scrapeRole(t, c, cluster.RoleDataTier, "")
	if acc, proc := dt.Sum("dailydoco_videos_accepted_total", nil), dt.Sum("dailydoco_videos_processed_total", nil); acc != 1 || proc != acc {
		t.Errorf("accepted %v, processed %v: want equal", acc, proc)
	}
	// The delay shows in the ratio: above the idle ratio.
	m := c.Topology().Model
	if r := m.RealtimeRatio(v.ReadyAt.Sub(v.AcceptedAt), 60); r <= m.IdleSeconds(model.R1080p, 60)/60 {
		t.Errorf("ratio %.3f of the delayed video is not above the idle ratio", r)
	}
}
