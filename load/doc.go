// Package load is ddp-verify's load engine: k6's executors and semantics, in Go, with metrics
// that stay honest under load.
//
// # Scenarios and executors
//
// A run is a set of [ScenarioConfig] values run side by side by an [Engine]. Each names an
// executor with k6's parameters and defaults ([ConstantVUs], [RampingVUs], [PerVUIterations],
// [SharedIterations], [ConstantArrivalRate], [RampingArrivalRate]), a StartTime, a
// GracefulStop, and the [Scenario] its VUs run once per iteration:
//
//	type Scenario interface{ Run(ctx context.Context, vu *VU) error }
//
// ramping-vus changes its VU count exactly when the linear stage line crosses an integer
// ([RampingVUSteps]), stops the newest VUs first, and interrupts those still busy after
// gracefulRampDown. Arrival-rate executors start iterations on an absolute [Schedule]
// (constant: k·timeUnit/rate; ramping: when the area under the rate curve reaches n+1;
// optionally Poisson); a start that finds no idle VU is dropped and counted, and one extra VU
// is initialised at a time up to maxVUs. Interrupted iterations are counted apart from
// completed ones. Schedules are pure functions and the engine takes a clock
// (k8s.io/utils/clock), so tests run it on a fake clock and compare exactly.
//
// # Metrics
//
// A [VU] records into its own buffer; the engine's store takes whole batches, so no lock is
// taken per sample. Every series (metric plus scenario, step, method, status) keeps an HDR
// histogram (1 µs to 60 s, 3 significant digits) with exact count and sum, so memory does not
// grow with the run. Arrival-rate iterations also record iteration_response_time (from the
// intended start: no coordinated omission) and iteration_lateness. The engine keeps
// per-stage statistics and per-second [TimeBucket] values (requests, errors, p50/p95/p99,
// VUs). A [Snapshot] serialises to JSON and merges exactly.
//
// # HTTP
//
// [VU.HTTP] returns the VU's [Client]: for plain http:// the VU's own lean HTTP/1.1 transport
// from package [github.com/dailydoco/ddp-verify/http1], with its own keep-alive connection
// (behaving as net/http does, at a fraction of its CPU), otherwise net/http's keep-alive
// transport shared by all VUs (optionally one per local source address);
// the VU's own cookie jar, a timeout, phase timings (connect, TLS, sending, waiting, receiving)
// and error classes (timeout, connect, reset, tls, 4xx, 5xx). Each request is tagged with the
// scenario and the step the caller names.
//
// # Thresholds and exposition
//
// [ParseThreshold] and [ParseThresholdSpec] accept k6's threshold syntax with tag-filtered
// sub-metrics, abortOnFail and delayAbortEval, plus windowed expressions ("p(95)<100 over
// 1m"). [Engine.Collector] exposes the ddp_client_* metrics for Prometheus.
//
// # Running
//
//	eng, err := load.NewEngine(scenarios, load.WithThresholds(ths...), load.WithTimeScale(0.25))
//	res, err := eng.Run(ctx)     // blocks; eng.Live() and eng.Snapshot() work meanwhile
//	load.Summarize(res).WriteText(os.Stdout)
//
// Limitations: HTTP/1.1 (http1 or net/http) and HTTP/2 (net/http) only; the per-second percentiles of a
// second that received samples more than a few seconds late lack those samples (their counts
// are still right); thresholds on trends compare milliseconds (seconds for names ending in
// _seconds).
package load
