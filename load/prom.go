package load

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metric names of the load generator (DESIGN 4.3).
const (
	PromRequestDuration     = "ddp_client_request_duration_seconds"
	PromRequests            = "ddp_client_requests_total"
	PromRequestErrors       = "ddp_client_request_errors_total"
	PromVUs                 = "ddp_vus"
	PromVUsMax              = "ddp_vus_max"
	PromIterations          = "ddp_iterations_total"
	PromIterationsDropped   = "ddp_iterations_dropped_total"
	PromIterationsInterrupt = "ddp_iterations_interrupted_total"
	PromBackoffs            = "ddp_vu_backoffs_total"
	PromBackoffSeconds      = "ddp_vu_backoff_seconds_total"
)

var (
	descDuration = prometheus.NewDesc(PromRequestDuration, "Duration of the generator's HTTP requests (sending+waiting+receiving).",
		[]string{"scenario", "step", "method", "status"}, nil)
	descRequests = prometheus.NewDesc(PromRequests, "HTTP requests sent by the generator.",
		[]string{"scenario", "step", "method", "status"}, nil)
	descErrors = prometheus.NewDesc(PromRequestErrors, "Failed HTTP requests by reason (timeout, connect, reset, tls, 4xx, 5xx, other).",
		[]string{"scenario", "step", "reason"}, nil)
	descVUs         = prometheus.NewDesc(PromVUs, "VUs running an iteration or looping now.", nil, nil)
	descVUsMax      = prometheus.NewDesc(PromVUsMax, "VUs initialised.", nil, nil)
	descIterations  = prometheus.NewDesc(PromIterations, "Completed iterations.", []string{"scenario"}, nil)
	descDropped     = prometheus.NewDesc(PromIterationsDropped, "Arrival-rate iterations dropped for want of an idle VU.", []string{"scenario"}, nil)
	descInterrupted = prometheus.NewDesc(PromIterationsInterrupt, "Iterations interrupted by gracefulStop, gracefulRampDown or an abort.", []string{"scenario"}, nil)
	descBackoffs    = prometheus.NewDesc(PromBackoffs, "Waits of VUs before their next iteration after failed ones (the scenario's failure backoff).", []string{"scenario"}, nil)
	descBackoffSecs = prometheus.NewDesc(PromBackoffSeconds, "Seconds VUs waited after failed iterations (the scenario's failure backoff).", []string{"scenario"}, nil)
)

// collector exposes the engine's metrics; it reads the store at scrape time.
type collector struct{ e *Engine }

// Collector returns a prometheus.Collector with the generator's metrics (DESIGN 4.3 names).
// Register it on a registry and serve that with promhttp so that Prometheus can scrape the
// generator:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(eng.Collector())
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
func (e *Engine) Collector() prometheus.Collector { return collector{e} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDuration, descRequests, descErrors, descVUs, descVUsMax, descIterations, descDropped, descInterrupted, descBackoffs, descBackoffSecs} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	e := c.e
	ch <- prometheus.MustNewConstMetric(descVUs, prometheus.GaugeValue, float64(e.vus.Load()))
	ch <- prometheus.MustNewConstMetric(descVUsMax, prometheus.GaugeValue, float64(e.vusMax.Load()))
	st := e.store
	st.mu.Lock()
	defer st.mu.Unlock()
	type errKey struct{ scenario, step, reason string }
	errs := map[errKey]uint64{}
	// Series that differ only in a scenario's own tags (k6's) are one series here: these
	// metrics carry the engine's labels only.
	type reqKey struct{ scenario, step, method, status string }
	type reqSum struct {
		count   uint64
		sum     int64
		buckets []uint64
	}
	reqs := map[reqKey]*reqSum{}
	var order []reqKey
	for _, se := range st.series {
		if se.key.Metric != MetricReqDuration {
			continue
		}
		k := reqKey{se.key.Scenario, se.key.Step, se.key.Method, se.key.Status}
		r := reqs[k]
		if r == nil {
			r = &reqSum{buckets: make([]uint64, len(PromBuckets))}
			reqs[k] = r
			order = append(order, k)
		}
		r.count += se.count
		r.sum += se.sum
		for i := range r.buckets {
			r.buckets[i] += se.buckets[i]
		}
		for reason, n := range se.reasons {
			errs[errKey{k.scenario, k.step, reason}] += n
		}
	}
	for _, k := range order {
		r := reqs[k]
		buckets := make(map[float64]uint64, len(PromBuckets))
		for i, le := range PromBuckets {
			buckets[le] = r.buckets[i]
		}
		ch <- prometheus.MustNewConstHistogram(descDuration, r.count, float64(r.sum)/1e9, buckets, k.scenario, k.step, k.method, k.status)
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(r.count), k.scenario, k.step, k.method, k.status)
	}
	for k, n := range errs {
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(n), k.scenario, k.step, k.reason)
	}
	for _, name := range st.order {
		sc := st.scens[name]
		ch <- prometheus.MustNewConstMetric(descIterations, prometheus.CounterValue, float64(sc.iterations), name)
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(sc.dropped), name)
		ch <- prometheus.MustNewConstMetric(descInterrupted, prometheus.CounterValue, float64(sc.interrupted), name)
		ch <- prometheus.MustNewConstMetric(descBackoffs, prometheus.CounterValue, float64(sc.backoffs), name)
		ch <- prometheus.MustNewConstMetric(descBackoffSecs, prometheus.CounterValue, sc.backoffWait.Seconds(), name)
	}
}
