package jsmodule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/extensions/dailydoco"
	"github.com/dailydoco/ddp-verify/extensions/dailydoco/jsmodule"
	"github.com/dailydoco/ddp-verify/k6script"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/scenarios"
)

// The test binary re-executes itself as the reference platform's processes.
func TestMain(m *testing.M) { platformtest.Main(m) }

// launchScript is the built-in launch journeys as a k6 script.
const launchScript = "../../../examples/k6/launch.js"

// fastConfig uploads 50x faster than live and polls often (as the scenarios package's
// platform tests do), so that journeys take seconds on the test platform.
func fastConfig(url string, addrOffset int64) dailydoco.Config {
	poll := dailydoco.Backoff{Initial: 100 * time.Millisecond, Max: 500 * time.Millisecond, Factor: 1.5, Deadline: time.Minute}
	return dailydoco.Config{BaseURL: url, UploadSpeed: 50, Poll: poll, ExportPoll: poll, AddrOffset: addrOffset}
}

// polls are the steps whose count depends on how long the platform takes.
func isPoll(step string) bool {
	return strings.HasSuffix(step, ".video_poll") || strings.HasSuffix(step, ".export_status")
}

// The example script and the Go journeys offer the same requests: with the same seed, VUs,
// iterations and weights, each step is requested as often by both (the script draws journeys,
// media and credentials from the same per-VU random source in the same order), polls aside,
// whose count depends on the platform's timing; and the script's journeys record the same
// journey-level timings.
func TestLaunchScriptOffersTheGoJourneysRequests(t *testing.T) {
	c := platformtest.Start(t, nil)
	weights := map[string]float64{"registration": 10, "browse": 50, "capture": 20, "pipeline": 10, "export": 10}
	const vus, iterations = 3, 6
	think := 20 * time.Millisecond

	goSteps, goTrends := runGo(t, c.GatewayURL(), weights, vus, iterations, think)
	jsSteps, jsTrends := runScript(t, c.GatewayURL(), weights, vus, iterations, think)

	var goTotal, jsTotal uint64
	for step, n := range goSteps {
		goTotal += n
		if !isPoll(step) && jsSteps[step] != n {
			t.Errorf("step %s: the script sent %d requests, the Go journeys %d", step, jsSteps[step], n)
		}
	}
	for step, n := range jsSteps {
		jsTotal += n
		if _, ok := goSteps[step]; !ok {
			t.Errorf("step %s: the script sent %d requests, the Go journeys none", step, n)
		}
	}
	t.Logf("requests: Go journeys %d, script %d (polls included); steps: %d", goTotal, jsTotal, len(goSteps))
	if diff := math.Abs(float64(jsTotal)-float64(goTotal)) / float64(goTotal); diff > 0.05 {
		t.Errorf("the script sent %d requests, the Go journeys %d: %.1f%% apart, want within 5%%", jsTotal, goTotal, 100*diff)
	}
	for name, n := range goTrends {
		if jsTrends[name] != n {
			t.Errorf("trend %s: %d samples from the script, %d from the Go journeys", name, jsTrends[name], n)
		}
	}
	if len(goTrends) < 4 {
		t.Errorf("journey-level trends %v: want journey_duration, dashboard_load, finish_to_ready and export_ready", goTrends)
	}
}

func runGo(t *testing.T, url string, weights map[string]float64, vus, iterations int, think time.Duration) (steps, trends map[string]uint64) {
	cfg := fastConfig(url, 0)
	mix, err := scenarios.NewMix(weights, scenarios.Think{Distribution: "constant", Mean: think}, scenarios.Target{
		BaseURL: url, UploadSpeed: cfg.UploadSpeed, Poll: cfg.Poll, ExportPoll: cfg.ExportPoll, RunID: "go"})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := load.NewEngine([]load.ScenarioConfig{{Name: "users", Exec: mix,
		Executor: load.PerVUIterations{VUs: int64(vus), Iterations: int64(iterations), MaxDuration: 5 * time.Minute}}}, load.WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return counts(t, "Go journeys", res)
}

func runScript(t *testing.T, url string, weights map[string]float64, vus, iterations int, think time.Duration) (steps, trends map[string]uint64) {
	w, _ := json.Marshal(weights)
	env := map[string]string{"BASE_URL": url, "JOURNEYS": string(w), "THINK": fmt.Sprint(think.Seconds()),
		"VUS": fmt.Sprint(vus), "ITERATIONS": fmt.Sprint(iterations)}
	// Other client addresses than the Go run's: the gateway limits videos per address.
	s, err := k6script.Load(launchScript, env, k6script.WithExtension(jsmodule.Extension(fastConfig(url, 1000))))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), k6script.Overrides{}, load.WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	return counts(t, "script", res)
}

