package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/platform/dashboards"
)

// dashboards --out writes one Grafana dashboard JSON per plan dashboard and the verification
// run's, each with its panels' queries, and refuses a missing or non-empty --out before writing anything.
func TestDashboardsCmd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dash")
	out, errOut, code := execute(t, "dashboards", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range append(dashboards.All(), dashboards.Verification()) {
		b, err := os.ReadFile(filepath.Join(dir, want.UID+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Title  string `json:"title"`
			Panels []struct {
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", want.UID, err)
		}
		if got.Title != want.Title || len(got.Panels) != len(want.Panels) || len(got.Panels) == 0 || got.Panels[0].Targets[0].Expr == "" {
			t.Errorf("%s.json: %s", want.UID, b)
		}
	}
	if len(dashboards.All()) != 5 {
		t.Errorf("%d dashboards, the plan has five", len(dashboards.All()))
	}
	for _, tc := range []struct {
		args []string
		want string
	}{{[]string{"dashboards"}, "--out is required"}, {[]string{"dashboards", "--out", dir}, "is not empty"}} {
		if _, errOut, code := execute(t, tc.args...); code != exitcode.BadInput || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 saying %q", tc.args, code, errOut, tc.want)
		}
	}
}
