// Package slotest provides deterministic DailyDoco Pro metric data for SLO tests: the same
// frames can be appended straight into a TSDB or served by an exporter that Prometheus
// servers scrape, so an embedded and a real Prometheus hold identical samples.
//
// Every frame carries explicit timestamps (base + k·step) and the exporter serves each scraper
// (told apart by URL path) the next frame on each scrape, so what a server stores does not
// depend on when it scraped. After the last frame the exporter repeats it; a sample repeated
// with the same timestamp and value is ignored by Prometheus.
package slotest

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// Rates of the generated data, per second of frame time, per route variant. Tests compute
// expected SLO values from these constants by hand.
const (
	ServerRequests     = 100.0 // 2xx responses per second
	ServerFast         = 96.0  // of which at most 0.1 s
	ServerErrors       = 1.0   // 503 responses per second, all at most 0.05 s
	ClientRequests     = 100.0
	ClientFast         = 90.0 // at most 0.1 s
	ClientErrors       = 0.5
	VideosAccepted     = 2.0
	VideosSucceeded    = 1.5
	VideosFailed       = 0.5
	RealtimeVideos     = 2.0  // observations of the realtime ratio per second
	RealtimeWithin2    = 1.92 // of which ratio <= 2
	DashboardLoads     = 1.0
	DashboardWithin3   = 0.97
	QueueDepth         = 3.0
	RecoverySeconds    = 42.0
	RecoveryObjective  = 60.0
	NodeHourlyCost     = 0.526 + 0.192 + 0.192 // three nodes
	FixedHourlyCost    = 2.05 + 0.68           // postgres, redis
	counterStartFrames = 1000                  // counters start as if 1000 s had passed
)

// Series is one sample of a frame.
type Series struct {
	Labels labels.Labels
	Value  float64
}

// Frame is every series at one instant.
type Frame struct {
	T      time.Time
	Series []Series
}

// Types maps metric family names to their Prometheus type, for the exposition's TYPE lines.
var Types = map[string]string{
	"http_server_request_duration_seconds":      "histogram",
	"ddp_client_request_duration_seconds":       "histogram",
	"ddp_client_requests_total":                 "counter",
	"ddp_client_request_errors_total":           "counter",
	"dailydoco_videos_accepted_total":           "counter",
	"dailydoco_videos_processed_total":          "counter",
	"dailydoco_video_processing_realtime_ratio": "histogram",
	"dailydoco_queue_depth":                     "gauge",
	"node_total_hourly_cost":                    "gauge",
	"dailydoco_fixed_hourly_cost":               "gauge",
	"ddp_journey_duration_seconds":              "histogram",
	"ddp_fault_recovery_seconds":                "gauge",
	"ddp_fault_recovery_objective_seconds":      "gauge",
}

// Frames generates n frames, step apart from base. routes (>= 1) multiplies the HTTP series
// (one route variant each, same rates), to size the data set for benchmarks; with routes = 1
// there are 64 series.
func Frames(base time.Time, n int, step time.Duration, routes int) []Frame {
	if routes < 1 {
		routes = 1
	}
	frames := make([]Frame, n)
	for k := range n {
		frames[k] = FrameAt(base, k, step, routes)
	}
	return frames
}

// FrameAt generates frame k of [Frames]. Every value is linear in k (gauges are constant), so
// callers generating long series can compute frame k from frames 0 and 1.
func FrameAt(base time.Time, k int, step time.Duration, routes int) Frame {
	if routes < 1 {
		routes = 1
	}
	{
		elapsed := float64(counterStartFrames) + float64(k)*step.Seconds()
		var s []Series
		add := func(v float64, kv ...string) {
			s = append(s, Series{Labels: labels.FromStrings(kv...), Value: v})
		}
		hist := func(name string, bounds []string, cum []float64, count, sum float64, kv ...string) {
			for i, le := range bounds {
				add(cum[i]*elapsed, append([]string{"__name__", name + "_bucket", "le", le}, kv...)...)
			}
			add(count*elapsed, append([]string{"__name__", name + "_bucket", "le", "+Inf"}, kv...)...)
			add(count*elapsed, append([]string{"__name__", name + "_count"}, kv...)...)
			add(sum*elapsed, append([]string{"__name__", name + "_sum"}, kv...)...)
		}
		for r := range routes {
			route := "/v1/videos"
			if r > 0 {
				route = fmt.Sprintf("/v1/r%d", r)
			}
			hist("http_server_request_duration_seconds", []string{"0.05", "0.1", "0.25", "0.5"},
				[]float64{50, ServerFast, 99, ServerRequests}, ServerRequests, 5,
				"service", "api", "http_route", route, "http_request_method", "GET", "http_response_status_code", "200")
			hist("http_server_request_duration_seconds", []string{"0.05", "0.1", "0.25", "0.5"},
				[]float64{ServerErrors, ServerErrors, ServerErrors, ServerErrors}, ServerErrors, 0.01,
				"service", "api", "http_route", route, "http_request_method", "GET", "http_response_status_code", "503")
			hist("ddp_client_request_duration_seconds", []string{"0.05", "0.1", "0.25", "0.5", "1"},
				[]float64{40, ClientFast, 98, ClientRequests, ClientRequests}, ClientRequests, 8,
				"scenario", "upload", "step", route, "method", "GET", "status", "200")
			add(ClientRequests*elapsed, "__name__", "ddp_client_requests_total", "scenario", "upload", "step", route)
			add(ClientErrors*elapsed, "__name__", "ddp_client_request_errors_total", "scenario", "upload", "step", route, "reason", "timeout")
		}
		add(VideosAccepted*elapsed, "__name__", "dailydoco_videos_accepted_total")
		add(VideosSucceeded*elapsed, "__name__", "dailydoco_videos_processed_total", "result", "success", "resolution", "1080p")
		add(VideosFailed*elapsed, "__name__", "dailydoco_videos_processed_total", "result", "failed", "resolution", "4k")
		hist("dailydoco_video_processing_realtime_ratio", []string{"1", "1.5", "2", "3"},
			[]float64{1, 1.6, RealtimeWithin2, RealtimeVideos}, RealtimeVideos, 2.8)
		add(QueueDepth, "__name__", "dailydoco_queue_depth")
		add(0.526, "__name__", "node_total_hourly_cost", "node", "gpu-1", "instance_type", "g4dn.xlarge", "zone", "a")
		add(0.192, "__name__", "node_total_hourly_cost", "node", "gen-1", "instance_type", "m5.large", "zone", "a")
		add(0.192, "__name__", "node_total_hourly_cost", "node", "gen-2", "instance_type", "m5.large", "zone", "b")
		add(2.05, "__name__", "dailydoco_fixed_hourly_cost", "component", "postgres")
		add(0.68, "__name__", "dailydoco_fixed_hourly_cost", "component", "redis")
		hist("ddp_journey_duration_seconds", []string{"1", "3", "5"},
			[]float64{0.5, DashboardWithin3, DashboardLoads}, DashboardLoads, 1.4, "journey", "dashboard_load")
		add(RecoverySeconds, "__name__", "ddp_fault_recovery_seconds", "fault", "gpu-node")
		add(RecoveryObjective, "__name__", "ddp_fault_recovery_objective_seconds", "fault", "gpu-node")
		return Frame{T: base.Add(time.Duration(k) * step), Series: s}
	}
}