// counts are a run's requests per step and samples per journey-level trend; every request,
// check and iteration must have succeeded.
func counts(t *testing.T, who string, res *load.Result) (steps, trends map[string]uint64) {
	t.Helper()
	snap := res.Snapshot
	if f := snap.Counter(load.MetricIterFailed, nil); f != 0 {
		t.Errorf("%s: %v failed iterations", who, f)
	}
	if n, bad := snap.Rate(load.MetricChecks, nil); n == 0 || bad != 0 {
		t.Errorf("%s: %d checks, %d failed", who, n, bad)
	}
	steps, trends = map[string]uint64{}, map[string]uint64{}
	for _, se := range snap.Series {
		switch se.Metric {
		case load.MetricReqDuration:
			steps[se.Tags["step"]] += se.Count
			if se.Failed != 0 {
				t.Errorf("%s: step %s: %d failed requests", who, se.Tags["step"], se.Failed)
			}
		case jsmodule.TrendJourneyDuration, dailydoco.TrendDashboardLoad, dailydoco.TrendFinishToReady, dailydoco.TrendExportReady:
			trends[se.Metric] += se.Count
		}
	}
	return steps, trends
}

// What a script gets wrong fails loudly: an export the module does not have (at load), a
// client made in the init code, an unknown client option; an answer the step did not expect
// throws with its HTTP status, which the script can read.
func TestModuleErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"code":"unauthorized","message":"no token"}}`, http.StatusUnauthorized)
	}))
	defer srv.Close()
	ext := k6script.WithExtension(jsmodule.Extension(dailydoco.Config{BaseURL: srv.URL}))
	write := func(src string) string {
		p := filepath.Join(t.TempDir(), "s.js")
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for src, want := range map[string]string{
		`import { client, upload } from "k6/x/dailydoco"; export default function () {}`:                                                                                       "k6/x/dailydoco.upload is not supported",
		`import dd from "k6/x/dailydoco"; const c = dd.client("x"); export default function () {}`:                                                                             "k6/x/dailydoco.client: only in a VU's iteration",
		`import dd from "k6/x/dailydoco"; export default function () { dd.upload(); }`:                                                                                         "k6/x/dailydoco.upload is not supported",
		`import dd from "k6/x/dailydoco"; export default function () { dd.client("x", { token: "t" }); }`:                                                                      `option "token" is not supported`,
		`import dd from "k6/x/dailydoco"; export default function () { dd.draw({ a: 0 }); }`:                                                                                   "want at least one positive weight",
		`import dd from "k6/x/dailydoco"; export default function () { try { dd.client("j").me(); } catch (e) { throw new Error("status " + e.status + ": " + e.message); } }`: "status 401: k6/x/dailydoco: j.me: status 401 (unauthorized): no token",
	} {
		s, err := k6script.Load(write(src), nil, ext)
		if err == nil {
			err = iterationError(t, s)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("script %s:\nerror %v\nwant one containing %q", src, err, want)
		}
	}
}

// iterationError runs the script's one iteration and returns its error.
func iterationError(t *testing.T, s *k6script.Script) error {
	scs, err := s.Scenarios(k6script.Overrides{})
	if err != nil {
		return err
	}
	var iterErr error
	inner := scs[0].Exec
	scs[0].Exec = load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
		iterErr = inner.Run(ctx, vu)
		return iterErr
	})
	eng, err := load.NewEngine(scs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return iterErr
}
