package datatier

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/model"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "ddp.db"), 3, model.Default())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// acceptVideo registers a user and finishes a one-chunk capture.
func acceptVideo(t *testing.T, s *Store, now time.Time) Video {
	t.Helper()
	ctx := context.Background()
	u, err := s.CreateUser(ctx, NewID("e")+"@example.com", "Ada", "h", now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateCapture(ctx, u.ID, "demo", model.R1080p, 60, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutChunk(ctx, c.ID, u.ID, 0, 100, "x"); err != nil {
		t.Fatal(err)
	}
	v, created, err := s.FinishCapture(ctx, c.ID, u.ID, func(model.Resolution) int { return 2 }, now)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	again, created, err := s.FinishCapture(ctx, c.ID, u.ID, func(model.Resolution) int { return 2 }, now)
	if err != nil || created || again.ID != v.ID {
		t.Fatalf("finishing twice: %v %v %v, want the same video", again.ID, created, err)
	}
	return v
}

func TestLeaseExpiryRelease(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	t0 := time.Unix(1000, 0)
	v := acceptVideo(t, s, t0)
	req := LeaseRequest{Stage: StageGPU, Worker: "w1", Node: "gpu-1a-1", MaxSlots: 4}

	if j, _, _, _ := s.Lease(ctx, LeaseRequest{Stage: StageGPU, Worker: "w1", MaxSlots: 1}, time.Second, t0); j != nil {
		t.Fatal("a 1080p job (2 slots) was leased to a worker with 1 free slot")
	}
	j, _, _, err := s.Lease(ctx, req, time.Second, t0)
	if err != nil || j == nil || j.VideoID != v.ID {
		t.Fatalf("lease: %v %v", j, err)
	}
	// Held: nobody else gets it, and the caller learns when the lease ends.
	j2, next, _, _ := s.Lease(ctx, LeaseRequest{Stage: StageGPU, Worker: "w2", MaxSlots: 4}, time.Second, t0.Add(500*time.Millisecond))
	if j2 != nil || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("leased twice (%v) or next expiry %v", j2, next)
	}
	// w1 disappears: after expiry w2 gets the same job, and w1's late completion is refused.
	j2, _, _, _ = s.Lease(ctx, LeaseRequest{Stage: StageGPU, Worker: "w2", Node: "gpu-1b-1", MaxSlots: 4}, time.Second, t0.Add(1500*time.Millisecond))
	if j2 == nil || j2.ID != j.ID || j2.Attempts != 2 {
		t.Fatalf("re-lease after expiry: %+v", j2)
	}
	if _, err := s.Complete(ctx, j.ID, CompleteRequest{Worker: "w1"}, 1, t0.Add(2*time.Second)); jsonhttp.Code(err) != "lease_lost" {
		t.Fatalf("stale completion: %v, want lease_lost", err)
	}
	if _, err := s.Renew(ctx, j.ID, "w1", time.Second, t0.Add(2*time.Second)); jsonhttp.Code(err) != "lease_lost" {
		t.Fatalf("stale renewal: %v", err)
	}
	if fin, err := s.Complete(ctx, j.ID, CompleteRequest{Worker: "w2", Node: "gpu-1b-1"}, 1, t0.Add(2*time.Second)); err != nil || fin != nil {
		t.Fatalf("gpu completion: %v %v", fin, err)
	}
	ai, _, _, _ := s.Lease(ctx, LeaseRequest{Stage: StageAI, Worker: "m1", Node: "memory-1b-1", MaxSlots: 1}, time.Second, t0.Add(2*time.Second))
	if ai == nil {
		t.Fatal("no AI job after the GPU step")
	}
	fin, err := s.Complete(ctx, ai.ID, CompleteRequest{Worker: "m1", Node: "memory-1b-1", Summary: "s", AuthenticityScore: 0.9}, 1, t0.Add(3*time.Second))
	if err != nil || fin == nil || fin.Video.State != StateReady || fin.Video.GPUNode != "gpu-1b-1" || fin.Video.GPUAttempts != 2 {
		t.Fatalf("ai completion: %+v %v", fin, err)
	}
	st, _ := s.Stats(ctx)
	if st.Accepted != 1 || st.Ready != 1 || st.InPipeline != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestJobFailsAfterMaxAttempts(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	t0 := time.Unix(1000, 0)
	v := acceptVideo(t, s, t0)
	now := t0
	for i := 0; i < 3; i++ {
		if j, _, _, _ := s.Lease(ctx, LeaseRequest{Stage: StageGPU, Worker: "w", MaxSlots: 4}, time.Second, now); j == nil {
			t.Fatalf("attempt %d: no job", i+1)
		}
		now = now.Add(2 * time.Second)
	}
	j, _, failed, err := s.Lease(ctx, LeaseRequest{Stage: StageGPU, Worker: "w", MaxSlots: 4}, time.Second, now)
	if err != nil || j != nil || len(failed) != 1 || failed[0].Video.ID != v.ID || failed[0].Video.State != StateFailed {
		t.Fatalf("after 3 attempts: job %v failed %+v err %v", j, failed, err)
	}
}

func TestServerMetricsAndLongPoll(t *testing.T) {
	s := newStore(t)
	reg := prometheus.NewRegistry()
	m := model.Default()
	m.Speed = 10
	srv := NewServer(s, Config{Lease: time.Second, MaxAttempts: 3, Model: m, Token: "token"}, reg)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	defer srv.Close()
	c := NewClient(ts.URL, "token", nil)
	ctx := context.Background()

	// A long poll returns as soon as a video is accepted.
	got := make(chan *Job, 1)
	go func() {
		j, err := c.Lease(ctx, LeaseRequest{Stage: StageGPU, Worker: "w", Node: "n", MaxSlots: 4, Wait: 10 * time.Second})
		if err != nil {
			t.Error(err)
		}
		got <- j
	}()
	u, err := c.CreateUser(ctx, "a@example.com", "A", "h")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateUser(ctx, "a@example.com", "A", "h"); jsonhttp.Code(err) != "email_taken" {
		t.Errorf("duplicate email: %v", err)
	}
	cp, _ := c.CreateCapture(ctx, u.ID, "t", model.R1080p, 60)
	if _, _, err := c.FinishCapture(ctx, cp.ID, u.ID); jsonhttp.Code(err) != "no_chunks" {
		t.Errorf("finish without chunks: %v", err)
	}
	if _, err := c.PutChunk(ctx, cp.ID, "someone-else", 0, 1, "x"); err == nil || err.(*jsonhttp.Error).Status != http.StatusForbidden {
		t.Errorf("chunk into another user's capture: %v", err)
	}
	c.PutChunk(ctx, cp.ID, u.ID, 0, 1, "x")
	if _, _, err := c.FinishCapture(ctx, cp.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	// The poll waits up to 10 s for a job and answers nil when none came; an answer with the
	// job is the wake-up. How soon it comes is wall time, so the deadline is only a guard.
	var j *Job
	select {
	case j = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("long poll did not return after the video was accepted")
	}
	if j == nil {
		t.Fatal("long poll returned no job: it timed out instead of waking on the accepted video")
	}
	if err := c.Complete(ctx, j.ID, CompleteRequest{Worker: "w", Node: "n"}); err != nil {
		t.Fatal(err)
	}
	ai, _ := c.Lease(ctx, LeaseRequest{Stage: StageAI, Worker: "m", Node: "n", MaxSlots: 1})
	if ai == nil {
		t.Fatal("no AI job")
	}
	if err := c.Complete(ctx, ai.ID, CompleteRequest{Worker: "m", Node: "n"}); err != nil {
		t.Fatal(err)
	}
	// The counts come from the database: a new server on the same store (a restarted data
	// tier) reports the same.
	restarted := prometheus.NewRegistry()
	NewServer(s, Config{Lease: time.Second, MaxAttempts: 3, Model: m, Token: "token"}, restarted)
	for _, r := range []*prometheus.Registry{reg, restarted} {
		if err := testutil.GatherAndCompare(r, strings.NewReader(`
# HELP dailydoco_videos_accepted_total Videos accepted for processing (captures finished), counted in the database.
# TYPE dailydoco_videos_accepted_total counter
dailydoco_videos_accepted_total 1
`), "dailydoco_videos_accepted_total"); err != nil {
			t.Error(err)
		}
		mfs, err := r.Gather()
		if err != nil {
			t.Fatal(err)
		}
		processed := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "dailydoco_videos_processed_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				key := ""
				for _, l := range m.GetLabel() {
					key += l.GetValue() + " "
				}
				processed[key] = m.GetCounter().GetValue()
			}
		}
		if len(processed) != 2*len(model.Resolutions) || processed["1080p success "] != 1 || processed["1080p failed "] != 0 || processed["4k success "] != 0 {
			t.Errorf("processed = %v, want every resolution and result, 1 for 1080p success", processed)
		}
	}
	// Every accepted video has finished: the oldest unfinished one is 0 s old.
	if n, err := testutil.GatherAndCount(reg, "dailydoco_queue_oldest_age_seconds"); err != nil || n != 1 {
		t.Errorf("oldest age series: %d, %v", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP dailydoco_queue_oldest_age_seconds Seconds since the oldest accepted video that is neither processed nor failed was accepted; 0 when every accepted video has finished.
# TYPE dailydoco_queue_oldest_age_seconds gauge
dailydoco_queue_oldest_age_seconds 0
`), "dailydoco_queue_oldest_age_seconds"); err != nil {
		t.Error(err)
	}
	// One series per resolution exists from the start (so increase() counts the first video).
	if n := testutil.CollectAndCount(srv.ratio); n != len(model.Resolutions) {
		t.Errorf("ratio series = %d, want %d", n, len(model.Resolutions))
	}
	var hist dto.Metric
	if err := srv.ratio.WithLabelValues("1080p").(prometheus.Histogram).Write(&hist); err != nil {
		t.Fatal(err)
	}
	if n := hist.GetHistogram().GetSampleCount(); n != 1 {
		t.Errorf("1080p ratio samples = %d, want 1", n)
	}
}

// finishVideo accepts a one-chunk capture of res and media seconds at now.
func finishVideo(t *testing.T, s *Store, u User, res model.Resolution, media float64, now time.Time) Video {
	t.Helper()
	ctx := context.Background()
	c, err := s.CreateCapture(ctx, u.ID, "t", res, media, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutChunk(ctx, c.ID, u.ID, 0, 1, "x"); err != nil {
		t.Fatal(err)
	}
	v, _, err := s.FinishCapture(ctx, c.ID, u.ID, func(r model.Resolution) int { return model.Default().GPU[r].Slots }, now)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The queue serves the video due first (accepted + 2 x media seconds), and once a video that
// needs a whole GPU has waited ReserveSeconds, workers with partial room take nothing past it.
func TestLeaseOrder(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	t0 := time.Unix(1000, 0)
	u, _ := s.CreateUser(ctx, "o@example.com", "O", "h", t0)
	long := finishVideo(t, s, u, model.R1080p, 600, t0)                  // due t0 + 1200 s
	short := finishVideo(t, s, u, model.R1080p, 30, t0.Add(time.Second)) // due t0 + 61 s
	big := finishVideo(t, s, u, model.R4K, 30, t0.Add(2*time.Second))    // due t0 + 62 s
	clip := finishVideo(t, s, u, model.R720p, 30, t0.Add(3*time.Second)) // due t0 + 63 s
	lease := func(maxSlots int, at time.Duration) string {
		j, _, _, err := s.Lease(ctx, LeaseRequest{Stage: StageGPU, Worker: "w", MaxSlots: maxSlots}, time.Minute, t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		if j == nil {
			return ""
		}
		return j.VideoID
	}
	if got := lease(4, 4*time.Second); got != short.ID {
		t.Errorf("first lease: %s, want the short video due first (not %s, accepted earlier)", got, long.ID)
	}
	// The 4K video is due next but needs 4 slots: before its reservation a worker with 1 slot
	// takes the 720p clip behind it...
	if got := lease(1, 5*time.Second); got != clip.ID {
		t.Errorf("with 1 free slot: %s, want the 720p clip %s", got, clip.ID)
	}
	// ...after it (10 s), nothing smaller passes it; a worker with a whole GPU takes it.
	if got := lease(2, 13*time.Second); got != "" {
		t.Errorf("with 2 free slots past the reservation: %s, want nothing", got)
	}
	if got := lease(4, 13*time.Second); got != big.ID {
		t.Errorf("with a whole GPU: %s, want the 4K video %s", got, big.ID)
	}
	if got := lease(2, 14*time.Second); got != long.ID {
		t.Errorf("last: %s, want %s", got, long.ID)
	}
}

// The oldest unfinished video is the earliest accepted one that is neither ready nor failed.
func TestOldestUnfinished(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, ok, err := s.OldestUnfinished(ctx); ok || err != nil {
		t.Fatalf("empty store: ok %v, err %v", ok, err)
	}
	u, err := s.CreateUser(ctx, "o@example.com", "O", "h", now)
	if err != nil {
		t.Fatal(err)
	}
	finishVideo(t, s, u, model.R1080p, 60, now)
	finishVideo(t, s, u, model.R720p, 60, now.Add(time.Minute))
	at, ok, err := s.OldestUnfinished(ctx)
	if err != nil || !ok || !at.Equal(now) {
		t.Errorf("oldest %v ok %v err %v, want %v", at, ok, err, now)
	}
}

// A worker that skips a resolution never gets its jobs, and they do not hold up the others:
// even past its reservation, a skipped 4K video reserves nothing. A worker that does not
// skip it still gets it.
func TestLeaseSkipsResolutions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	t0 := time.Unix(1000, 0)
	u, _ := s.CreateUser(ctx, "k@example.com", "K", "h", t0)
	big := finishVideo(t, s, u, model.R4K, 30, t0)                      // due first
	clip := finishVideo(t, s, u, model.R720p, 30, t0.Add(time.Second))  // then
	hd := finishVideo(t, s, u, model.R1080p, 30, t0.Add(2*time.Second)) // last
	lease := func(skip []model.Resolution, maxSlots int, at time.Duration) string {
		t.Helper()
		j, _, _, err := s.Lease(ctx, LeaseRequest{Stage: StageGPU, Worker: "w", MaxSlots: maxSlots, Skip: skip}, time.Minute, t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		if j == nil {
			return ""
		}
		return j.VideoID
	}
	skip4K := []model.Resolution{model.R4K}
	if got := lease(skip4K, 2, 20*time.Second); got != clip.ID {
		t.Errorf("skipping 4k with 2 free slots past the 4K video's reservation: %q, want the 720p clip %s", got, clip.ID)
	}
	if got := lease(skip4K, 4, 20*time.Second); got != hd.ID {
		t.Errorf("skipping 4k with a whole GPU: %q, want the 1080p video %s", got, hd.ID)
	}
	if got := lease(skip4K, 4, 20*time.Second); got != "" {
		t.Errorf("skipping 4k with only the 4K video left: %q, want nothing", got)
	}
	if got := lease([]model.Resolution{model.R720p, model.R1080p}, 4, 20*time.Second); got != big.ID {
		t.Errorf("a worker that takes 4k: %q, want %s", got, big.ID)
	}
	if depth, waiting, err := s.QueueDepth(ctx, t0.Add(20*time.Second)); err != nil || depth[StageGPU] != 3 || waiting[StageGPU] != 0 {
		t.Errorf("queue depth %v waiting %v (%v), want 3 in progress and none waiting", depth, waiting, err)
	}
}

// A step reported with an error fails its video: it leaves the pipeline as failed, with the
// error, and nothing is enqueued after it.
func TestCompleteWithErrorFailsTheVideo(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	t0 := time.Unix(1000, 0)
	v := acceptVideo(t, s, t0)
	gpu, _, _, _ := s.Lease(ctx, LeaseRequest{Stage: StageGPU, Worker: "w", MaxSlots: 4}, time.Minute, t0)
	if _, err := s.Complete(ctx, gpu.ID, CompleteRequest{Worker: "w"}, 1, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	ai, _, _, _ := s.Lease(ctx, LeaseRequest{Stage: StageAI, Worker: "m", MaxSlots: 1}, time.Minute, t0.Add(time.Second))
	if ai == nil {
		t.Fatal("no AI job")
	}
	if _, err := s.Complete(ctx, ai.ID, CompleteRequest{Worker: "other", Error: "x"}, 1, t0.Add(2*time.Second)); jsonhttp.Code(err) != "lease_lost" {
		t.Errorf("failure reported by a worker without the lease: %v, want lease_lost", err)
	}
	fin, err := s.Complete(ctx, ai.ID, CompleteRequest{Worker: "m", Error: "model crashed"}, 1, t0.Add(2*time.Second))
	if err != nil || fin == nil || fin.Result != "failed" || fin.Video.ID != v.ID || fin.Video.State != StateFailed ||
		fin.Video.Error != "ai step failed: model crashed" || fin.Video.FailedAt == nil {
		t.Fatalf("failed AI step: %+v %v", fin, err)
	}
	st, _ := s.Stats(ctx)
	if st.Failed != 1 || st.Ready != 0 || st.InPipeline != 0 || st.QueuedJobs != 0 || st.LeasedJobs != 0 {
		t.Errorf("stats %+v, want one failed video and no job left", st)
	}
}

// The lost_handoff_share defect loses a video between the GPU and the AI step: accepted,
// neither processed nor failed, and in no queue, which only the accounting can notice.
func TestLostHandoffLosesTheVideo(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.LoseHandoffs(1)
	t0 := time.Unix(1000, 0)
	acceptVideo(t, s, t0)
	j, _, _, err := s.Lease(ctx, LeaseRequest{Stage: StageGPU, Worker: "w", Node: "n", MaxSlots: 4}, time.Second, t0)
	if err != nil || j == nil {
		t.Fatalf("lease: %v %v", j, err)
	}
	if _, err := s.Complete(ctx, j.ID, CompleteRequest{Worker: "w", Node: "n"}, 1, t0); err != nil {
		t.Fatal(err)
	}
	if ai, _, _, _ := s.Lease(ctx, LeaseRequest{Stage: StageAI, Worker: "m", Node: "n", MaxSlots: 1}, time.Second, t0); ai != nil {
		t.Fatalf("an AI job after a lost handoff: %+v", ai)
	}
	depth, _, err := s.QueueDepth(ctx, t0)
	if err != nil || depth[StageGPU]+depth[StageAI] != 0 {
		t.Errorf("queue depth %v, %v: want nothing queued", depth, err)
	}
	counts, err := s.VideoCounts(ctx)
	if err != nil || len(counts) != 1 || counts[VideoCount{State: StateAI, Resolution: model.R1080p}] != 1 {
		t.Errorf("video counts %v, %v: want the one video left in the AI state", counts, err)
	}
}

// Every scrape's series agree while videos move through the pipeline: the videos accepted less
// those processed or failed are exactly the backlog (read in one transaction; read one query
// after another, a video finishing in between looked lost, and videos_lost failed a healthy
// run whose drain timed out with workers still busy).
func TestScrapesAgreeWhileVideosFinish(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	reg := prometheus.NewRegistry()
	NewServer(s, Config{Lease: time.Minute, MaxAttempts: 3, Model: model.Default(), Token: "token"}, reg)
	t0 := time.Unix(1000, 0)
	const videos = 100
	for range videos {
		acceptVideo(t, s, t0)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, stage := range []string{StageGPU, StageAI, StageGPU, StageAI} {
			for {
				j, _, _, err := s.Lease(ctx, LeaseRequest{Stage: stage, Worker: "w", Node: "n", MaxSlots: 4}, time.Minute, t0)
				if err != nil || j == nil {
					break
				}
				if _, err := s.Complete(ctx, j.ID, CompleteRequest{Worker: "w", Node: "n"}, 1, t0); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	scrapes := 0
	for finished := false; !finished; scrapes++ {
		select {
		case <-done:
			finished = true
		default:
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		sums := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				sums[mf.GetName()] += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
		accepted, processed, depth := sums["dailydoco_videos_accepted_total"], sums["dailydoco_videos_processed_total"], sums["dailydoco_queue_depth"]
		if accepted != videos || accepted-processed != depth {
			t.Fatalf("scrape %d: %v accepted - %v processed != %v in the backlog", scrapes, accepted, processed, depth)
		}
	}
	if st, _ := s.Stats(ctx); st.Ready != videos {
		t.Fatalf("%d of %d videos ready at the end", st.Ready, videos)
	}
	t.Logf("%d scrapes agreed while %d videos went through both steps", scrapes, videos)
}
