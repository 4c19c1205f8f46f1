package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/internal/testenv"
	"github.com/dailydoco/ddp-verify/load/loadtest"
)

func TestLoadStagesWritesSummary(t *testing.T) {
	tg := loadtest.NewTarget(t)
	dir := t.TempDir()
	out, errOut, code := execute(t, "load", "--url", tg.URL+"/", "--stages", "2s:20,3s:20,1s:0", "--out", dir,
		"--threshold", "http_req_failed:rate<0.01", "--progress-interval", "1s")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Requests uint64 `json:"requests"`
		Latency  struct {
			P95 float64 `json:"p95_ms"`
		} `json:"http_req_duration"`
		Thresholds []struct {
			Pass bool `json:"pass"`
		} `json:"thresholds"`
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Requests == 0 || sum.Latency.P95 <= 0 || len(sum.Thresholds) != 1 || !sum.Thresholds[0].Pass {
		t.Fatalf("summary.json: %s", b)
	}
	if !strings.Contains(out, "http_req_duration") || !strings.Contains(errOut, "users=20") {
		t.Fatalf("no summary or progress:\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}
}

// Two generators running the two parts of one sequence send the whole load once: 50 requests a
// second for 2 s is 100 requests, a quarter of them from the first part, the rest from the
// second (k6's --execution-segment and --execution-segment-sequence).
func TestLoadExecutionSegments(t *testing.T) {
	tg := loadtest.NewTarget(t)
	for _, tc := range []struct {
		segment string
		want    uint64
	}{{"", 100}, {"0:1/4", 25}, {"1/4:1", 75}} {
		dir := t.TempDir()
		args := []string{"load", "--url", tg.URL + "/", "--rate", "50", "--duration", "2s", "--vus", "12", "--out", dir}
		if tc.segment != "" {
			args = append(args, "--execution-segment", tc.segment, "--execution-segment-sequence", "0,1/4,1")
		}
		if out, errOut, code := execute(t, args...); code != 0 {
			t.Fatalf("segment %q: exit %d\nstdout:\n%s\nstderr:\n%s", tc.segment, code, out, errOut)
		}
		b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		var sum struct {
			Requests uint64 `json:"requests"`
		}
		if err := json.Unmarshal(b, &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Requests != tc.want {
			t.Errorf("segment %q: %d requests, want %d", tc.segment, sum.Requests, tc.want)
		}
	}
}

func TestLoadExitCodes(t *testing.T) {
	tg := loadtest.NewTarget(t)
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"bad stage target", []string{"--url", tg.URL, "--stages", "2s:x"}, exitcode.BadInput, `"x"`},
		{"bad stage duration", []string{"--url", tg.URL, "--stages", "2parsecs:5"}, exitcode.BadInput, `"2parsecs"`},
		{"no url", []string{"--stages", "1s:1"}, exitcode.BadInput, "--url"},
		{"stages and rate", []string{"--url", tg.URL, "--stages", "1s:1", "--rate", "5", "--duration", "1s"}, exitcode.BadInput, "exclude"},
		{"bad threshold", []string{"--url", tg.URL, "--stages", "1s:1", "--threshold", "http_req_duration:p(95)<1x0"}, exitcode.BadInput, `"1x0"`},
		// Checked before the first request: each used to exit 0 after the whole load, with
		// every request failed or none sent, or fail only once the load was over.
		{"bad method", []string{"--url", tg.URL, "--method", "GE T", "--stages", "1s:1"}, exitcode.BadInput, `--method "GE T": not a valid HTTP method`},
		{"--out a device", []string{"--url", tg.URL, "--stages", "30s:5", "--out", os.DevNull}, exitcode.BadInput, "--out: /dev/null is a device, not a directory"},
		{"--out not empty", []string{"--url", tg.URL, "--stages", "30s:5", "--out", "testdata"}, exitcode.BadInput, "--out: testdata is not empty"},
		{"no users", []string{"--url", tg.URL, "--stages", "30s:0"}, exitcode.BadInput, "no stage has a VU target above 0"},
		{"no host", []string{"--url", "http://:8080/", "--stages", "1s:1"}, exitcode.BadInput, "want an absolute http(s) URL"},
		{"a billion users", []string{"--url", tg.URL, "--stages", "1m:1000000000"}, exitcode.BadInput, "1000000000 VUs is more than this machine can hold"},
		{"a billion per second", []string{"--url", tg.URL, "--rate", "1000000000", "--duration", "1s", "--vus", "10", "--max-vus", "10"}, exitcode.BadInput, "--rate: 1e+09 iterations per second is more than this machine can start"},
		{"bad segment", []string{"--url", tg.URL, "--stages", "1s:1", "--execution-segment", "1/2"}, exitcode.BadInput, "--execution-segment: execution segment \"1/2\": want FROM:TO"},
		{"segment not in sequence", []string{"--url", tg.URL, "--stages", "1s:1", "--execution-segment", "0:1/3", "--execution-segment-sequence", "0,1/2,1"}, exitcode.BadInput, "not one part of the sequence"},
		{"sequence alone", []string{"--url", tg.URL, "--stages", "1s:1", "--execution-segment-sequence", "0,1/2,1"}, exitcode.BadInput, "needs --execution-segment"},
		{"failed threshold", []string{"--url", tg.URL, "--rate", "50", "--duration", "1s", "--threshold", "http_reqs:count>1000000"}, exitcode.NoGo, ""},
		{"passing rate run", []string{"--url", tg.URL, "--rate", "50", "--duration", "1s", "--threshold", "http_reqs:count>=40"}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := execute(t, append([]string{"load"}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d, want %d; stderr %q should name %s\nstdout:\n%s", code, tc.wantCode, errOut, tc.wantErr, out)
			}
		})
	}
}

// Nothing listening at the URL: exit 3 at once, saying so, instead of a whole load of failed
// requests that used to exit 0. (The stages would last a minute; the probe answers before
// the first request.)
func TestLoadNothingListening(t *testing.T) {
	addr := testenv.RefusedAddr(t)
	out, errOut, code := execute(t, "load", "--url", "http://"+addr+"/", "--stages", "1m:5")
	if code != exitcode.Infra || !strings.Contains(errOut, "nothing is listening on "+addr+" (connection refused)") {
		t.Fatalf("exit %d, want 3 saying nothing is listening on %s\nstdout:\n%s\nstderr:\n%s", code, addr, out, errOut)
	}
	if strings.Contains(out, "http_req_duration") {
		t.Errorf("a load ran:\n%s", out)
	}
}

// A load in which no request succeeded is not a success: every request answered 503 is exit 1,
// and a server that accepts connections and closes them (no request ever gets a response) is
// exit 3; each says why, by error class.
func TestLoadNoRequestSucceeded(t *testing.T) {
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(unavailable.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, tc := range []struct {
		name, url string
		code      int
		want      string
	}{
		{"every answer an error", unavailable.URL, exitcode.NoGo, "requests succeeded ("},
		{"no answer at all", "http://" + ln.Addr().String() + "/", exitcode.Infra, "requests reached the target ("},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := execute(t, "load", "--url", tc.url, "--rate", "20", "--duration", "1s")
			if code != tc.code || !strings.Contains(errOut, "none of the ") || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, want %d saying %q\nstderr:\n%s", code, tc.code, tc.want, errOut)
			}
		})
	}
}

