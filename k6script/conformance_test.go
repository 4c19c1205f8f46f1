package k6script

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/load"
)

// The conformance suite: scripts written as k6's documentation writes them
// (testdata/conformance), run against an httpbin-like server on loopback, each asserting k6's
// documented results with checks; the table says how many times each check must have passed,
// and what else the run must show (requests and their tags, threshold verdicts, setup data in
// teardown, an abort). A check that fails, runs a different number of times or is missing
// fails the test.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		script string
		env    map[string]string // beside BASE_URL
		checks map[string]uint64 // check name: passes
		more   func(t *testing.T, res *load.Result, runErr error, log *requestLog)
	}{
		{"cookies.js", nil, each(4, "redirect followed to /cookies", "jar cookie sent back", "cookiesForURL sees it",
			"request cookie beside the jar's", "replace wins over the jar", "jar.set cookie sent", "jar.delete removed it",
			"jar.clear removed all", "response.cookies has both", "response.cookies attributes", "cookie without attributes"), nil},
		{"batch.js", nil, each(4, "four responses in order", "sent in parallel", "named front", "named missing", "named posted",
			"invalid URL fails alone"), func(t *testing.T, res *load.Result, _ error, _ *requestLog) {
			wantRequests(t, res, load.Filter{"step": "barrier"}, 4)
			wantRequests(t, res, load.Filter{"step": "/status/404", "status": "404"}, 4)
		}},
		{"redirects.js", nil, each(1, "followed", "redirects 0 returns the 302", "redirects 2 stops at the third", "10 by default"),
			func(t *testing.T, res *load.Result, _ error, log *requestLog) {
				// A redirect chain is one request in the metrics (k6 counts each hop).
				wantRequests(t, res, load.Filter{}, 4)
				if n := log.count("GET /get"); n != 1 {
					t.Errorf("the server saw GET /get %d times, want 1 (only the first chain reaches it)", n)
				}
			}},
		{"bodies.js", nil, each(1, "discarded body is null", "json() of a discarded body throws", "responseType text keeps it",
			"responseType binary is an ArrayBuffer", "open b is an ArrayBuffer", "a binary body is sent as is"), func(t *testing.T, res *load.Result, _ error, _ *requestLog) {
			// A discarded body is still read and counted.
			if n := res.Snapshot.Counter(load.MetricDataReceived, nil); n < 200 {
				t.Errorf("data_received %v bytes, want the two 100-byte bodies at least", n)
			}
		}},
		{"json.js", nil, each(1, "whole body", "field", "array length", "array element", "nested array", "query", "no match is undefined"), nil},
		{"options.js", map[string]string{"TLS_URL": tlsServer(t)}, each(1, "userAgent sent", "a new connection per request",
			"maxRedirects 1 stops at the second", "params.redirects wins", "self-signed TLS accepted"), nil},
		{"execution.js", nil, each(6, "scenario executor", "scenario startTime", "iterationInInstance is iterationInTest", "vu iterations", "instance"),
			func(t *testing.T, res *load.Result, runErr error, log *requestLog) {
				if !errors.Is(runErr, load.ErrTestAborted) || res.AbortedByTest != "test aborted: enough" {
					t.Errorf("run error %v, aborted by %q; want test.abort(\"enough\")", runErr, res.AbortedByTest)
				}
				for i := range 6 {
					if n := log.count("GET /get?scenario_iter=" + strconv.Itoa(i)); n != 1 {
						t.Errorf("scenario iteration %d was seen %d times, want once", i, n)
					}
				}
				for _, sc := range res.Snapshot.Scenarios {
					if sc.Name == "stopper" && (sc.Iterations < 2 || sc.Interrupted != 1 || sc.Failed != 0) {
						t.Errorf("stopper: %d iterations, %d interrupted, %d failed; want 2 or more before the abort, the aborting one interrupted", sc.Iterations, sc.Interrupted, sc.Failed)
					}
				}
			}},
		{"metrics.js", nil, nil, func(t *testing.T, res *load.Result, runErr error, _ *requestLog) {
			wantThresholdsPass(t, res, runErr, 18)
			var text strings.Builder
			sum := load.Summarize(res)
			if err := sum.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			for _, line := range []string{"requests_made", "last_item", "even_items", "50.00%", "✓ 5 ✗ 5", "item_values", "avg=5.5", "waiting_time"} {
				if !strings.Contains(text.String(), line) {
					t.Errorf("summary lacks %q:\n%s", line, text.String())
				}
			}
		}},
		{"lifecycle.js", nil, merge(each(6, "status is 200", "setup data reached the VU", "init code ran in this VU", "iteration counts",
			"scenario name", "scenario env"), each(1, "writer got data")), func(t *testing.T, res *load.Result, runErr error, log *requestLog) {
			if runErr != nil {
				t.Errorf("run: %v", runErr)
			}
			if _, n, _ := res.Snapshot.Trend("group_duration", load.Filter{"step": "browse"}); n != 6 {
				t.Errorf("group_duration{group:::browse}: %d samples, want 6", n)
			}
			wantRequests(t, res, load.Filter{"step": "browse", "scenario": "readers"}, 6)
			for _, uri := range []string{"GET /get?token=abc", "GET /get?teardown=abc"} {
				if n := log.count(uri); n != 1 {
					t.Errorf("the server saw %q %d times, want once (setup, and teardown with setup's data)", uri, n)
				}
			}
		}},
		{"tags.js", nil, each(2, "in the cart", "vu tags hold the scenario"), func(t *testing.T, res *load.Result, runErr error, _ *requestLog) {
			wantThresholdsPass(t, res, runErr, 9)
		}},
		{"thresholds.js", nil, nil, func(t *testing.T, res *load.Result, runErr error, _ *requestLog) {
			if !errors.Is(runErr, load.ErrThresholdAbort) || res.Aborted == nil || res.Aborted.Source != "checks{check:missing ok}: rate>0.9" {
				t.Fatalf("run error %v, aborted by %+v; want the abortOnFail threshold on checks{check:missing ok}", runErr, res.Aborted)
			}
			for _, th := range res.Thresholds {
				wantPass := th.Source != "checks{check:missing ok}: rate>0.9"
				if th.Pass != wantPass || th.NoData {
					t.Errorf("threshold %q: pass %v (no data %v), want pass %v", th.Source, th.Pass, th.NoData, wantPass)
				}
			}
			if len(res.Thresholds) != 9 {
				t.Errorf("%d threshold results, want 9", len(res.Thresholds))
			}
		}},
	} {
		t.Run(tc.script, func(t *testing.T) {
			srv, log := conformanceServer(t)
			env := map[string]string{"BASE_URL": srv.URL}
			maps.Copy(env, tc.env)
			s := mustLoad(t, filepath.Join("testdata", "conformance", tc.script), env)
			res, err := s.Run(context.Background(), Overrides{}, testLogger(t))
			if res == nil {
				t.Fatalf("run: %v", err)
			}
			if tc.more == nil && err != nil {
				t.Errorf("run: %v", err)
			}
			for name, want := range tc.checks {
				total, failed := res.Snapshot.Rate(load.MetricChecks, load.Filter{"step": name})
				if total != want || failed != 0 {
					t.Errorf("check %q: %d runs, %d failed; want %d, none failed", name, total, failed, want)
				}
			}
			if tc.checks != nil {
				all, _ := res.Snapshot.Rate(load.MetricChecks, load.Filter{})
				var want uint64
				for _, n := range tc.checks {
					want += n
				}
				if all != want {
					t.Errorf("%d checks ran, want %d (a check the table does not name ran)", all, want)
				}
			}
			if tc.more != nil {
				tc.more(t, res, err, log)
			}
		})
	}
}

// each is a check table: every name passing n times.
func each(n uint64, names ...string) map[string]uint64 {
	m := map[string]uint64{}
	for _, name := range names {
		m[name] = n
	}
	return m
}

func merge(a, b map[string]uint64) map[string]uint64 {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func wantRequests(t *testing.T, res *load.Result, f load.Filter, n uint64) {
	t.Helper()
	if got, _ := res.Snapshot.Rate(load.MetricReqDuration, f); got != n {
		t.Errorf("requests matching %v: %d, want %d", f, got, n)
	}
}

// tlsServer is an HTTPS server with a self-signed certificate, answering 200.
func tlsServer(t *testing.T) string {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// wantThresholdsPass requires a run without error whose n thresholds all passed on data.
func wantThresholdsPass(t *testing.T, res *load.Result, runErr error, n int) {
	t.Helper()
	if runErr != nil {
		t.Errorf("run: %v", runErr)
	}
	for _, th := range res.Thresholds {
		if !th.Pass || th.NoData {
			t.Errorf("threshold %q: value %v, pass %v, no data %v", th.Source, th.Value, th.Pass, th.NoData)
		}
	}
	if len(res.Thresholds) != n {
		t.Errorf("%d thresholds, want %d", len(res.Thresholds), n)
	}
}
