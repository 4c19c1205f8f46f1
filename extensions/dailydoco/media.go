package dailydoco

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Bitrate returns the screen-recording bitrate, in bits per second, the client uploads at for
// a resolution: what desktop recorders produce for screen content at 30 fps with H.264
// (mostly static text and UI, so well below camera video): 720p 1.5 Mbit/s, 1080p 3.5 Mbit/s,
// 4K 10 Mbit/s. Unknown resolutions get 1080p's.
func Bitrate(r Resolution) int64 {
	switch r {
	case R4K:
		return 10_000_000
	case R720p:
		return 1_500_000
	}
	return 3_500_000
}

// UploadPlan is how a capture's media is cut into chunks.
type UploadPlan struct {
	Resolution   Resolution
	MediaSeconds float64
	Bytes        int64 // the whole media
	ChunkBytes   int64 // every chunk but the last
	Chunks       int
}

// PlanUpload cuts mediaSeconds of r at [Bitrate] into chunks of at most chunkBytes (at least
// one chunk of at least one byte).
func PlanUpload(r Resolution, mediaSeconds float64, chunkBytes int64) UploadPlan {
	total := max(int64(math.Ceil(float64(Bitrate(r))*mediaSeconds/8)), 1)
	chunkBytes = max(chunkBytes, 1)
	return UploadPlan{Resolution: r, MediaSeconds: mediaSeconds, Bytes: total, ChunkBytes: chunkBytes,
		Chunks: int((total + chunkBytes - 1) / chunkBytes)}
}

// Size returns the size of chunk i.
func (p UploadPlan) Size(i int) int64 {
	return min(p.ChunkBytes, p.Bytes-int64(i)*p.ChunkBytes)
}

// MediaAt returns the media second at which the recording has produced chunk i entirely.
func (p UploadPlan) MediaAt(i int) float64 {
	end := min(int64(i+1)*p.ChunkBytes, p.Bytes)
	return p.MediaSeconds * float64(end) / float64(p.Bytes)
}

// Backoff is a polling schedule: waits of Initial, Initial·Factor, ... capped at Max, and no
// wait that would end after Deadline (from the first wait's start).
type Backoff struct {
	Initial, Max time.Duration
	Factor       float64
	Deadline     time.Duration
}

// Default polling schedules. Videos take tens of seconds to minutes, so their polls back off
// to 10 s; exports are ready in about a second.
var (
	DefaultPoll       = Backoff{Initial: time.Second, Max: 10 * time.Second, Factor: 1.5, Deadline: 30 * time.Minute}
	DefaultExportPoll = Backoff{Initial: 500 * time.Millisecond, Max: 5 * time.Second, Factor: 2, Deadline: 5 * time.Minute}
)

// WithDefaults returns b with its zero (or invalid) fields taken from d.
func (b Backoff) WithDefaults(d Backoff) Backoff {
	if b.Initial <= 0 {
		b.Initial = d.Initial
	}
	if b.Max <= 0 {
		b.Max = d.Max
	}
	if b.Factor < 1 {
		b.Factor = d.Factor
	}
	if b.Deadline <= 0 {
		b.Deadline = d.Deadline
	}
	return b
}

// Delay returns the wait before poll attempt (0-based).
func (b Backoff) Delay(attempt int) time.Duration {
	d := float64(b.Initial) * math.Pow(max(b.Factor, 1), float64(attempt))
	return time.Duration(min(d, float64(max(b.Max, b.Initial))))
}

// Polls returns how many polls the schedule makes for something that is ready wait after the
// first wait starts: the first whose cumulative delay reaches wait (at least 1).
func (b Backoff) Polls(wait time.Duration) int {
	if b.Initial <= 0 {
		return 1
	}
	var t time.Duration
	for n := 0; ; n++ {
		t += b.Delay(n)
		if t >= wait {
			return n + 1
		}
	}
}

// MetricJourneyDuration is the Prometheus histogram of journey-level timings, with label
// journey = dashboard_load, finish_to_ready or export_ready (slo/default.yaml reads
// dashboard_load).
const MetricJourneyDuration = "ddp_journey_duration_seconds"

// JourneyBuckets are the histogram's upper bounds, in seconds: they hold 3 exactly, the
// dashboard objective, and reach 30 minutes for videos waiting out a fault.
var JourneyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800}

// Metrics holds the journey-level timings for Prometheus. The load engine exposes request
// metrics only, so a run registers Metrics beside the engine's collector:
//
//	reg.MustRegister(eng.Collector(), metrics)
//
// A nil *Metrics records nothing. It is safe for concurrent use.
type Metrics struct {
	hist *prometheus.HistogramVec
}

// NewMetrics returns an empty set of journey metrics.
func NewMetrics() *Metrics {
	return &Metrics{hist: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricJourneyDuration,
		Help:    "Journey-level timings seen by the load generator's users: dashboard_load (page, assets and first API calls), finish_to_ready (capture finished to video ready), export_ready (export requested to downloadable).",
		Buckets: JourneyBuckets,
	}, []string{"journey"})}
}

// Observe records d under journey; nil m does nothing.
func (m *Metrics) Observe(journey string, d time.Duration) {
	if m == nil {
		return
	}
	m.hist.WithLabelValues(journey).Observe(d.Seconds())
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) { m.hist.Describe(ch) }

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) { m.hist.Collect(ch) }

var _ prometheus.Collector = (*Metrics)(nil)
