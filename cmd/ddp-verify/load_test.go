package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
