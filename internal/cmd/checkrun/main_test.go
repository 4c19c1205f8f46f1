package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/verdict"

	"github.com/dailydoco/ddp-verify/reports"
	"github.com/dailydoco/ddp-verify/reports/reportstest"
)

// checkrun must accept exactly the objectives it is told a time-scaled run leaves out.
func TestCheckNotEvaluated(t *testing.T) {
	r := reportstest.Launch(time.Minute)
	r.NotEvaluated = []verdict.NotEvaluated{{ID: "throughput_videos_per_hour", Key: true, Reason: "the run is time-scaled (x0.05)"}}
	dir := filepath.Join(t.TempDir(), "run")
	if err := reports.WriteRunDir(dir, r); err != nil {
		t.Fatal(err)
	}
	has := func(problems []string, s string) bool {
		for _, p := range problems {
			if strings.Contains(p, s) {
				return true
			}
		}
		return false
	}
	for _, tt := range []struct {
		name         string
		want         []string
		unexpected   bool // "was not evaluated" reported
		missingNamed bool // "should be listed" reported
	}{
		{"none allowed", nil, true, false},
		{"the one left out", []string{"throughput_videos_per_hour"}, false, false},
		{"one more expected", []string{"throughput_videos_per_hour", "video_processing_p95_realtime"}, false, true},
	} {
		p := check(dir, r.Verdict, -1, tt.want)
		if got := has(p, "throughput_videos_per_hour was not evaluated"); got != tt.unexpected {
			t.Errorf("%s: unexpected-skip problem reported %v, want %v (%q)", tt.name, got, tt.unexpected, p)
		}
		if got := has(p, "video_processing_p95_realtime should be listed as not evaluated"); got != tt.missingNamed {
			t.Errorf("%s: missing-skip problem reported %v, want %v (%q)", tt.name, got, tt.missingNamed, p)
		}
	}
}