// loginServer counts the requests of testdata/login.js by route; /home answers "hello" to the
// token /login handed out and 401 to anything else.
func loginServer(t *testing.T) (*httptest.Server, *sync.Map) {
	var hits sync.Map
	count := func(route string) {
		n, _ := hits.LoadOrStore(route, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		count("login")
		if r.ParseForm() != nil || r.PostForm.Get("user") != "ada" || r.UserAgent() != "login-script/1.0" {
			http.Error(w, "who?", http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"token":"t0k"}`))
	})
	mux.HandleFunc("GET /home", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0k" || r.UserAgent() != "login-script/1.0" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		count("home")
		w.Write([]byte("hello"))
	})
	mux.HandleFunc("DELETE /session", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer t0k" {
			count("logout")
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &hits
}

func hitCount(hits *sync.Map, route string) int64 {
	n, ok := hits.Load(route)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

// `load SCRIPT.js` runs a k6 script: k6's flags override its options (2 VUs sharing 6
// iterations instead of one VU for ten minutes), setup's token reaches every iteration,
// teardown runs once, and the summary counts the load's requests only (setup's and teardown's
// are not part of it). A failing check fails the script's own threshold: exit 1.
func TestLoadScript(t *testing.T) {
	for _, tc := range []struct {
		want string
		code int
	}{{"hello", 0}, {"goodbye", 1}} {
		srv, hits := loginServer(t)
		dir := t.TempDir()
		out, errOut, code := execute(t, "load", filepath.Join("testdata", "login.js"), "--vus", "2", "--iterations", "6",
			"--env", "BASE_URL="+srv.URL, "--env", "WANT="+tc.want, "--out", dir)
		if code != tc.code {
			t.Fatalf("want %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.want, code, tc.code, out, errOut)
		}
		if l, h, o := hitCount(hits, "login"), hitCount(hits, "home"), hitCount(hits, "logout"); l != 1 || h != 6 || o != 1 {
			t.Errorf("want %q: %d logins, %d home pages, %d logouts; want 1, 6, 1", tc.want, l, h, o)
		}
		b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		var sum struct {
			Requests uint64 `json:"requests"`
			Checks   struct {
				Passed, Failed uint64
			} `json:"checks"`
			Thresholds []struct {
				Metric string `json:"metric"`
				Pass   bool   `json:"pass"`
			} `json:"thresholds"`
		}
		if err := json.Unmarshal(b, &sum); err != nil {
			t.Fatal(err)
		}
		passed := uint64(6 * (1 - tc.code))
		if sum.Checks.Passed != passed || sum.Checks.Failed != 6-passed || !regexp.MustCompile(fmt.Sprintf(`checks_succeeded\.+: %s\s+%d out of 6`, map[int]string{0: `0\.00%`, 1: `100\.00%`}[1-tc.code], passed)).MatchString(out) {
			t.Errorf("want %q: checks %+v, want %d passed; summary:\n%s", tc.want, sum.Checks, passed, out)
		}
		if sum.Requests != 6 || len(sum.Thresholds) != 1 || sum.Thresholds[0].Metric != "checks" || sum.Thresholds[0].Pass != (tc.code == 0) {
			t.Errorf("want %q: summary.json %s", tc.want, b)
		}
	}
}

// A script's bad input is exit 2 before any request: flags of the one-URL load, a module
// outside what is supported, a malformed --env.
func TestLoadScriptBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{filepath.Join("testdata", "login.js"), "--url", "http://127.0.0.1:1/"}, "--url: not with a script"},
		{[]string{filepath.Join("testdata", "websocket.js")}, `websocket.js:1: module "k6/ws" is not supported`},
		{[]string{filepath.Join("testdata", "login.js"), "--env", "NOEQUALS"}, `--env "NOEQUALS": want NAME=VALUE`},
		{[]string{filepath.Join("testdata", "login.js"), "--stage", "10s"}, "--stage"},
		{[]string{"--url", "http://127.0.0.1:1/", "--rate", "1", "--duration", "1s", "--iterations", "3"}, "are for a script"},
	} {
		out, errOut, code := execute(t, append([]string{"load"}, tc.args...)...)
		if code != exitcode.BadInput || !strings.Contains(errOut, tc.want) {
			t.Errorf("load %v: exit %d, want 2 with %q\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.want, out, errOut)
		}
	}
}

// A script's test.abort() ends the load early with exit 1 and the script's reason, in the
// summary too.
func TestLoadScriptTestAbort(t *testing.T) {
	srv, _ := loginServer(t)
	script := filepath.Join(t.TempDir(), "abort.js")
	src := `import exec from "k6/execution";
import { sleep } from "k6";
export const options = { vus: 1, duration: "1m" };
export default function () {
  if (__ITER === 1) exec.test.abort("the target is not ready");
  sleep(0.05);
}
`
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := execute(t, "load", script, "--env", "BASE_URL="+srv.URL)
	if code != 1 || !strings.Contains(errOut+out, "test aborted: the target is not ready") {
		t.Errorf("exit %d, want 1 naming the reason\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
