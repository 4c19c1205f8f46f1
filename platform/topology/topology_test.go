package topology

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/platform/httpserver"
)

func TestDefaultMirrorsThePlan(t *testing.T) {
	topo := Default()
	want := map[string]struct {
		typ   string
		nodes int
	}{"general": {"m5.2xlarge", 3}, "gpu": {"g4dn.xlarge", 2}, "memory": {"r5.2xlarge", 2}}
	for name, w := range want {
		p := topo.Pool(name)
		if p == nil || p.InstanceType != w.typ || p.Nodes != w.nodes {
			t.Errorf("pool %s = %+v, want %d x %s", name, p, w.nodes, w.typ)
		}
	}
	if g := topo.Pool("general"); g.Min != 3 || g.Max != 10 {
		t.Errorf("general autoscaling %d-%d, want 3-10", g.Min, g.Max)
	}
	if g := topo.Pool("gpu"); g.Min != 2 || g.Max != 8 {
		t.Errorf("gpu autoscaling %d-%d, want 2-8", g.Min, g.Max)
	}
	if h := topo.HTTP.Timeouts(); h != httpserver.Default {
		t.Errorf("server timeouts %+v, want httpserver.Default %+v", h, httpserver.Default)
	}
	if l := topo.Gateway.RateLimits; l != (RateLimits{API: 10000, Web: 1000, Video: 100}) {
		t.Errorf("rate limits %+v", l)
	}
	nodes := topo.Nodes()
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name+"@"+n.Zone)
	}
	if got, want := strings.Join(names, " "), "general-1a-1@us-east-1a general-1b-1@us-east-1b general-1c-1@us-east-1c gpu-1a-1@us-east-1a gpu-1b-1@us-east-1b memory-1b-1@us-east-1b memory-1c-1@us-east-1c"; got != want {
		t.Errorf("nodes\n got %s\nwant %s", got, want)
	}
	if got := topo.GPUSlots("g4dn.xlarge"); got != 4 {
		t.Errorf("GPU slots of a g4dn.xlarge = %d, want 4 (quarter T4 each)", got)
	}
	reps := topo.Place(nodes)
	perService := map[string]int{}
	for _, r := range reps {
		perService[r.Service]++
	}
	if perService["api"] != 3 || perService["dashboard"] != 3 || perService["video-worker"] != 2 || perService["ai-worker"] != 2 {
		t.Errorf("replicas per service %v", perService)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // substrings of the error; none means valid
	}{
		{name: "small cluster", file: "testdata/small.good.yaml"},
		{name: "unknown field", file: "testdata/unknown-field.bad.yaml", want: []string{"unknown-field.bad.yaml:6: pools[0].node: unknown field (did you mean nodes?)"}},
		{name: "every problem at once", file: "testdata/invalid.bad.yaml", want: []string{
			`invalid.bad.yaml:18: timing.lease: "10x" is not a duration`,
		}},
		{name: "wrong types", file: "testdata/wrong-types.bad.yaml", want: []string{
			`wrong-types.bad.yaml:2: zones: want a sequence, got the string "us-east-1a"`,
			`wrong-types.bad.yaml:4: pools[0].nodes: want an integer, got a sequence`,
		}},
		{name: "server timeouts", file: "testdata/http.bad.yaml", want: []string{
			`http.bad.yaml:15: http.read_header_timeout: 40s is longer than read_timeout 30s`,
			`http.bad.yaml:17: http.write_timeout: 1m0s cuts answers short`,
			`at least 1m30s`,
			`http.bad.yaml:18: http.idle_timeout: must be > 0`,
		}},
		{name: "not a number", file: "testdata/not-a-number.bad.yaml", want: []string{
			"not-a-number.bad.yaml:7: services[0].target_rps: want a finite number, got .inf",
			`not-a-number.bad.yaml:15: prices.instances["m5.2xlarge"].hourly: want a finite number, got .nan`,
		}},
		{name: "instance type with dots", file: "testdata/bad-price.bad.yaml", want: []string{
			`bad-price.bad.yaml:14: prices.instances["m5.2xlarge"]: want hourly > 0`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topo, err := Load(tc.file)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if topo.Model.Speed != 10 || topo.Timing.Lease.D() != 2*time.Second || topo.Gateway.Retries != 2 {
					t.Errorf("overrides or defaults lost: %+v %+v", topo.Model, topo.Timing)
				}
				// write_timeout absent: the body (30 s), three 40 s attempts and 30 s to read.
				if w := topo.HTTP.WriteTimeout.D(); w != 30*time.Second+120*time.Second+30*time.Second {
					t.Errorf("derived write_timeout %v, want 3m0s", w)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestValidationNamesLineAndField(t *testing.T) {
	src := `name: invalid
zones: [us-east-1a]
pools:
  - name: general
    instance_type: m5.9xlarge
    nodes: 1
  - name: gpu
    instance_type: m5.2xlarge
    nodes: 1
    zones: [us-east-1z]
services:
  - {name: api, pool: general, replicas: 0}
  - {name: dashboard, pool: nowhere, replicas: 1}
  - {name: video-worker, pool: gpu, replicas: 1}
model:
  speed: -1
`
	_, err := Parse("t.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		`t.yaml:5: pools[0].instance_type: unknown instance type "m5.9xlarge"`,
		`t.yaml:10: pools[1].zones[0]: zone "us-east-1z"`,
		`t.yaml:12: services[0].replicas: must be >= 1`,
		`t.yaml:13: services[1].pool: unknown pool "nowhere"`,
		`t.yaml:14: services[2].pool: pool "gpu" has no GPU`,
		`t.yaml:16: model.speed: must be a positive number`,
		`service "ai-worker" is required`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error\n%s\nlacks %q", err, w)
		}
	}
}

// A worker owns its node's slots, so a pool with fewer nodes than the worker's replicas gets one
// per node: two video workers on one GPU node would each claim all four slots and double the
// node's capacity.
func TestPlaceGivesAWorkerOneReplicaPerNode(t *testing.T) {
	topo := Default()
	topo.Pool("gpu").Nodes = 1
	perService := map[string][]string{}
	for _, r := range topo.Place(topo.Nodes()) {
		perService[r.Service] = append(perService[r.Service], r.Node)
	}
	if got := perService[ServiceVideoWorker]; len(got) != 1 {
		t.Errorf("video workers on one GPU node: %v, want one", got)
	}
	if got := perService["api"]; len(got) != 3 {
		t.Errorf("API replicas %v, want 3 (not a worker: several per node allowed)", got)
	}
}

// The documented under-provisioned example (docs/ci.md) is what it says: one GPU node, one
// video worker, no autoscaler.
func TestOneGPUNodeExample(t *testing.T) {
	topo, err := Load("../../docs/examples/one-gpu-node.topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if gpu := topo.Pool("gpu"); gpu.Nodes != 1 || gpu.Max != 1 || topo.Autoscaler.Enabled {
		t.Errorf("gpu pool %+v, autoscaler %+v", gpu, topo.Autoscaler)
	}
	workers := 0
	for _, r := range topo.Place(topo.Nodes()) {
		if r.Service == ServiceVideoWorker {
			workers++
		}
	}
	if workers != 1 {
		t.Errorf("%d video workers, want 1", workers)
	}
}

// The documented N+1 example (docs/profiles.md) is what it says: the plan's topology with a GPU
// node in each zone, so a node's or a zone's loss leaves two video workers, and the autoscaler
// never goes below three.
func TestNPlusOneGPUExample(t *testing.T) {
	topo, err := Load("../../docs/examples/n-plus-one-gpu.topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if gpu := topo.Pool("gpu"); gpu.Nodes != 3 || gpu.Min != 3 || gpu.Max != 8 || !topo.Autoscaler.Enabled {
		t.Errorf("gpu pool %+v, autoscaler %+v", gpu, topo.Autoscaler)
	}
	zoneOf := map[string]string{}
	for _, n := range topo.Nodes() {
		zoneOf[n.Name] = n.Zone
	}
	workersPerZone := map[string]int{}
	for _, r := range topo.Place(topo.Nodes()) {
		if r.Service == ServiceVideoWorker {
			workersPerZone[zoneOf[r.Node]]++
		}
	}
	for _, zone := range topo.Zones {
		if workersPerZone[zone] != 1 {
			t.Errorf("video workers per zone %v, want one in each of %v", workersPerZone, topo.Zones)
			break
		}
	}
	// Everything but the GPU pool and its workers is the plan's reference topology.
	want := Default()
	want.Name, want.Network = topo.Name, topo.Network
	*want.Pool("gpu") = *topo.Pool("gpu")
	want.Service(ServiceVideoWorker).Replicas = 3
	if !reflect.DeepEqual(topo, want) {
		t.Errorf("the example differs from the reference topology outside its GPU pool:\n got %+v\nwant %+v", topo, want)
	}
}
