package datatier

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/metrics"
	"github.com/dailydoco/ddp-verify/platform/model"
)

// Config is what the data tier needs beyond its database.
type Config struct {
	// Lease is how long a worker holds a job without renewing it.
	Lease time.Duration
	// MaxAttempts fails a video whose step was leased this many times without completing.
	MaxAttempts int
	// Model converts elapsed time to realtime ratios (its Speed).
	Model model.Model
	// Token is the platform's data tier secret: every request to the API ([Server.Handler])
	// must carry it as "Authorization: Bearer <token>", or is answered 401 unauthorized. The
	// supervisor makes a new one per platform start and gives it to its own processes only;
	// an empty token refuses every request.
	Token string
}

// Server is the data tier's HTTP API. It is the authority on the video pipeline's counts: the
// accepted and processed counters are counted in the database at each scrape, so that neither a
// worker killed after finishing nor a restarted data tier loses or repeats one, and the realtime
// ratio is recorded here, in the transaction's wake.
type Server struct {
	store *Store
	cfg   Config
	http  *metrics.HTTP

	ratio     *prometheus.HistogramVec
	queueWait *prometheus.HistogramVec

	mu      sync.Mutex
	wake    chan struct{} // closed and replaced whenever a job is enqueued
	closing chan struct{}
	once    sync.Once
}

// errUnauthorized answers a request without the platform's data tier token.
var errUnauthorized = jsonhttp.Errorf(http.StatusUnauthorized, "unauthorized",
	"the data tier serves the platform's own processes only: send Authorization: Bearer <the token the supervisor gave them>")

// Close ends every long poll (with no job) so that the server can shut down. It is idempotent.
func (s *Server) Close() { s.once.Do(func() { close(s.closing) }) }

// NewServer serves store, registering its metrics with reg.
func NewServer(store *Store, cfg Config, reg prometheus.Registerer) *Server {
	s := &Server{
		store: store, cfg: cfg, http: metrics.NewHTTP(reg, metrics.DataTierDuration), wake: make(chan struct{}), closing: make(chan struct{}),
		ratio: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dailydoco_video_processing_realtime_ratio",
			Help:    "Seconds from upload complete to processed (ready), divided by the media seconds.",
			Buckets: metrics.RealtimeRatioBuckets,
		}, []string{"resolution"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dailydoco_video_queue_wait_seconds",
			Help:    "Seconds a job waited in the queue before its lease (model seconds).",
			Buckets: metrics.DurationBuckets,
		}, []string{"stage"}),
	}
	reg.MustRegister(s.ratio, s.queueWait, &queueCollector{
		store: store,
		accepted: prometheus.NewDesc("dailydoco_videos_accepted_total",
			"Videos accepted for processing (captures finished), counted in the database.", nil, nil),
		processed: prometheus.NewDesc("dailydoco_videos_processed_total",
			"Videos that left the pipeline, by result (success or failed), counted in the database.", []string{"result", "resolution"}, nil),
		depth: prometheus.NewDesc("dailydoco_queue_depth",
			"Accepted videos not yet processed, by the stage they are in (waiting or in progress): sum = accepted - processed.", []string{"stage"}, nil),
		waiting: prometheus.NewDesc("dailydoco_queue_waiting",
			"Jobs waiting for a worker (queued, or leased with an expired lease), by stage.", []string{"stage"}, nil),
		oldest: prometheus.NewDesc("dailydoco_queue_oldest_age_seconds",
			"Seconds since the oldest accepted video that is neither processed nor failed was accepted; 0 when every accepted video has finished.", nil, nil),
	})
	for _, r := range model.Resolutions {
		// Zero series from the start: rate() and increase() see the first video.
		s.ratio.WithLabelValues(string(r))
	}
	return s
}

