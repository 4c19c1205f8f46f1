// Package worker runs the reference platform's pipeline workers: the GPU video worker
// (transcode and thumbnails on quarter-GPU slots) and the AI worker (transcript summary and
// authenticity score on the memory pool). Both lease jobs from the data tier, renew their
// leases while they work, and spend exactly the processing-time model's durations. The defect
// fields of [Config] break them on purpose, for the gate-mutation suite only (topology.Defects).
package worker

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/platform/datatier"
	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/metrics"
	"github.com/dailydoco/ddp-verify/platform/model"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// Config configures one worker.
type Config struct {
	Stage  string // datatier.StageGPU or datatier.StageAI
	ID     string // unique per process: leases are owned by it
	Node   string
	Slots  int // GPU: quarter-GPU slots of the node; AI: concurrent AI jobs
	Lease  time.Duration
	Model  model.Model
	Logger *slog.Logger

	// Defects of the gate-mutation suite (topology.Defects); their zero values are a healthy
	// worker. They break the worker on purpose and must never be set in a real verification.

	// GPUSlowdown multiplies the model time of the GPU steps (transcode and thumbnail); 0 and
	// 1 are the model's.
	GPUSlowdown float64
	// HungResolution: a GPU worker leases jobs of this resolution and never completes them. It
	// holds their slots and renews their leases until it stops, as a hung but live process
	// would, so the job is never leased again.
	HungResolution model.Resolution
	// SkipResolution: a GPU worker never leases jobs of this resolution (nor reserves slots
	// for them); they stay queued.
	SkipResolution model.Resolution
	// AIFailureShare is the share of videos, in [0, 1], whose AI step fails after running its
	// model time; which videos is decided by a hash of the video ID ([AIFails]).
	AIFailureShare float64
}

// GPUSeconds is the model time of a GPU job's transcode and of its thumbnail, GPUSlowdown
// times the model's.
func (c Config) GPUSeconds(r model.Resolution, mediaSeconds float64) (transcode, thumbnail float64) {
	f := max(c.GPUSlowdown, 1)
	return f * c.Model.TranscodeSeconds(r, mediaSeconds), f * c.Model.ThumbnailSeconds
}

// AIFails reports whether the AI step of video fails under a failure share: when a hash of
// the video's ID, read as a number in [0, 1), is below share. The answer for a video never
// changes (a retried step fails again), share 0 fails none and share 1 every one, and over
// many videos the share that fails is share.
func AIFails(videoID string, share float64) bool {
	return topology.Affected("ai-failure", videoID, share)
}

// skip lists the resolutions the worker does not lease.
func (c Config) skip() []model.Resolution {
	if c.Stage != datatier.StageGPU || c.SkipResolution == "" {
		return nil
	}
	return []model.Resolution{c.SkipResolution}
}

// Worker leases and processes jobs of one stage. Create it with [New].
type Worker struct {
	cfg Config
	db  *datatier.Client
	log *slog.Logger

	mu         sync.Mutex
	free       int
	freed      chan struct{}      // closed and replaced when slots are released
	pollCancel context.CancelFunc // cancels the lease poll in flight, so it asks again with more slots

	jobs  *prometheus.CounterVec
	steps *prometheus.HistogramVec
}

// New returns a worker; its metrics are registered with reg.
func New(db *datatier.Client, cfg Config, reg prometheus.Registerer) *Worker {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Worker{
		cfg: cfg, db: db, log: cfg.Logger.With("worker", cfg.ID, "stage", cfg.Stage),
		free: cfg.Slots, freed: make(chan struct{}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dailydoco_worker_jobs_total", Help: "Jobs a worker finished, by stage and result (completed, failed, lease_lost, aborted).",
		}, []string{"stage", "result"}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dailydoco_video_step_seconds", Help: "Model seconds a worker spent on a job, by stage and resolution.",
			Buckets: metrics.DurationBuckets,
		}, []string{"stage", "resolution"}),
	}
	slotsName, slotsHelp := "dailydoco_gpu_slots", "Quarter-GPU slots of the node, by state (busy, free)."
	if cfg.Stage == datatier.StageAI {
		slotsName, slotsHelp = "dailydoco_ai_slots", "AI step slots of the node, by state (busy, free)."
	}
	for _, state := range []string{"busy", "free"} {
		busy := state == "busy"
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: slotsName, Help: slotsHelp, ConstLabels: prometheus.Labels{"state": state},
		}, func() float64 {
			w.mu.Lock()
			defer w.mu.Unlock()
			if busy {
				return float64(w.cfg.Slots - w.free)
			}
			return float64(w.free)
		}))
	}
	reg.MustRegister(w.jobs, w.steps)
	return w
}

// Busy returns the slots in use.
func (w *Worker) Busy() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cfg.Slots - w.free
}

