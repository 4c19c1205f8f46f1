package k6script

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/load"
)

// journeyServer is the service journey.js calls; it remembers what it saw.
type journeyServer struct {
	*httptest.Server
	mu        sync.Mutex
	setups    int
	homes     []string // "vu/iter token env greeting"
	teardowns []string
}

func newJourneyServer(t *testing.T) *journeyServer {
	s := &journeyServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /setup", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		s.setups++
		s.mu.Unlock()
		_, _ = io.WriteString(w, `{"token":"tok-42"}`)
	})
	mux.HandleFunc("GET /home", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s.mu.Lock()
		s.homes = append(s.homes, fmt.Sprintf("%s/%s %s %s %s", q.Get("vu"), q.Get("iter"),
			r.Header.Get("X-Token"), r.Header.Get("X-Env"), r.Header.Get("X-Greeting")))
		s.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /teardown", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.teardowns = append(s.teardowns, string(b))
		s.mu.Unlock()
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func testLogger(t *testing.T) load.Option {
	return load.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil)))
}

func mustLoad(t *testing.T, path string, env map[string]string) *Script {
	t.Helper()
	s, err := Load(path, env)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return s
}

func TestJourneyChecksSetupTeardownEnv(t *testing.T) {
	srv := newJourneyServer(t)
	s := mustLoad(t, "testdata/journey.js", map[string]string{
		"BASE_URL": srv.URL, "TEAM": "payments", "CHECKS_THRESHOLD": "rate>0.4"})
	res, err := s.Run(context.Background(), Overrides{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	snap := res.Snapshot

	// 2 VUs x 3 iterations x 2 checks, the second always failing.
	for name, want := range map[string][2]uint64{"status is 200": {6, 0}, "body is nope": {6, 6}} {
		total, failed := snap.Rate(load.MetricChecks, load.Filter{"step": name})
		if total != want[0] || failed != want[1] {
			t.Errorf("check %q: %d total, %d failed; want %d, %d", name, total, failed, want[0], want[1])
		}
	}
	if n, failed := snap.Rate(load.MetricReqDuration, load.Filter{"step": "home"}); n != 6 || failed != 0 {
		t.Errorf("requests tagged home: %d (%d failed), want 6 (0)", n, failed)
	}
	if n, _ := snap.Requests(); n != 6 {
		t.Errorf("engine counted %d requests, want 6 (setup and teardown are not counted)", n)
	}
	if _, n, _ := snap.Trend("group_duration", load.Filter{"step": "think"}); n != 6 {
		t.Errorf("group_duration{step:think} has %d samples, want 6", n)
	}
	if it := snap.Scenarios[0].Iterations; it != 6 || snap.Scenarios[0].Failed != 0 {
		t.Errorf("iterations %d (failed %d), want 6 (0)", it, snap.Scenarios[0].Failed)
	}
	if !res.ThresholdsPassed() || len(res.Thresholds) != 3 {
		t.Errorf("thresholds: %+v, want 3 passing", res.Thresholds)
	}

	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.setups != 1 {
		t.Errorf("setup ran %d times, want 1", srv.setups)
	}
	want := []string{}
	for vu := 1; vu <= 2; vu++ {
		for it := range 3 {
			want = append(want, fmt.Sprintf("%d/%d tok-42 payments hello from a file", vu, it))
		}
	}
	got := slices.Sorted(slices.Values(srv.homes))
	if !slices.Equal(got, want) {
		t.Errorf("server saw\n%q\nwant\n%q", got, want)
	}
	if len(srv.teardowns) != 1 || srv.teardowns[0] != `{"token":"tok-42","vus":[]}` {
		t.Errorf("teardown bodies %q, want one with the setup data", srv.teardowns)
	}
}

func TestThresholdFromOptionsFails(t *testing.T) {
	srv := newJourneyServer(t)
	s := mustLoad(t, "testdata/journey.js", map[string]string{"BASE_URL": srv.URL, "CHECKS_THRESHOLD": "rate>0.6"})
	res, err := s.Run(context.Background(), Overrides{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.ThresholdsPassed() {
		t.Fatalf("thresholds passed, want checks rate>0.6 to fail (rate is 0.5): %+v", res.Thresholds)
	}
	for _, th := range res.Thresholds {
		if wantPass := th.Metric != "checks"; th.Pass != wantPass {
			t.Errorf("threshold %s: pass=%v value=%v, want pass=%v", th.Source, th.Pass, th.Value, wantPass)
		}
		if th.Metric == "checks" && th.Value != 0.5 {
			t.Errorf("checks rate %v, want 0.5", th.Value)
		}
	}
}

// echo answers with the request's method, body and content type as JSON.
func echoServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("x-echo", "yes")
		_ = json.NewEncoder(w).Encode(map[string]string{"method": r.Method, "body": string(b),
			"contentType": r.Header.Get("Content-Type")})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// closedURL is a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u + "/down"
}

func TestHTTPModule(t *testing.T) {
	srv := echoServer(t)
	s := mustLoad(t, "testdata/requests.js", map[string]string{"BASE_URL": srv.URL, "DOWN_URL": closedURL(t)})
	res, err := s.Run(context.Background(), Overrides{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	checks := []string{"get status", "get method", "get header canonical", "get timings", "get url",
		"form body", "form type", "put body", "patch", "del", "head", "options", "request", "404 code",
		"down status 0", "down error", "json selector"}
	for _, name := range checks {
		total, failed := res.Snapshot.Rate(load.MetricChecks, load.Filter{"step": name})
		if total != 1 || failed != 0 {
			t.Errorf("check %q: %d total, %d failed; want 1 passing", name, total, failed)
		}
	}
	if n, _ := res.Snapshot.Rate(load.MetricReqDuration, load.Filter{"step": "echo-get"}); n != 1 {
		t.Errorf("requests tagged echo-get: %d, want 1", n)
	}
	if n, _ := res.Snapshot.Rate(load.MetricReqDuration, load.Filter{"step": "/echo"}); n != 7 {
		t.Errorf("requests with step /echo (the URL path): %d, want 7", n)
	}
	if sc := res.Snapshot.Scenarios[0]; sc.Iterations != 1 || sc.Failed != 0 {
		t.Errorf("iterations %d, failed %d; want 1, 0", sc.Iterations, sc.Failed)
	}
}

// runCollecting runs the script's scenarios with their iteration errors collected.
func runCollecting(t *testing.T, s *Script) (*load.Result, []string) {
	t.Helper()
	scs, err := s.Scenarios(Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var errs []string
	for i := range scs {
		inner := scs[i].Exec
		scs[i].Exec = load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
			err := inner.Run(ctx, vu)
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
			return err
		})
	}
	eng, err := load.NewEngine(scs, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := eng.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res, errs
}

func TestFailingIterations(t *testing.T) {
	s := mustLoad(t, "testdata/failing.js", map[string]string{"BASE_URL": "http://127.0.0.1:1"})
	res, errs := runCollecting(t, s)
	if sc := res.Snapshot.Scenarios[0]; sc.Iterations != 7 || sc.Failed != 7 {
		t.Errorf("iterations %d, failed %d; want 7, 7", sc.Iterations, sc.Failed)
	}
	want := []string{"k6/http.file is not supported", "k6.randomSeed is not supported",
		"boom in iteration 2", "failed on purpose", "open() is only available in the init context",
		"k6.check: the tag status is the engine's own", "k6/http.get: params.auth is not supported"}
	if len(errs) != len(want) {
		t.Fatalf("errors %q, want %d", errs, len(want))
	}
	for i, w := range want {
		if !strings.Contains(errs[i], w) || !strings.Contains(errs[i], "testdata/failing.js") {
			t.Errorf("iteration %d error %q, want it to name testdata/failing.js and contain %q", i, errs[i], w)
		}
	}
	// The stack points at the script's own line (through esbuild's source map).
	if !strings.Contains(errs[2], "(testdata/failing.js:16:") {
		t.Errorf("error %q does not point at failing.js:17", errs[2])
	}
}

func TestInterruptedByGracefulStop(t *testing.T) {
	s := mustLoad(t, "testdata/busy.js", nil)
	res, errs := runCollecting(t, s)
	sc := res.Snapshot.Scenarios[0]
	if sc.Interrupted != 1 || sc.Iterations != 0 {
		t.Errorf("interrupted %d, completed %d; want 1, 0", sc.Interrupted, sc.Iterations)
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "context canceled") {
		t.Errorf("errors %q, want one context canceled", errs)
	}
}

func TestSetupRequiredBeforeLoad(t *testing.T) {
	srv := newJourneyServer(t)
	s := mustLoad(t, "testdata/journey.js", map[string]string{"BASE_URL": srv.URL, "CHECKS_THRESHOLD": "rate>0"})
	scs, err := s.Scenarios(Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := load.NewEngine(scs, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sc := res.Snapshot.Scenarios[0]; sc.Failed != 6 {
		t.Errorf("failed iterations %d, want 6 (setup was not run)", sc.Failed)
	}
	if n, _ := res.Snapshot.Requests(); n != 0 {
		t.Errorf("%d requests sent without setup data, want 0", n)
	}
}

func TestExecutorsFromScenarios(t *testing.T) {
	s := mustLoad(t, "testdata/executors.js", nil)
	scs, err := s.Scenarios(Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		name     string
		ex       load.Executor
		start    time.Duration
		grace    time.Duration
		execName string
	}
	wants := []want{
		{"a_constant", load.ConstantVUs{VUs: 3, Duration: 90 * time.Second}, 10 * time.Second, 5 * time.Second, "browse"},
		{"b_ramping", load.RampingVUs{StartVUs: 1, GracefulRampDown: load.NoGrace,
			Stages: []load.Stage{{Duration: 30 * time.Second, Target: 5}, {Duration: 1500 * time.Millisecond, Target: 0}}}, 0, 0, "default"},
		{"c_per_vu", load.PerVUIterations{VUs: 2, Iterations: 4, MaxDuration: 2 * time.Minute}, 0, 0, "default"},
		{"d_shared", load.SharedIterations{VUs: 3, Iterations: 9, MaxDuration: 45 * time.Second}, 0, load.NoGrace, "default"},
		{"e_constant_rate", load.ConstantArrivalRate{Rate: 20, TimeUnit: time.Minute, Duration: time.Hour,
			PreAllocatedVUs: 4, MaxVUs: 8}, 0, 0, "browse"},
		{"f_ramping_rate", load.RampingArrivalRate{StartRate: 2, TimeUnit: 2 * time.Second, PreAllocatedVUs: 1, MaxVUs: 3,
			Stages: []load.Stage{{Duration: 10 * time.Second, Target: 10}}}, 0, 0, "default"},
	}
	if len(scs) != len(wants) {
		t.Fatalf("%d scenarios, want %d", len(scs), len(wants))
	}
	for i, w := range wants {
		sc := scs[i]
		if sc.Name != w.name || fmt.Sprintf("%#v", sc.Executor) != fmt.Sprintf("%#v", w.ex) ||
			sc.StartTime != w.start || sc.GracefulStop != w.grace {
			t.Errorf("scenario %d:\n got %s %#v start=%v grace=%v\nwant %s %#v start=%v grace=%v",
				i, sc.Name, sc.Executor, sc.StartTime, sc.GracefulStop, w.name, w.ex, w.start, w.grace)
		}
		if ex, ok := sc.Exec.(scenarioExec); !ok || ex.fn != w.execName {
			t.Errorf("scenario %s runs %#v, want exec %q", w.name, sc.Exec, w.execName)
		}
	}
}

// writeScript writes a script with the given options and a default function.
func writeScript(t *testing.T, options string) string {
	p := filepath.Join(t.TempDir(), "script.js")
	src := "export const options = " + options + ";\n\nexport default function () {}\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestShortcutsAndOverrides(t *testing.T) {
	ramp := `[{ duration: "10s", target: 4 }, { duration: "5s", target: 0 }]`
	rampStages := []load.Stage{{Duration: 10 * time.Second, Target: 4}, {Duration: 5 * time.Second, Target: 0}}
	for _, tc := range []struct {
		name, options string
		ov            Overrides
		want          load.Executor
	}{
		{"nothing", `{}`, Overrides{}, load.SharedIterations{VUs: 1, Iterations: 1}},
		{"vus only", `{ vus: 5 }`, Overrides{}, load.SharedIterations{VUs: 5, Iterations: 1}},
		{"vus duration", `{ vus: 3, duration: "30s" }`, Overrides{}, load.ConstantVUs{VUs: 3, Duration: 30 * time.Second}},
		{"duration in ms", `{ duration: 1500 }`, Overrides{}, load.ConstantVUs{VUs: 1, Duration: 1500 * time.Millisecond}},
		{"stages", `{ stages: ` + ramp + ` }`, Overrides{}, load.RampingVUs{StartVUs: 1, Stages: rampStages}},
		{"vus stages", `{ vus: 2, stages: ` + ramp + ` }`, Overrides{}, load.RampingVUs{StartVUs: 2, Stages: rampStages}},
		{"iterations", `{ vus: 2, iterations: 5 }`, Overrides{}, load.SharedIterations{VUs: 2, Iterations: 5}},
		{"iterations duration", `{ vus: 2, iterations: 5, duration: "1m" }`, Overrides{},
			load.SharedIterations{VUs: 2, Iterations: 5, MaxDuration: time.Minute}},
		{"override duration", `{ vus: 2, duration: "1m" }`, Overrides{Duration: 10 * time.Second},
			load.ConstantVUs{VUs: 2, Duration: 10 * time.Second}},
		{"override vus", `{ vus: 2, duration: "1m" }`, Overrides{VUs: 7}, load.ConstantVUs{VUs: 7, Duration: time.Minute}},
		{"override stages", `{ vus: 2, duration: "1m" }`, Overrides{Stages: rampStages},
			load.RampingVUs{StartVUs: 2, Stages: rampStages}},
		{"override replaces scenarios", `{ scenarios: { s: { executor: "constant-vus", duration: "1s" } } }`,
			Overrides{VUs: 2, Iterations: 3}, load.SharedIterations{VUs: 2, Iterations: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustLoad(t, writeScript(t, tc.options), nil)
			scs, err := s.Scenarios(tc.ov)
			if err != nil {
				t.Fatal(err)
			}
			if len(scs) != 1 || scs[0].Name != "default" || fmt.Sprintf("%#v", scs[0].Executor) != fmt.Sprintf("%#v", tc.want) {
				t.Fatalf("got %+v, want one scenario \"default\" with %#v", scs, tc.want)
			}
		})
	}
}

func TestOverrideErrors(t *testing.T) {
	s := mustLoad(t, "testdata/executors.js", nil)
	_, err := s.Scenarios(Overrides{VUs: 3})
	if err == nil || !strings.Contains(err.Error(), "cannot change scenarios") {
		t.Errorf("VUs override of scenarios: %v", err)
	}
}

func TestThresholdsParsed(t *testing.T) {
	p := writeScript(t, `{ thresholds: {
		"http_req_duration{step:login}": ["p(95)<300", { threshold: "max<900", abortOnFail: true, delayAbortEval: "10s" }],
		checks: ["rate>0.99"],
		"checks{check:status is 200}": ["rate==1"],
		"http_reqs{name:home,status:200}": ["count>0"],
		"group_duration{group:::checkout}": ["p(90)<1000"],
	} }`)
	ths, err := mustLoad(t, p, nil).Thresholds()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(ths))
	for i, th := range ths {
		got[i] = fmt.Sprintf("%s %s %v %s %v abort=%v delay=%v", th.Metric, th.Agg, th.Filter, th.Op, th.Value, th.AbortOnFail, th.DelayAbortEval)
	}
	want := []string{
		"checks rate map[] > 0.99 abort=false delay=0s",
		"checks rate map[step:status is 200] == 1 abort=false delay=0s",
		"group_duration p map[step:checkout] < 1000 abort=false delay=0s",
		"http_req_duration p map[step:login] < 300 abort=false delay=0s",
		"http_req_duration max map[step:login] < 900 abort=true delay=10s",
		"http_reqs count map[status:200 step:home] > 0 abort=false delay=0s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("thresholds\n%q\nwant\n%q", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"unsupported_module.js", []string{"testdata/unsupported_module.js:2:", `module "k6/ws" is not supported (docs/scripts.md lists what is)`}},
		{"unsupported_import.js", []string{"testdata/unsupported_import.js:1:", "k6/http.file is not supported"}},
		{"unsupported_require.js", []string{"testdata/unsupported_require.js", `module "k6/crypto" is not supported`}},
		{"unknown_option.js", []string{"testdata/unknown_option.js", `option "summaryTrendStats" is not supported`}},
		{"unknown_field.js", []string{"testdata/unknown_field.js", `field "rate" is not supported by executor constant-vus`}},
		{"bad_duration.js", []string{"testdata/bad_duration.js", `options.duration: "ten seconds" is not a duration`}},
		{"no_default.js", []string{"testdata/no_default.js", "no default function is exported"}},
		{"syntax_error.js", []string{"testdata/syntax_error.js:4:13: Unexpected \";\""}},
		{"init_http.js", []string{"testdata/init_http.js", "k6/http.get is not supported in the init context"}},
		{"missing.js", []string{"testdata/missing.js", "no such file"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			// Load, or the scenarios the script's own options make (the exec functions).
			s, err := Load(filepath.Join("testdata", tc.file), nil)
			if err == nil {
				_, err = s.Scenarios(Overrides{})
			}
			if err == nil {
				t.Fatal("Load and Scenarios succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestAsyncAndResponseFields(t *testing.T) {
	s := mustLoad(t, "testdata/failing.js", map[string]string{"BASE_URL": closedURL(t)})
	r, err := s.newRuntime(1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newPlainHost(slog.New(slog.NewTextHandler(t.Output(), nil)), settings{})
	for fn, want := range map[string]string{
		"asyncOK":       "",
		"asyncRejects":  "async boom",
		"asyncPending":  "promise is still pending",
		"responseField": "k6/http response.remote_ip is not supported",
	} {
		_, err := r.call(context.Background(), h, fn)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", fn, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %v, want one containing %q", fn, err, want)
		}
	}
}

func TestThresholdErrors(t *testing.T) {
	for options, want := range map[string]string{
		`{ thresholds: { http_req_duration: ["p(95)<<300"] } }`:                                     `options.thresholds["http_req_duration"][0]`,
		`{ thresholds: { checks: [{ threshold: "rate>0.9", abortOnFail: "yes" }] } }`:               "abortOnFail: want true or false",
		`{ thresholds: { checks: [{ threshold: "rate>0.9", gracePeriod: "1s" }] } }`:                "threshold.gracePeriod: is not supported",
		`{ thresholds: { checks: "rate>0.9" } }`:                                                    "want a list of expressions",
		`{ thresholds: { "http_req_duration{url:x}": ["p(95)<1"] } }`:                               `tag "url" is not recorded for http_req_duration`,
		`{ thresholds: { "group_duration{group:::a::b}": ["p(95)<1"] } }`:                           "group_duration{group:::NAME} names a top-level group",
		`{ thresholds: { "http_reqs{expected_response:true}": ["count>1"] } }`:                      `tag "expected_response" is not recorded for http_reqs`,
		`{ thresholds: { "checks{name:a,step:b}": ["rate>0"] } }`:                                   `tag "name" is not recorded for checks`,
		`{ thresholds: { "checks{check:a,step:b}": ["rate>0"] } }`:                                  "tags check and step both name the step",
		`{ scenarios: { s: { executor: "externally-controlled", vus: 1 } } }`:                       `executor "externally-controlled" is not supported`,
		`{ scenarios: { s: { executor: "constant-vus", duration: "1s", options: {} } } }`:           `field "options" is not supported`,
		`{ scenarios: { s: { executor: "constant-vus", duration: "1s", tags: { method: "x" } } } }`: `tags.method: is the engine's own tag`,
		`{ tags: { env: 1 } }`: `options.tags.env: want a string, got 1`,
		`{ duration: "1m", stages: [{ duration: "1s", target: 1 }] }`:            "duration and stages cannot be used together",
		`{ iterations: 2, scenarios: { s: { executor: "per-vu-iterations" } } }`: "cannot be combined with scenarios",
	} {
		p := writeScript(t, options)
		_, err := Load(p, nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("options %s: error %v, want one naming %s and containing %q", options, err, p, want)
		}
	}
}

// k6/encoding and k6/execution: base64 in k6's alphabets, and the running VU's and scenario's
// numbers as the server sees them; what is outside them throws "not supported".
func TestEncodingAndExecution(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.RawQuery)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	s := mustLoad(t, "testdata/extras.js", map[string]string{"BASE_URL": srv.URL})
	res, err := s.Run(context.Background(), Overrides{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if it := res.Snapshot.Scenarios[0]; it.Iterations != 4 || it.Failed != 0 {
		t.Fatalf("iterations %d, failed %d: want 4, 0", it.Iterations, it.Failed)
	}
	var want []string
	for vu := 1; vu <= 2; vu++ {
		for it := range 2 {
			want = append(want, fmt.Sprintf("scenario=named&vu=%d&iter=%d&token=YWRhOnNlY3JldA==&back=h%%C3%%A9llo&bytes=1-2-3", vu, it))
		}
	}
	mu.Lock()
	got := slices.Sorted(slices.Values(seen))
	mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("the server saw\n%q\nwant\n%q", got, want)
	}

	r, err := s.newRuntime(1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for fn, msg := range map[string]string{
		"abort":       "k6/execution.test.abort in setup() or teardown()",
		"testOptions": "k6/execution.test.options is not supported",
		"vuMetrics":   "k6/execution.vu.metrics is not supported (docs",
		"base32":      `k6/encoding.b64encode: encoding "base32" is not supported`,
	} {
		_, err := r.call(context.Background(), newPlainHost(slog.Default(), settings{}), fn)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", fn, err, msg)
		}
	}
	// Outside the load (setup, teardown) there is no VU to describe.
	if _, err := r.call(context.Background(), newPlainHost(slog.Default(), settings{}), "default"); err == nil ||
		!strings.Contains(err.Error(), "not supported in setup() and teardown()") {
		t.Errorf("exec.scenario.name outside the load: %v", err)
	}
}

// A script that imports local modules: they are bundled into the script (imported once each),
// their imports are checked like the script's, and errors name the module's file and line.
func TestLocalModules(t *testing.T) {
	srv, _ := conformanceServer(t)
	s := mustLoad(t, "testdata/modules/main.js", map[string]string{"BASE_URL": srv.URL})
	res, errs := runCollecting(t, s)
	for _, name := range []string{"helper request", "shared module once"} {
		if n, failed := res.Snapshot.Rate(load.MetricChecks, load.Filter{"step": name}); n != 2 || failed != 0 {
			t.Errorf("check %q: %d runs, %d failed; want 2 passing", name, n, failed)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "thrown in helpers.js with hello from shared") || !strings.Contains(errs[0], "lib/helpers.js:10:") {
		t.Errorf("iteration errors %q, want the helper's error at testdata/modules/lib/helpers.js:10", errs)
	}
	for file, want := range map[string]string{
		"bad_module.js":     `testdata/modules/lib/uses_ws.js:2: module "k6/ws" is not supported`,
		"missing_module.js": `testdata/modules/missing_module.js:1: module "testdata/modules/lib/nothing.js"`,
	} {
		_, err := Load(filepath.Join("testdata", "modules", file), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", file, err, want)
		}
	}
}

// setup() and teardown() end at their time limits (options.setupTimeout and teardownTimeout,
// 60 s by default as in k6), with an error that names the option; bad values fail at load.
func TestLifecycleTimeouts(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "slow.js")
	src := `import { sleep } from "k6";
export const options = { setupTimeout: __ENV.SETUP, teardownTimeout: "200ms" };
export function setup() { sleep(Number(__ENV.SETUP_SLEEP)); }
export default function () {}
export function teardown() { sleep(30); }
`
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s := mustLoad(t, p, map[string]string{"SETUP": "200ms", "SETUP_SLEEP": "30"})
	if err := s.Setup(context.Background()); err == nil || !strings.Contains(err.Error(), "setup() did not end within 200ms (options.setupTimeout)") {
		t.Errorf("setup: %v, want it ended by setupTimeout", err)
	}
	s = mustLoad(t, p, map[string]string{"SETUP": "10s", "SETUP_SLEEP": "0"})
	if err := s.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Teardown(context.Background()); err == nil || !strings.Contains(err.Error(), "teardown() did not end within 200ms (options.teardownTimeout)") {
		t.Errorf("teardown: %v, want it ended by teardownTimeout", err)
	}
	for options, want := range map[string]string{
		`{ setupTimeout: "soon" }`:     `options.setupTimeout: "soon" is not a duration`,
		`{ setupTimeout: 0 }`:          "must be positive",
		`{ maxRedirects: 1.5 }`:        "options.maxRedirects: want a whole number >= 0",
		`{ noConnectionReuse: "yes" }`: "options.noConnectionReuse: want true or false",
		`{ insecureSkipTLSVerify: 1 }`: "options.insecureSkipTLSVerify: want true or false",
	} {
		if _, err := Load(writeScript(t, options), nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("options %s: error %v, want one containing %q", options, err, want)
		}
	}
}

// Custom metrics (k6/metrics) refuse what k6 refuses, and what this engine cannot keep, with
// the metric named: a declaration outside the init code, a bad or built-in name, the same
// name as another kind, an aggregation the kind does not have, a windowed threshold, a value
// that is not a number or outside a trend's range.
func TestCustomMetricErrors(t *testing.T) {
	write := func(src string) string {
		p := filepath.Join(t.TempDir(), "m.js")
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const head = "import { Counter, Gauge, Rate, Trend } from 'k6/metrics';\n"
	for src, want := range map[string]string{
		"export default function () { new Counter('late'); }":                                                                           "k6/metrics.Counter: metrics must be declared in the init context",
		"new Trend('2fast');\nexport default function () {}":                                                                            `metric name "2fast"`,
		"new Counter('http_reqs');\nexport default function () {}":                                                                      `metric name "http_reqs" is a built-in metric's`,
		"new Counter('x');\nnew Trend('x');\nexport default function () {}":                                                             `metric "x" is already declared as a counter`,
		"const t = new Trend('t');\nexport const options = { thresholds: { t: ['count>1'] } };\nexport default function () {}":          `a trend has no "count" aggregation (it has avg, min, max, med, p)`,
		"const g = new Gauge('g');\nexport const options = { thresholds: { g: ['avg<1'] } };\nexport default function () {}":            `a gauge has no "avg" aggregation`,
		"const r = new Rate('r');\nexport const options = { thresholds: { r: ['rate>0.9 over 10s'] } };\nexport default function () {}": "windowed thresholds (over D) on custom metrics are not supported",
		"const c = new Counter('c');\nexport default function () { c.add('many'); }":                                                    `k6/metrics.Counter.add: want a number, got many`,
		"const t = new Trend('t');\nexport default function () { t.add(-1); }":                                                          "t: -1 is outside a trend's range here (0 to 1e12)",
		"const c = new Counter('c');\nexport default function () { c.add(1, { scenario: 'x' }); }":                                      "the tag scenario is the engine's",
	} {
		s, err := Load(write(head+src), nil)
		if err == nil {
			_, errs := runCollecting(t, s)
			if len(errs) > 0 {
				err = errors.New(errs[0])
			}
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("script %q:\nerror %v\nwant one containing %q", src, err, want)
		}
	}
}
