package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/exitcode"
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
