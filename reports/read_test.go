package reports_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/reports"
)

// Duplicate keys are found at any depth and named by their path; under config (the profile
// kept verbatim) and versions (a map) keys that differ only in case are distinct.
func TestDecodeRunDuplicateKeys(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(filepath.Join("testdata", "minimal.good.json"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(good)
	for _, tc := range []struct {
		name, old, new, want string // want "" accepts
	}{
		{"nested", `"status": "PASS"`, `"status": "FAIL", "status": "PASS"`, `field slos[0].status: duplicate key "status"`},
		{"in an array of objects", `"kind": "stage"`, `"kind": "stage", "KIND": "stage"`, `field timeline[0].KIND: duplicate key "KIND" (as "kind"`},
		{"case under config", `"name": "smoke"`, `"name": "smoke", "Name": "other"`, ""},
		{"case under versions", `"ddp-verify": "dev"`, `"ddp-verify": "dev", "DDP-verify": "x"`, ""},
		{"exact under config", `"name": "smoke"`, `"name": "smoke", "name": "other"`, `field config.name: duplicate key "name"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(text, tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			_, err := reports.DecodeRun(strings.NewReader(strings.Replace(text, tc.old, tc.new, 1)))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// A GO that its own record contradicts is refused with every contradiction named; the same
// record with verdict NO-GO reads fine.
func TestDecodeRunRefusesContradictedGO(t *testing.T) {
	t.Parallel()
	r := mustRead(t, filepath.Join("testdata", "minimal.good.json"))
	r.SLOs[0].Status, r.SLOs[0].Value = "ERROR", nil
	r.Videos.Lost = 2
	r.Chaos = []reports.ChaosResult{{Fault: "gpu-node", Kind: "node-failure"}}
	var buf strings.Builder
	if err := reports.WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	_, err := reports.DecodeRun(strings.NewReader(buf.String()))
	for _, want := range []string{"objective api-latency-p95 in steady is ERROR", "fault gpu-node was not confirmed injected and undone", "0 accepted videos unfinished and 2 lost"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v, want it to name %q", err, want)
		}
	}
	r.Verdict = "NO-GO"
	buf.Reset()
	if err := reports.WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	if _, err := reports.DecodeRun(strings.NewReader(buf.String())); err != nil {
		t.Errorf("the NO-GO record: %v", err)
	}
}
