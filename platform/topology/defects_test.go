package topology

import (
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/model"
)

func TestDefectsOffByDefault(t *testing.T) {
	for _, name := range []string{"default", "testdata/small.good.yaml"} {
		topo := Default()
		if name != "default" {
			var err error
			if topo, err = Load(name); err != nil {
				t.Fatal(err)
			}
		}
		if topo.Defects.Any() || topo.Defects != (Defects{}) || len(topo.Defects.List()) != 0 {
			t.Errorf("%s: defects %+v, want none", name, topo.Defects)
		}
		if err := topo.CheckDefects(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDefectsDecode(t *testing.T) {
	topo, err := Load("testdata/defects.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Defects{
		GPUSlowdown: 3, HungResolution: model.R4K, UnclaimedResolution: model.R720p, AIFailureShare: 0.5, LostHandoffShare: 0.1,
		APIAddedLatency: Duration(150 * time.Millisecond), APIErrorShare: 0.02, PriceFactor: 100, IgnoreRestores: true,
	}
	if topo.Defects != want {
		t.Errorf("defects\n got %+v\nwant %+v", topo.Defects, want)
	}
	if !topo.Defects.Any() {
		t.Error("Any() = false")
	}
	got := strings.Join(topo.Defects.List(), " ")
	if w := "gpu_slowdown=3 hung_resolution=4k unclaimed_resolution=720p ai_failure_share=0.5 lost_handoff_share=0.1 api_added_latency=150ms api_error_share=0.02 price_factor=100 ignore_restores=true"; got != w {
		t.Errorf("List()\n got %s\nwant %s", got, w)
	}
}

// Every bad value is reported at once, each as file:line: field: message.
func TestDefectsRejected(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string
	}{
		{name: "out of range", file: "testdata/defects.bad.yaml", want: []string{
			`defects.bad.yaml:15: defects.gpu_slowdown: want a factor from 1 to 100 (0 or absent: off), got 0.5`,
			`defects.bad.yaml:16: defects.hung_resolution: unknown resolution "8k" (want 4k, 1080p or 720p)`,
			`defects.bad.yaml:17: defects.unclaimed_resolution: unknown resolution "1080P"`,
			`defects.bad.yaml:18: defects.ai_failure_share: want a share from 0 to 1, got 1.5`,
			`defects.bad.yaml:19: defects.api_added_latency: 2s is not below gateway.upstream_timeout (2s)`,
			`defects.bad.yaml:20: defects.api_error_share: want a share from 0 to 1, got -0.1`,
			`defects.bad.yaml:21: defects.price_factor: want a factor from 1 to 1000 (0 or absent: off), got 5000`,
			`defects.bad.yaml:22: defects.lost_handoff_share: want a share from 0 to 1, got 2`,
		}},
		{name: "one resolution both hung and unclaimed", file: "testdata/defects-same-resolution.bad.yaml", want: []string{
			`defects-same-resolution.bad.yaml:14: defects.unclaimed_resolution: 1080p is also hung_resolution`,
		}},
		{name: "wrong types and a typo", file: "testdata/defects-types.bad.yaml", want: []string{
			`defects-types.bad.yaml:13: defects.ignore_restores: want true or false, got the string "yes-please"`,
			`defects-types.bad.yaml:14: defects.api_added_latency: "soon" is not a duration`,
			`defects-types.bad.yaml:15: defects.gpu_slowdonw: unknown field (did you mean gpu_slowdown?)`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tc.file)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\nlacks %q", err, w)
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(tc.want) {
				t.Errorf("%d problems reported, want %d:\n%s", n, len(tc.want), err)
			}
		})
	}
}

// A topology changed in Go (as platformtest.Topology() is) is checked the same way.
func TestCheckDefects(t *testing.T) {
	topo := Default()
	topo.Defects.UnclaimedResolution = model.R720p
	topo.Defects.GPUSlowdown = 3
	if err := topo.CheckDefects(); err != nil {
		t.Fatal(err)
	}
	topo.Defects.HungResolution = "720"
	topo.Defects.APIAddedLatency = topo.Gateway.UpstreamTimeout
	err := topo.CheckDefects()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		`topology dailydoco-reference: defects.hung_resolution: unknown resolution "720"`,
		"defects.api_added_latency: 10s is not below gateway.upstream_timeout",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error\n%s\nlacks %q", err, w)
		}
	}
}
