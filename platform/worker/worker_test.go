package worker

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dailydoco/ddp-verify/platform/datatier"
	"github.com/dailydoco/ddp-verify/platform/model"
)

// These tests run workers against the real data tier (its SQLite store and HTTP handler,
// called in process) inside a synctest bubble: every sleep of the model's time and every lease
// and renewal happens on the bubble's fake clock, so the model times are exact and a minute of
// hanging takes no time at all.

// inProcess is an http.RoundTripper that serves requests with a handler, without a network,
// so that the data tier runs inside the bubble with the workers.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	if err := req.Context().Err(); err != nil {
		return nil, err // as a real transport reports a cancelled request
	}
	return rec.Result(), nil
}

const (
	testSpeed = 10
	testLease = time.Second
)

// pipeline is a data tier with workers, inside a bubble.
type pipeline struct {
	t       *testing.T
	db      *datatier.Client
	user    datatier.User
	model   model.Model
	workers map[string]*Worker
}

// startPipeline starts, inside the current synctest bubble, a data tier and one worker per
// config (model speed testSpeed, leases of testLease unless set); they stop at cleanup.
func startPipeline(t *testing.T, cfgs ...Config) *pipeline {
	t.Helper()
	m := model.Default()
	m.Speed = testSpeed
	ctx := context.Background()
	store, err := datatier.Open(ctx, filepath.Join(t.TempDir(), "ddp.db"), 5, m)
	if err != nil {
		t.Fatal(err)
	}
	srv := datatier.NewServer(store, datatier.Config{Lease: testLease, MaxAttempts: 5, Model: m, Token: "token"}, prometheus.NewRegistry())
	p := &pipeline{t: t, db: datatier.NewClient("http://datatier.invalid", "token", &http.Client{Transport: inProcess{srv.Handler()}}),
		model: m, workers: map[string]*Worker{}}
	if p.user, err = p.db.CreateUser(ctx, "w@example.com", "W", "h"); err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, cfg := range cfgs {
		cfg.ID = fmt.Sprintf("%s-%d", cfg.Stage, i)
		cfg.Model = m
		if cfg.Lease == 0 {
			cfg.Lease = testLease
		}
		if cfg.Slots == 0 {
			cfg.Slots = 4
		}
		w := New(p.db, cfg, prometheus.NewRegistry())
		p.workers[cfg.ID] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = w.Run(wctx)
		}()
	}
	t.Cleanup(func() {
		stop()
		srv.Close() // ends the long polls
		wg.Wait()
		store.Close()
	})
	return p
}

// submit accepts a video of res and media seconds.
func (p *pipeline) submit(res model.Resolution, media float64) string {
	p.t.Helper()
	ctx := context.Background()
	c, err := p.db.CreateCapture(ctx, p.user.ID, "t", res, media)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.db.PutChunk(ctx, c.ID, p.user.ID, 0, 1, "x"); err != nil {
		p.t.Fatal(err)
	}
	v, _, err := p.db.FinishCapture(ctx, c.ID, p.user.ID)
	if err != nil {
		p.t.Fatal(err)
	}
	return v.ID
}

func (p *pipeline) video(id string) datatier.Video {
	p.t.Helper()
	v, err := p.db.Video(context.Background(), id, "")
	if err != nil {
		p.t.Fatal(err)
	}
	return v
}

// modelSeconds converts a wall time on the bubble's clock to model seconds.
func (p *pipeline) modelSeconds(d time.Duration) float64 { return d.Seconds() * p.model.Speed }

// waitState advances the bubble's clock until the video is in state, or fails after limit
// (wall time on the fake clock).
func (p *pipeline) waitState(id, state string, limit time.Duration) datatier.Video {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		synctest.Wait()
		v := p.video(id)
		if v.State == state {
			return v
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("video %s (%s) is %s after %v, want %s", id, v.Resolution, v.State, limit, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestGPUSlowdown(t *testing.T) {
	tests := []struct {
		name     string
		slowdown float64
		factor   float64
	}{
		{name: "healthy", slowdown: 0, factor: 1},
		{name: "slowdown 1 is healthy", slowdown: 1, factor: 1},
		{name: "three times slower", slowdown: 3, factor: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := startPipeline(t, Config{Stage: datatier.StageGPU, GPUSlowdown: tc.slowdown})
				for _, r := range model.Resolutions {
					id := p.submit(r, 60)
					v := p.waitState(id, datatier.StateAI, time.Minute)
					// The GPU steps run back to back from the lease: exactly the model's time, times the factor.
					got := p.modelSeconds(v.GPUDoneAt.Sub(*v.ProcessingStartedAt))
					want := tc.factor * (p.model.TranscodeSeconds(r, 60) + p.model.ThumbnailSeconds)
					if d := got - want; d < -1e-6 || d > 1e-6 {
						t.Errorf("%s: GPU steps took %.6f model seconds, want %.6f", r, got, want)
					}
				}
			})
		})
	}
}

