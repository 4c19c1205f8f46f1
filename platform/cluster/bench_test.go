package cluster_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/cluster"
	"github.com/dailydoco/ddp-verify/platform/dashboard"
	"github.com/dailydoco/ddp-verify/platform/metrics"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// BenchmarkJourneyCapacity measures what the default topology sustains on this machine: a
// closed loop of goroutines runs the journey mix through the gateway at rising concurrency,
// and the benchmark reports the highest throughput whose server-side p95 (the gateway's
// http_server_request_duration_seconds) stays under 50 ms. The plan's 1000-user plateau is
// about 10k API requests per minute (167/s).
func BenchmarkJourneyCapacity(b *testing.B) {
	topo := topology.Default()
	topo.Timing.StopGrace = topology.Duration(2 * time.Second)
	c := platformtest.Start(b, topo)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 512}}
	const step = 4 * time.Second
	var best stepResult
	for b.Loop() {
		for _, vus := range []int{4, 8, 16, 32, 64, 128} {
			r := runStep(b, c, hc, vus, step)
			b.Logf("%3d goroutines: %6.0f req/s, gateway p95 %5.1f ms, errors %d", vus, r.rps, r.p95*1000, r.errors)
			ok := r.p95 < 0.050 && float64(r.errors) <= 0.01*r.rps*step.Seconds()
			if ok && r.rps > best.rps {
				best = r
			}
			if !ok {
				break
			}
		}
	}
	b.ReportMetric(best.rps, "req/s")
	b.ReportMetric(best.rps*60, "req/min")
	b.ReportMetric(best.p95*1000, "p95-ms")
	b.ReportMetric(float64(best.vus), "goroutines")
	b.ReportMetric(best.rps/(10000.0/60), "x-plan-peak")
}

type stepResult struct {
	vus    int
	rps    float64
	p95    float64
	errors int64
}

func runStep(b *testing.B, c *cluster.Cluster, hc *http.Client, vus int, d time.Duration) stepResult {
	gwAddr := c.Targets()[0].Addr
	before := gatewayBuckets(b, gwAddr)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var requests, errs atomic.Int64
	var firstErr atomic.Value
	var ipSeq atomic.Uint32
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < vus; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n, err := journey(ctx, c.GatewayURL(), hc, ipSeq.Add(1))
				if err == nil {
					requests.Add(int64(n)) // only whole journeys count as served
				} else if ctx.Err() == nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if e := firstErr.Load(); e != nil {
		b.Logf("first error at %d goroutines: %v", vus, e)
	}
	after := gatewayBuckets(b, gwAddr)
	for le := range after {
		after[le] -= before[le]
	}
	return stepResult{vus: vus, rps: float64(requests.Load()) / elapsed.Seconds(), p95: quantile(after, 0.95), errors: errs.Load()}
}

// journey is one virtual user's visit, each from its own client IP (as the load generator
// presents virtual users): sign up, load the dashboard, upload a capture in 2 chunks, poll the
// video 3 times: 14 requests, 11 of them to the API service.
func journey(ctx context.Context, base string, hc *http.Client, seq uint32) (int, error) {
	cl := &platformtest.Client{BaseURL: base, HTTP: hc, IP: fmt.Sprintf("198.18.%d.%d", seq>>8&0xff, seq&0xff)}
	n := 0
	do := func(method, path string, body, out any) error {
		n++
		return cl.Do(ctx, method, path, body, out)
	}
	if err := cl.Signup(ctx, fmt.Sprintf("bench-%d-%d@example.com", seq, time.Now().UnixNano())); err != nil {
		return n + 2, err
	}
	n += 2
	for _, p := range append([]string{"/"}, dashboard.Assets...) {
		resp, err := cl.Raw(ctx, http.MethodGet, p, nil)
		n++
		if err != nil {
			return n, err
		}
		resp.Body.Close()
	}
	for _, p := range dashboard.FirstAPICalls {
		if err := do(http.MethodGet, p, nil, nil); err != nil {
			return n, err
		}
	}
	v, err := cl.Upload(ctx, "1080p", 60, 2, 32<<10)
	n += 4
	if err != nil {
		return n, err
	}
	for i := 0; i < 3; i++ {
		if err := do(http.MethodGet, "/api/v1/videos/"+v.ID, nil, nil); err != nil {
			return n, err
		}
	}
	return n, nil
}

// gatewayBuckets returns the cumulative counts of the gateway's request histogram by upper bound.
func gatewayBuckets(b *testing.B, addr string) map[float64]float64 {
	m, err := platformtest.Scrape(addr)
	if err != nil {
		b.Fatal(err)
	}
	out := map[float64]float64{}
	for _, s := range m[metrics.GatewayDuration].GetMetric() {
		for _, bk := range s.GetHistogram().GetBucket() {
			if !math.IsInf(bk.GetUpperBound(), 1) { // the text format lists +Inf as a bucket
				out[bk.GetUpperBound()] += float64(bk.GetCumulativeCount())
			}
		}
		out[math.Inf(1)] += float64(s.GetHistogram().GetSampleCount())
	}
	return out
}

// quantile interpolates within cumulative buckets, as PromQL's histogram_quantile does.
func quantile(cum map[float64]float64, q float64) float64 {
	var les []float64
	for le := range cum {
		les = append(les, le)
	}
	sort.Float64s(les)
	total := cum[math.Inf(1)]
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	prevLE, prevCount := 0.0, 0.0
	for _, le := range les {
		if cum[le] >= rank {
			if math.IsInf(le, 1) {
				return prevLE
			}
			return prevLE + (le-prevLE)*(rank-prevCount)/(cum[le]-prevCount)
		}
		prevLE, prevCount = le, cum[le]
	}
	return prevLE
}

// BenchmarkIdleVideoModelTime measures how closely the reference pipeline keeps to its
// processing-time model on this machine: one 60 s 1080p video on an idle cluster (model speed
// platformtest.Speed), and how much longer than the model its GPU step and its whole pipeline
// took, in percent, by the platform's own timestamps. The overhead is lease polling, HTTP
// calls and timer slack, all of which grow on a busy machine, so it is a figure here (target
// within 5 %) while TestIdleVideoTakesTheModelTime asserts only that no step beats the model.
func BenchmarkIdleVideoModelTime(b *testing.B) {
	c := platformtest.Start(b, nil)
	i := 0
	for b.Loop() {
		i++
		v, gpu, pipeline := idleVideo(b, c, fmt.Sprintf("198.51.100.%d", 100+i%100))
		over := func(got, want time.Duration) float64 { return 100 * (got.Seconds()/want.Seconds() - 1) }
		gpuOver, pipeOver := over(v.GPUDoneAt.Sub(*v.ProcessingStartedAt), gpu), over(v.ReadyAt.Sub(v.AcceptedAt), pipeline)
		b.ReportMetric(gpuOver, "gpu-%over-model")
		b.ReportMetric(pipeOver, "pipeline-%over-model")
		b.Logf("GPU step %v (model %v, +%.2f%%), pipeline %v (model %v, +%.2f%%)",
			v.GPUDoneAt.Sub(*v.ProcessingStartedAt), gpu, gpuOver, v.ReadyAt.Sub(v.AcceptedAt), pipeline, pipeOver)
	}
}