// Append writes frames into app and commits; extra labels (e.g. job, instance) are added to
// every series, as a scrape would add them.
func Append(app storage.Appender, frames []Frame, extra ...string) error {
	refs := map[string]storage.SeriesRef{}
	for _, f := range frames {
		ts := f.T.UnixMilli()
		for _, s := range f.Series {
			lb := labels.NewBuilder(s.Labels)
			for i := 0; i+1 < len(extra); i += 2 {
				lb.Set(extra[i], extra[i+1])
			}
			l := lb.Labels()
			key := l.String()
			ref, err := app.Append(refs[key], l, ts, s.Value)
			if err != nil {
				_ = app.Rollback()
				return fmt.Errorf("append %s at %d: %w", key, ts, err)
			}
			refs[key] = ref
		}
	}
	return app.Commit()
}

// Exporter serves frames in the Prometheus text format with explicit timestamps. Each path
// under /metrics/ is one scraper with its own position in the frames.
type Exporter struct {
	frames []Frame

	mu     sync.Mutex
	served map[string]int // scraper -> scrapes served
	cond   *sync.Cond
}

// NewExporter serves frames; mount it with httptest.NewServer.
func NewExporter(frames []Frame) *Exporter {
	e := &Exporter{frames: frames, served: map[string]int{}}
	e.cond = sync.NewCond(&e.mu)
	return e
}

func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	scraper := strings.TrimPrefix(r.URL.Path, "/metrics/")
	e.mu.Lock()
	k := min(e.served[scraper], len(e.frames)-1)
	e.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, err := w.Write(Exposition(e.frames[k]))
	if err != nil {
		return
	}
	e.mu.Lock()
	e.served[scraper]++
	e.cond.Broadcast()
	e.mu.Unlock()
}

// WaitDone blocks until scraper has been served every frame and then two repeats of the last
// one, which proves (scrapes of one target being sequential) that the last frame has been
// ingested. It gives up at the deadline and reports how far the scraper got.
func (e *Exporter) WaitDone(scraper string, deadline time.Time) error {
	want := len(e.frames) + 2
	stop := time.AfterFunc(time.Until(deadline), func() {
		e.mu.Lock()
		e.cond.Broadcast()
		e.mu.Unlock()
	})
	defer stop.Stop()
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.served[scraper] < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("scraper %q got %d of %d scrapes by the deadline", scraper, e.served[scraper], want)
		}
		e.cond.Wait()
	}
	return nil
}

// Exposition renders one frame in the text format, families grouped with TYPE lines.
func Exposition(f Frame) []byte {
	type line struct{ family, text string }
	lines := make([]line, 0, len(f.Series))
	ts := strconv.FormatInt(f.T.UnixMilli(), 10)
	for _, s := range f.Series {
		name := s.Labels.Get("__name__")
		var b strings.Builder
		b.WriteString(name)
		b.WriteByte('{')
		first := true
		s.Labels.Range(func(l labels.Label) {
			if l.Name == "__name__" {
				return
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			fmt.Fprintf(&b, "%s=%q", l.Name, l.Value)
		})
		b.WriteString("} ")
		b.WriteString(formatSample(s.Value))
		b.WriteByte(' ')
		b.WriteString(ts)
		lines = append(lines, line{family: family(name), text: b.String()})
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].family < lines[j].family })
	var out strings.Builder
	prev := ""
	for _, l := range lines {
		if l.family != prev {
			if t, ok := Types[l.family]; ok {
				fmt.Fprintf(&out, "# TYPE %s %s\n", l.family, t)
			}
			prev = l.family
		}
		out.WriteString(l.text)
		out.WriteByte('\n')
	}
	return []byte(out.String())
}

func family(name string) string {
	for _, suf := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suf); ok && Types[base] == "histogram" {
			return base
		}
	}
	return name
}

func formatSample(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