// A hung resolution's video is leased once and never finished: its worker holds its slot and
// renews its lease for as long as it runs, so no other worker gets it, while the other
// resolutions flow through that same worker.
func TestHungResolution(t *testing.T) {
	for _, hung := range []model.Resolution{"", model.R720p} {
		t.Run("hung="+string(hung), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := startPipeline(t,
					Config{Stage: datatier.StageGPU, HungResolution: hung},
					Config{Stage: datatier.StageGPU, HungResolution: hung})
				clip := p.submit(model.R720p, 30)
				synctest.Wait()
				hd := p.submit(model.R1080p, 30)
				p.waitState(hd, datatier.StateAI, time.Minute)
				if hung == "" {
					p.waitState(clip, datatier.StateAI, time.Minute)
					return
				}
				time.Sleep(60 * testLease) // sixty leases long: renewed all along
				synctest.Wait()
				v := p.video(clip)
				if v.State != datatier.StateProcessing || v.GPUAttempts != 1 {
					t.Errorf("hung video is %s after %d attempts, want processing after 1 (leased once, never again)", v.State, v.GPUAttempts)
				}
				busy := 0
				for _, w := range p.workers {
					busy += w.Busy()
				}
				if busy != p.model.GPU[model.R720p].Slots {
					t.Errorf("%d GPU slots busy, want the hung 720p video's %d", busy, p.model.GPU[model.R720p].Slots)
				}
				st, err := p.db.Stats(context.Background())
				if err != nil || st.LeasedJobs != 1 || st.Waiting[datatier.StageGPU] != 0 {
					t.Errorf("stats %+v (%v), want one leased job and none waiting (the lease never expires)", st, err)
				}
			})
		})
	}
}

// An unclaimed resolution's videos stay queued, holding nothing, and do not hold up the
// others: even a 4K video past its reservation lets smaller ones by.
func TestUnclaimedResolution(t *testing.T) {
	for _, skip := range []model.Resolution{"", model.R4K} {
		t.Run("unclaimed="+string(skip), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := startPipeline(t, Config{Stage: datatier.StageGPU, SkipResolution: skip, Slots: 2})
				big := p.submit(model.R4K, 30)
				time.Sleep(p.model.Wall(2 * p.model.ReserveSeconds)) // past the 4K video's reservation
				clip := p.submit(model.R720p, 30)
				if skip == "" {
					// A worker with 2 slots never fits the 4K video, which reserves the queue:
					// the clip waits behind it.
					time.Sleep(time.Minute)
					synctest.Wait()
					if v := p.video(clip); v.State != datatier.StateQueued {
						t.Errorf("clip behind a reserved 4K video is %s, want queued", v.State)
					}
					return
				}
				p.waitState(clip, datatier.StateAI, time.Minute)
				time.Sleep(time.Minute)
				synctest.Wait()
				if v := p.video(big); v.State != datatier.StateQueued || v.GPUAttempts != 0 {
					t.Errorf("unclaimed video is %s after %d attempts, want queued, never leased", v.State, v.GPUAttempts)
				}
				for _, w := range p.workers {
					if w.Busy() != 0 {
						t.Errorf("%d slots busy, want none", w.Busy())
					}
				}
			})
		})
	}
}

// With a failure share, the AI step of the chosen videos fails: the video ends failed with
// the defect named, and the worker counts the job as failed.
func TestAIFailureShare(t *testing.T) {
	tests := []struct {
		name  string
		share float64
		state string
	}{
		{name: "healthy", share: 0, state: datatier.StateReady},
		{name: "every video fails", share: 1, state: datatier.StateFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := startPipeline(t, Config{Stage: datatier.StageGPU}, Config{Stage: datatier.StageAI, AIFailureShare: tc.share})
				for _, r := range model.Resolutions {
					v := p.waitState(p.submit(r, 30), tc.state, time.Minute)
					if tc.share > 0 && (v.FailedAt == nil || v.Error != "ai step failed: the authenticity model failed on this video (defect ai_failure_share)") {
						t.Errorf("failed video: failed at %v, error %q", v.FailedAt, v.Error)
					}
				}
				result := "completed"
				if tc.share > 0 {
					result = "failed"
				}
				if n := testutil.ToFloat64(p.workers["ai-1"].jobs.WithLabelValues(datatier.StageAI, result)); n != 3 {
					t.Errorf("AI jobs %s: %v, want 3", result, n)
				}
			})
		})
	}
}

// AIFails picks videos by their ID: the same answer on every call, none at share 0, all at
// share 1, and the share on average in between.
func TestAIFails(t *testing.T) {
	const n = 20000
	for _, share := range []float64{0, 0.1, 0.5, 0.9, 1} {
		failed := 0
		for range n {
			id := datatier.NewID("vid")
			f := AIFails(id, share)
			if f != AIFails(id, share) {
				t.Fatalf("AIFails(%s, %v) changed its answer", id, share)
			}
			if f {
				failed++
			}
			// A smaller share fails a subset of the videos a larger one fails.
			if AIFails(id, share/2) && !f {
				t.Fatalf("video %s fails at share %v but not at %v", id, share/2, share)
			}
		}
		got := float64(failed) / n
		if share == 0 || share == 1 {
			if got != share {
				t.Errorf("share %v: %v of the videos failed", share, got)
			}
			continue
		}
		if d := got - share; d < -0.02 || d > 0.02 {
			t.Errorf("share %v: %v of %d videos failed", share, got, n)
		}
	}
	if !AIFails("vid_fixed", 1) || AIFails("vid_fixed", 0) {
		t.Error("share 1 must fail and share 0 must pass every video")
	}
}

func TestGPUSeconds(t *testing.T) {
	m := model.Default()
	for _, tc := range []struct {
		slowdown, factor float64
	}{{0, 1}, {1, 1}, {2.5, 2.5}} {
		tr, th := Config{Model: m, GPUSlowdown: tc.slowdown}.GPUSeconds(model.R1080p, 60)
		if tr != tc.factor*18 || th != tc.factor*1 {
			t.Errorf("slowdown %v: transcode %v, thumbnail %v; want %v and %v", tc.slowdown, tr, th, tc.factor*18, tc.factor)
		}
	}
}
