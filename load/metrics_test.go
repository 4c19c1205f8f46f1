package load_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/load/loadtest"
)

// feed runs one engine whose single iteration records values (µs) in the trend "t".
func feed(t testing.TB, values []int64) *load.Snapshot {
	t.Helper()
	e, err := load.NewEngine([]load.ScenarioConfig{{Name: "s", Executor: load.PerVUIterations{},
		Exec: load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
			for _, v := range values {
				step := "a"
				if v%3 == 0 {
					step = "b"
				}
				vu.Trend("t", step, time.Duration(v)*time.Microsecond)
			}
			return nil
		})}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res.Snapshot
}

func randomSamples(n int, seed uint64) []int64 {
	r := rand.New(rand.NewPCG(seed, seed))
	out := make([]int64, n)
	for i := range out {
		// log-normal around 50 ms, clipped to the HDR range
		v := math.Exp(r.NormFloat64()*1.2 + math.Log(50_000))
		out[i] = min(max(int64(v), 1), 60_000_000)
	}
	return out
}

func TestHDRPercentilesMatchExact(t *testing.T) {
	samples := randomSamples(1_000_000, 42)
	snap := feed(t, samples)
	h, n, _ := snap.Trend("t", nil)
	if n != uint64(len(samples)) {
		t.Fatalf("count %d, want %d", n, len(samples))
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	for _, q := range []float64{1, 10, 50, 75, 90, 95, 99, 99.9, 99.99, 100} {
		rank := int(math.Ceil(q / 100 * float64(len(sorted))))
		exact := sorted[max(rank-1, 0)]
		got := h.ValueAtQuantile(q)
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 0.001 {
			t.Errorf("p(%v) = %d µs, exact %d µs, off by %.4f%%", q, got, exact, 100*rel)
		}
	}
}

func TestMergedSnapshotsEqualOneHistogram(t *testing.T) {
	samples := randomSamples(200_000, 7)
	all := feed(t, samples)
	var merged load.Snapshot
	for part := range 4 {
		snap := feed(t, samples[part*50_000:(part+1)*50_000])
		// through JSON, as distributed generators would send it
		b, err := json.Marshal(snap)
		if err != nil {
			t.Fatal(err)
		}
		var back load.Snapshot
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		merged.Merge(&back)
	}
	for _, f := range []load.Filter{nil, {"step": "a"}, {"step": "b"}} {
		hm, nm, sm := merged.Trend("t", f)
		ha, na, sa := all.Trend("t", f)
		if nm != na || sm != sa || !hm.Equals(ha) {
			t.Fatalf("filter %v: merged count %d sum %d, single %d %d, histograms equal %v", f, nm, sm, na, sa, hm.Equals(ha))
		}
		if merged.TrendStats("t", f) != all.TrendStats("t", f) {
			t.Fatalf("filter %v: stats differ", f)
		}
	}
	if got, want := merged.Scenarios[0].Iterations, uint64(4); got != want {
		t.Fatalf("merged iterations %d, want %d", got, want)
	}
	a := load.Snapshot{Scenarios: []load.ScenarioSnapshot{{Name: "s", Backoffs: 2, BackoffSeconds: 1.5}}}
	a.Merge(&load.Snapshot{Scenarios: []load.ScenarioSnapshot{{Name: "s", Backoffs: 3, BackoffSeconds: 4}}})
	if sc := a.Scenarios[0]; sc.Backoffs != 5 || sc.BackoffSeconds != 5.5 {
		t.Fatalf("merged backoffs %d, %v s; want 5, 5.5 s", sc.Backoffs, sc.BackoffSeconds)
	}
}

func TestMetricsExposition(t *testing.T) {
	tg := loadtest.NewTarget(t)
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer fail.Close()
	e, err := load.NewEngine([]load.ScenarioConfig{{Name: "web", Executor: load.SharedIterations{VUs: 2, Iterations: 20},
		Exec: load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
			if _, err := vu.HTTP().Get(ctx, "home", tg.URL); err != nil {
				return err
			}
			_, err := vu.HTTP().Get(ctx, "broken", fail.URL)
			return err
		})}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Collector())
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, rec.Body.String())
	}
	for _, name := range []string{load.PromRequestDuration, load.PromRequests, load.PromRequestErrors, load.PromVUs, load.PromVUsMax,
		load.PromIterations, load.PromIterationsDropped, load.PromIterationsInterrupt} {
		if fams[name] == nil {
			t.Errorf("missing %s", name)
		}
	}
	hist := fams[load.PromRequestDuration]
	if hist.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("%s is %v", load.PromRequestDuration, hist.GetType())
	}
	var total uint64
	for _, m := range hist.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for _, k := range []string{"scenario", "step", "method", "status"} {
			if labels[k] == "" {
				t.Errorf("series %v lacks label %s", labels, k)
			}
		}
		has := false
		for _, b := range m.Histogram.Bucket {
			has = has || b.GetUpperBound() == 0.1
		}
		if !has {
			t.Errorf("no le=0.1 bucket")
		}
		total += m.Histogram.GetSampleCount()
	}
	if total != 40 {
		t.Fatalf("histogram counts %d requests, want 40", total)
	}
	errs := fams[load.PromRequestErrors]
	if len(errs.Metric) != 1 || errs.Metric[0].Counter.GetValue() != 20 || !strings.Contains(errs.Metric[0].String(), "5xx") {
		t.Fatalf("errors: %v", errs)
	}
}

func TestPromBucketsAreDenseAroundTheSLO(t *testing.T) {
	i := slices.Index(load.PromBuckets, 0.1)
	if i < 3 || i > len(load.PromBuckets)-3 {
		t.Fatalf("0.1 missing or at the edge: %v", load.PromBuckets)
	}
	if load.PromBuckets[i-1] < 0.09 || load.PromBuckets[i+1] > 0.11 {
		t.Fatalf("buckets next to 0.1 are %v and %v", load.PromBuckets[i-1], load.PromBuckets[i+1])
	}
}