// queueCollector reads the pipeline's counts and backlog from the database at each scrape, in
// one transaction (Store.Pipeline), so that the series of one scrape agree.
type queueCollector struct {
	store                                       *Store
	accepted, processed, depth, waiting, oldest *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.accepted
	ch <- c.processed
	ch <- c.depth
	ch <- c.waiting
	ch <- c.oldest
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := c.store.Pipeline(ctx, time.Now())
	if err != nil {
		for _, d := range []*prometheus.Desc{c.accepted, c.processed, c.depth, c.waiting, c.oldest} {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	c.collectCounts(p.Counts, ch)
	for stage, n := range p.Depth {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n), stage)
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(p.Waiting[stage]), stage)
	}
	age := 0.0
	if !p.Oldest.IsZero() {
		age = time.Since(p.Oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}

// collectCounts exports the videos accepted and those that left the pipeline (every resolution
// and result from the start, at zero, so that rate() and increase() see the first video).
func (c *queueCollector) collectCounts(counts map[VideoCount]int64, ch chan<- prometheus.Metric) {
	var accepted int64
	for _, n := range counts {
		accepted += n
	}
	ch <- prometheus.MustNewConstMetric(c.accepted, prometheus.CounterValue, float64(accepted))
	for _, r := range model.Resolutions {
		for result, state := range map[string]string{"success": "ready", "failed": "failed"} {
			n := counts[VideoCount{State: state, Resolution: r}]
			ch <- prometheus.MustNewConstMetric(c.processed, prometheus.CounterValue, float64(n), result, string(r))
		}
	}
}

func (s *Server) notify() {
	s.mu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

func (s *Server) waitCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake
}

func (s *Server) finished(fs ...Finished) {
	for _, f := range fs {
		if f.Result == "success" && f.Video.ReadyAt != nil {
			s.ratio.WithLabelValues(string(f.Video.Resolution)).Observe(
				s.cfg.Model.RealtimeRatio(f.Video.ReadyAt.Sub(f.Video.AcceptedAt), f.Video.MediaSeconds))
		}
	}
}

// Handler returns the data tier's routes (internal; only the platform's processes call them,
// with the Config.Token every request must carry).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, f func(*http.Request) (int, any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			status, v, err := f(r)
			if errors.Is(err, jsonhttp.ErrNoContent) {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			if err != nil {
				jsonhttp.WriteError(w, err)
				return
			}
			jsonhttp.Write(w, status, v)
		})
	}
	h("POST /v1/users", s.createUser)
	h("GET /v1/users/{id}", func(r *http.Request) (int, any, error) {
		u, err := s.store.User(r.Context(), r.PathValue("id"), "")
		return 200, u, err
	})
	h("GET /v1/users", func(r *http.Request) (int, any, error) {
		u, err := s.store.User(r.Context(), "", r.URL.Query().Get("email"))
		return 200, u, err
	})
	h("POST /v1/sessions", s.createSession)
	h("POST /v1/captures", s.createCapture)
	h("PUT /v1/captures/{id}/chunks/{index}", s.putChunk)
	h("POST /v1/captures/{id}/finish", s.finish)
	h("GET /v1/videos/{id}", func(r *http.Request) (int, any, error) {
		v, err := s.store.Video(r.Context(), r.PathValue("id"), r.URL.Query().Get("user_id"))
		return 200, v, err
	})
	h("GET /v1/videos", func(r *http.Request) (int, any, error) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit <= 0 || limit > 100 {
			limit = 20
		}
		vs, err := s.store.Videos(r.Context(), r.URL.Query().Get("user_id"), limit)
		return 200, map[string]any{"videos": vs}, err
	})
	h("POST /v1/exports", s.createExport)
	h("GET /v1/exports/{id}", func(r *http.Request) (int, any, error) {
		e, err := s.store.Export(r.Context(), r.PathValue("id"), r.URL.Query().Get("user_id"))
		return 200, e, err
	})
	h("POST /v1/jobs/lease", s.lease)
	h("POST /v1/jobs/{id}/renew", s.renew)
	h("POST /v1/jobs/{id}/complete", s.complete)
	h("GET /v1/stats", func(r *http.Request) (int, any, error) {
		st, err := s.store.Stats(r.Context())
		if err != nil {
			return 0, nil, err
		}
		_, st.Waiting, err = s.store.QueueDepth(r.Context(), time.Now())
		return 200, st, err
	})
	// Refused requests are still counted (status 401, no route): someone is knocking.
	return s.http.Middleware("datatier", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !jsonhttp.Bearer(r, s.cfg.Token) {
			jsonhttp.WriteError(w, errUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

const maxBody = 64 << 10

// Request bodies of the internal API.
type (
	createUserReq struct {
		Email        string `json:"email"`
		Name         string `json:"name"`
		PasswordHash string `json:"password_hash"`
	}
	createSessionReq struct {
		UserID string        `json:"user_id"`
		TTL    time.Duration `json:"ttl"`
	}
	createCaptureReq struct {
		UserID       string           `json:"user_id"`
		Title        string           `json:"title"`
		Resolution   model.Resolution `json:"resolution"`
		MediaSeconds float64          `json:"media_seconds"`
	}
	putChunkReq struct {
		UserID string `json:"user_id"`
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	}
	finishReq struct {
		UserID string `json:"user_id"`
	}
	finishResp struct {
		Video   Video `json:"video"`
		Created bool  `json:"created"`
	}
	createExportReq struct {
		UserID  string    `json:"user_id"`
		VideoID string    `json:"video_id"`
		Format  string    `json:"format"`
		ReadyAt time.Time `json:"ready_at"`
	}
	renewReq struct {
		Worker string `json:"worker"`
	}
	renewResp struct {
		LeaseExpiresAt time.Time `json:"lease_expires_at"`
	}
)

func (s *Server) createUser(r *http.Request) (int, any, error) {
	var in createUserReq
	if err := jsonhttp.Decode(r, maxBody, &in); err != nil {
		return 0, nil, err
	}
	u, err := s.store.CreateUser(r.Context(), in.Email, in.Name, in.PasswordHash, time.Now())
	return http.StatusCreated, u, err
}

func (s *Server) createSession(r *http.Request) (int, any, error) {
	var in createSessionReq
	if err := jsonhttp.Decode(r, maxBody, &in); err != nil {
		return 0, nil, err
	}
	se, err := s.store.CreateSession(r.Context(), in.UserID, in.TTL, time.Now())
	return http.StatusCreated, se, err
}

func (s *Server) createCapture(r *http.Request) (int, any, error) {
	var in createCaptureReq
	if err := jsonhttp.Decode(r, maxBody, &in); err != nil {
		return 0, nil, err
	}
	c, err := s.store.CreateCapture(r.Context(), in.UserID, in.Title, in.Resolution, in.MediaSeconds, time.Now())
	return http.StatusCreated, c, err
}

func (s *Server) putChunk(r *http.Request) (int, any, error) {
	var in putChunkReq
	if err := jsonhttp.Decode(r, maxBody, &in); err != nil {
		return 0, nil, err
	}
	idx, err := strconv.Atoi(r.PathValue("index"))
	if err != nil {
		return 0, nil, jsonhttp.Errorf(http.StatusBadRequest, "bad_chunk_index", "chunk index %q is not a number", r.PathValue("index"))
	}
	c, err := s.store.PutChunk(r.Context(), r.PathValue("id"), in.UserID, idx, in.Bytes, in.SHA256)
	return http.StatusOK, c, err
}

func (s *Server) finish(r *http.Request) (int, any, error) {
	var in finishReq
	if err := jsonhttp.Decode(r, maxBody, &in); err != nil {
		return 0, nil, err
	}
	v, created, err := s.store.FinishCapture(r.Context(), r.PathValue("id"), in.UserID, s.gpuSlots, time.Now())
	if err != nil {
		return 0, nil, err
	}
	if created {
		s.notify()
		return http.StatusCreated, finishResp{v, true}, nil
	}
	return http.StatusOK, finishResp{v, false}, nil
}

func (s *Server) gpuSlots(r model.Resolution) int { return s.cfg.Model.GPU[r].Slots }

func (s *Server) createExport(r *http.Request) (int, any, error) {
	var in createExportReq
	if err := jsonhttp.Decode(r, maxBody, &in); err != nil {
		return 0, nil, err
	}
	e, err := s.store.CreateExport(r.Context(), in.VideoID, in.UserID, in.Format, time.Now(), in.ReadyAt)
	return http.StatusCreated, e, err
}

// maxLeaseWait bounds a long poll so that proxies and clients never time it out, nor the
// server's own write timeout (topology.InternalAnswer is the same 30 s).
const maxLeaseWait = 30 * time.Second

func (s *Server) lease(r *http.Request) (int, any, error) {
	var in LeaseRequest
	if err := jsonhttp.Decode(r, maxBody, &in); err != nil {
		return 0, nil, err
	}
	if in.Stage != StageGPU && in.Stage != StageAI || in.Worker == "" || in.MaxSlots < 1 {
		return 0, nil, jsonhttp.Errorf(http.StatusBadRequest, "bad_lease_request", "stage must be gpu or ai, worker set and max_slots >= 1")
	}
	ctx := r.Context()
	deadline := time.Now().Add(min(in.Wait, maxLeaseWait))
	for {
		// Take the wake channel before looking, so an enqueue between the look and the wait
		// is not missed.
		wake := s.waitCh()
		now := time.Now()
		job, nextExpiry, failed, err := s.store.Lease(ctx, in, s.cfg.Lease, now)
		if err != nil {
			return 0, nil, err
		}
		s.finished(failed...)
		if job != nil {
			s.queueWait.WithLabelValues(job.Stage).Observe(job.LeasedAt.Sub(job.EnqueuedAt).Seconds() * s.cfg.Model.Speed)
			return http.StatusOK, job, nil
		}
		wait := deadline.Sub(now)
		if wait <= 0 {
			return 0, nil, jsonhttp.ErrNoContent
		}
		if !nextExpiry.IsZero() {
			// Wake just after the next lease expires: its job may be ours.
			wait = min(wait, nextExpiry.Sub(now)+time.Millisecond)
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-wake:
		case <-t.C:
		case <-s.closing:
			t.Stop()
			return 0, nil, jsonhttp.ErrNoContent
		case <-ctx.Done():
			t.Stop()
			return 0, nil, ctx.Err()
		}
		t.Stop()
	}
}

func (s *Server) renew(r *http.Request) (int, any, error) {
	var in renewReq
	if err := jsonhttp.Decode(r, maxBody, &in); err != nil {
		return 0, nil, err
	}
	exp, err := s.store.Renew(r.Context(), r.PathValue("id"), in.Worker, s.cfg.Lease, time.Now())
	return http.StatusOK, renewResp{exp}, err
}

func (s *Server) complete(r *http.Request) (int, any, error) {
	var in CompleteRequest
	if err := jsonhttp.Decode(r, maxBody, &in); err != nil {
		return 0, nil, err
	}
	fin, err := s.store.Complete(r.Context(), r.PathValue("id"), in, 1, time.Now())
	if err != nil {
		return 0, nil, err
	}
	if fin != nil {
		s.finished(*fin)
	} else {
		s.notify() // the AI step was enqueued
	}
	return http.StatusOK, map[string]bool{"ok": true}, nil
}