// pollTurn waits for a free slot and registers cancel as the poll to interrupt when more slots
// free up; it returns how many slots are free.
func (w *Worker) pollTurn(ctx context.Context, cancel context.CancelFunc) (int, error) {
	for {
		w.mu.Lock()
		if w.free > 0 {
			w.pollCancel = cancel
			n := w.free
			w.mu.Unlock()
			return n, nil
		}
		freed := w.freed
		w.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (w *Worker) take(n int) {
	w.mu.Lock()
	w.free -= n
	w.pollCancel = nil
	w.mu.Unlock()
}

func (w *Worker) release(n int) {
	if n <= 0 {
		return
	}
	w.mu.Lock()
	w.free += n
	close(w.freed)
	w.freed = make(chan struct{})
	if w.pollCancel != nil {
		w.pollCancel()
		w.pollCancel = nil
	}
	w.mu.Unlock()
}

// Run leases and processes jobs until ctx is done. Jobs in progress then are abandoned: their
// leases expire and other workers take them, as when a node dies.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	backoff := 50 * time.Millisecond
	abandon := ""
	for {
		pollCtx, cancel := context.WithCancel(ctx)
		free, err := w.pollTurn(ctx, cancel)
		if err != nil {
			cancel()
			return nil
		}
		reqID := datatier.NewID("lease")
		job, err := w.db.Lease(pollCtx, datatier.LeaseRequest{Stage: w.cfg.Stage, Worker: w.cfg.ID, Node: w.cfg.Node,
			MaxSlots: free, Wait: 10 * time.Second, RequestID: reqID, Abandon: abandon, Skip: w.cfg.skip()})
		interrupted := pollCtx.Err() != nil
		cancel()
		abandon = ""
		if err != nil {
			// The data tier may have leased a job to this request and lost the answer.
			abandon = reqID
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && interrupted:
			continue // slots freed up: ask again with more
		case err != nil:
			w.log.Warn("lease failed", "err", err)
			if !sleep(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		case job == nil:
			continue
		}
		backoff = 50 * time.Millisecond
		w.take(job.Slots)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.process(ctx, *job)
		}()
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// process runs one job, renewing its lease until it is reported.
func (w *Worker) process(ctx context.Context, job datatier.Job) {
	held := job.Slots
	defer func() { w.release(held) }()
	jctx, lost := context.WithCancelCause(ctx)
	var renewals sync.WaitGroup
	renewals.Add(1)
	go func() {
		defer renewals.Done()
		w.renew(jctx, job, lost)
	}()
	defer func() {
		lost(nil) // stops the renewals
		renewals.Wait()
	}()

	start := time.Now()
	var res datatier.CompleteRequest
	ok := true
	switch {
	case job.Stage == datatier.StageGPU && w.cfg.HungResolution != "" && job.Resolution == w.cfg.HungResolution:
		// The hung_resolution defect: hold the slots, keep renewing, never finish.
		w.log.Warn("job hangs (defect hung_resolution)", "job", job.ID, "video", job.VideoID, "resolution", job.Resolution)
		<-jctx.Done()
		ok = false
	case job.Stage == datatier.StageGPU:
		transcode, thumbnail := w.cfg.GPUSeconds(job.Resolution, job.MediaSeconds)
		ok = sleep(jctx, w.cfg.Model.Wall(transcode))
		if ok {
			// The thumbnail needs a quarter GPU: keep one slot, give the others back.
			w.release(held - 1)
			held = 1
			ok = sleep(jctx, w.cfg.Model.Wall(thumbnail))
			res.Thumbnail = fmt.Sprintf("/thumbnails/%s.jpg", job.VideoID)
		}
	case job.Stage == datatier.StageAI:
		ok = sleep(jctx, w.cfg.Model.Wall(w.cfg.Model.AISeconds(job.MediaSeconds)))
		res.Summary, res.AuthenticityScore = aiResults(job)
		if AIFails(job.VideoID, w.cfg.AIFailureShare) {
			res = datatier.CompleteRequest{Error: "the authenticity model failed on this video (defect ai_failure_share)"}
		}
	}
	if !ok {
		result := "aborted"
		if errors.Is(context.Cause(jctx), errLeaseLost) {
			result = "lease_lost"
		}
		w.jobs.WithLabelValues(job.Stage, result).Inc()
		return
	}
	w.steps.WithLabelValues(job.Stage, string(job.Resolution)).Observe(time.Since(start).Seconds() * w.cfg.Model.Speed)
	res.Worker, res.Node = w.cfg.ID, w.cfg.Node
	result := w.complete(jctx, job, res)
	if result == "completed" && res.Error != "" {
		result = "failed"
	}
	w.jobs.WithLabelValues(job.Stage, result).Inc()
}

var errLeaseLost = errors.New("lease lost")

// renew extends the lease every third of its duration until ctx ends; losing the lease to
// another worker cancels the job.
func (w *Worker) renew(ctx context.Context, job datatier.Job, lost context.CancelCauseFunc) {
	t := time.NewTicker(w.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := w.db.Renew(ctx, job.ID, w.cfg.ID); jsonhttp.Code(err) == "lease_lost" || jsonhttp.Code(err) == "job_not_found" {
			w.log.Warn("lease lost", "job", job.ID, "video", job.VideoID)
			lost(errLeaseLost)
			return
		} else if err != nil && ctx.Err() == nil {
			w.log.Warn("lease renewal failed", "job", job.ID, "err", err)
		}
	}
}

// complete reports the job, retrying transport failures until the lease would have expired.
func (w *Worker) complete(ctx context.Context, job datatier.Job, res datatier.CompleteRequest) string {
	deadline := time.Now().Add(w.cfg.Lease)
	for {
		err := w.db.Complete(ctx, job.ID, res)
		var je *jsonhttp.Error
		switch {
		case err == nil:
			return "completed"
		case errors.As(err, &je) && je.Status == http.StatusConflict:
			return "lease_lost"
		case ctx.Err() != nil || time.Now().After(deadline):
			w.log.Warn("completion failed", "job", job.ID, "err", err)
			return "aborted"
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return "aborted"
		}
	}
}

// aiResults derives a deterministic transcript summary and authenticity score from the video.
func aiResults(job datatier.Job) (string, float64) {
	h := sha256.Sum256([]byte(job.VideoID))
	score := 0.80 + float64(binary.BigEndian.Uint16(h[:2]))/65535*0.19
	segments := int(job.MediaSeconds/15) + 1
	return fmt.Sprintf("%d transcript segments over %.0f s of %s screen capture; code edits and terminal sessions detected.",
		segments, job.MediaSeconds, job.Resolution), score
}
