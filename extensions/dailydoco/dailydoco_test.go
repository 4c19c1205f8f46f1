package dailydoco_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   int64
		want string
	}{
		{1, "198.18.0.1"},
		{255, "198.18.0.255"},
		{256, "198.18.1.0"},
		{1000, "198.18.3.232"},
		{131070, "198.19.255.254"}, // the last usable address of 198.18.0.0/15
		{131071, "198.18.0.1"},     // then it wraps, skipping network and broadcast
		{0, "198.19.255.254"},
	} {
		if got := dailydoco.ClientAddr(tc.id); got != tc.want {
			t.Errorf("ClientAddr(%d) = %s, want %s", tc.id, got, tc.want)
		}
	}
	seen := map[string]bool{}
	for id := int64(1); id <= 5000; id++ {
		a := dailydoco.ClientAddr(id)
		if seen[a] {
			t.Fatalf("VU %d repeats address %s", id, a)
		}
		seen[a] = true
	}
}

func TestPlanUpload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		res        dailydoco.Resolution
		secs       float64
		chunk      int64
		wantBytes  int64
		wantChunks int
	}{
		{"1080p minute", dailydoco.R1080p, 60, 1 << 20, 26_250_000, 26}, // 3.5 Mbit/s
		{"4k 30 s", dailydoco.R4K, 30, 1 << 20, 37_500_000, 36},         // 10 Mbit/s
		{"720p 20 s", dailydoco.R720p, 20, 1 << 20, 3_750_000, 4},       // 1.5 Mbit/s
		{"exact chunks", dailydoco.R720p, 8, 500_000, 1_500_000, 3},     // 1.5 MB in 3 x 500 kB
		{"tiny", dailydoco.R720p, 0.000001, 1 << 20, 1, 1},              // at least one byte
		{"chunk limit of one byte", dailydoco.R720p, 0.00002, 0, 4, 4},  // chunk size floor 1
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := dailydoco.PlanUpload(tc.res, tc.secs, tc.chunk)
			if p.Bytes != tc.wantBytes || p.Chunks != tc.wantChunks {
				t.Fatalf("plan %+v, want %d bytes in %d chunks", p, tc.wantBytes, tc.wantChunks)
			}
			var sum int64
			prev := 0.0
			for i := range p.Chunks {
				if s := p.Size(i); s < 1 || s > max(tc.chunk, 1) {
					t.Errorf("chunk %d: %d bytes", i, s)
				}
				sum += p.Size(i)
				if at := p.MediaAt(i); at <= prev && i > 0 || at > tc.secs+1e-9 {
					t.Errorf("chunk %d due at media second %v after %v", i, at, prev)
				} else {
					prev = at
				}
			}
			if sum != p.Bytes || math.Abs(p.MediaAt(p.Chunks-1)-tc.secs) > 1e-9 {
				t.Errorf("chunks sum to %d bytes (want %d), last due at %v (want %v)", sum, p.Bytes, p.MediaAt(p.Chunks-1), tc.secs)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := dailydoco.Backoff{Initial: time.Second, Max: 10 * time.Second, Factor: 1.5}
	want := []time.Duration{time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond, 3375 * time.Millisecond, 5062500 * time.Microsecond, 7593750 * time.Microsecond, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := b.Delay(i); got != w {
			t.Errorf("Delay(%d) = %v, want %v", i, got, w)
		}
	}
	for _, tc := range []struct {
		wait time.Duration
		want int
	}{{0, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {2500 * time.Millisecond, 2}, {4750 * time.Millisecond, 3}, {30 * time.Second, 7}} {
		if got := b.Polls(tc.wait); got != tc.want {
			t.Errorf("Polls(%v) = %d, want %d", tc.wait, got, tc.want)
		}
	}
	d := dailydoco.Backoff{}.WithDefaults(dailydoco.DefaultPoll)
	if d != dailydoco.DefaultPoll {
		t.Errorf("zero backoff with defaults = %+v", d)
	}
}

func TestDashboardAssets(t *testing.T) {
	t.Parallel()
	page := []byte(`<html><head><link rel="stylesheet" href="/static/app.css"><script defer src="/static/app.js"></script>
<link rel="icon" href="https://cdn.example/x.ico"><a href="/static/not-an-asset.html">x</a><img alt="" SRC="/static/logo.svg"></head></html>`)
	got := dailydoco.DashboardAssets(page)
	want := []string{"/static/app.css", "/static/app.js", "/static/logo.svg"}
	if len(got) != len(want) {
		t.Fatalf("assets %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("asset %d = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestChunkReaderIsDeterministicAndStreams(t *testing.T) {
	t.Parallel()
	sum := func(id string, idx int, n int64) [32]byte {
		h := sha256.New()
		if m, err := io.Copy(h, dailydoco.ChunkReader(id, idx, n)); err != nil || m != n {
			t.Fatalf("read %d bytes, %v; want %d", m, err, n)
		}
		return [32]byte(h.Sum(nil))
	}
	a, b := sum("cap_1", 0, 1<<20), sum("cap_1", 0, 1<<20)
	if a != b {
		t.Error("the same chunk differs between reads")
	}
	if a == sum("cap_1", 1, 1<<20) || a == sum("cap_2", 0, 1<<20) {
		t.Error("different chunks have the same bytes")
	}
	// Pseudo-random data does not compress: no run of zeros in the first KiB.
	buf := make([]byte, 1024)
	_, _ = io.ReadFull(dailydoco.ChunkReader("cap_1", 0, 1024), buf)
	if bytes.Contains(buf, make([]byte, 16)) {
		t.Error("chunk bytes look degenerate")
	}
}

func TestMetricsBucketsAndNil(t *testing.T) {
	t.Parallel()
	var found bool
	for _, b := range dailydoco.JourneyBuckets {
		found = found || b == 3
	}
	if !found {
		t.Fatal("journey buckets lack 3 s exactly, the dashboard objective")
	}
	var nilM *dailydoco.Metrics
	nilM.Observe(dailydoco.TrendDashboardLoad, time.Second) // must not panic

	m := dailydoco.NewMetrics()
	m.Observe(dailydoco.TrendDashboardLoad, 2900*time.Millisecond)
	m.Observe(dailydoco.TrendDashboardLoad, 3100*time.Millisecond)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "ddp_journey_duration_seconds" {
		t.Fatalf("gathered %v", mfs)
	}
	h := mfs[0].GetMetric()[0].GetHistogram()
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == 3 && b.GetCumulativeCount() != 1 {
			t.Errorf("le=3 bucket holds %d, want 1", b.GetCumulativeCount())
		}
	}
	if l := mfs[0].GetMetric()[0].GetLabel(); len(l) != 1 || l[0].GetName() != "journey" || l[0].GetValue() != "dashboard_load" {
		t.Errorf("labels %v, want journey=dashboard_load", l)
	}
}
