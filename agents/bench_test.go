package agents_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/agents"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/load/loadtest"
)

// benchAgentEnv makes this test binary a load agent (the benchmark's agent processes): its
// value is the coordinator's URL and the index.
const benchAgentEnv = "DDP_BENCH_AGENT"

func TestMain(m *testing.M) {
	loadtest.ServeIfChild()
	if v := os.Getenv(benchAgentEnv); v != "" {
		var a struct {
			URL   string
			Index int
		}
		if err := json.Unmarshal([]byte(v), &a); err != nil {
			os.Exit(2)
		}
		if err := agents.RunAgent(context.Background(), agents.AgentConfig{Coordinator: a.URL, Index: a.Index, Build: build}); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkLocalAgents runs a closed-loop load of 64 VUs for 5 s against a minimal server in
// its own process, spread over 1, 2 and 4 agent processes, and reports the total requests per
// second and what the coordinator (this process: its HTTP server, the merges, the merged
// thresholds and live view) costs per agent: CPU milliseconds per second of load, and heap.
func BenchmarkLocalAgents(b *testing.B) {
	url := loadtest.StartChildServer(b)
	for _, n := range []int{1, 2, 4} {
		b.Run("agents="+strconv.Itoa(n), func(b *testing.B) {
			for range b.N {
				benchAgents(b, url, n)
			}
		})
	}
}

func benchAgents(b *testing.B, url string, n int) {
	const dur = 5 * time.Second
	wl, _ := json.Marshal(testLoad{URL: url, VUs: 64, Duration: dur})
	c, err := agents.New(agents.Config{RunID: "bench", Agents: n, Workload: wl, Thresholds: testThresholds})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	var procs []*exec.Cmd
	for i := range n {
		arg, _ := json.Marshal(struct {
			URL   string
			Index int
		}{srv.URL, i})
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), benchAgentEnv+"="+string(arg))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		procs = append(procs, cmd)
	}
	if _, err := c.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := loadtest.SelfCPU(b)
	res, err := c.Run(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	cpu := loadtest.SelfCPU(b) - cpu0
	runtime.ReadMemStats(&m1)
	for _, p := range procs {
		_ = p.Wait()
	}
	reqs, failed := res.Snapshot.Rate(load.MetricReqFailed, nil)
	if failed > 0 || reqs == 0 {
		b.Fatalf("%d requests, %d failed", reqs, failed)
	}
	secs := res.Snapshot.Elapsed.Seconds()
	b.ReportMetric(float64(reqs)/secs, "req/s")
	b.ReportMetric(cpu*1000/secs/float64(n), "coord-CPU-ms/s/agent")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/secs/float64(n)/(1<<20), "coord-alloc-MiB/s/agent")
	b.ReportMetric(float64(m1.HeapInuse)/float64(n)/(1<<20), "coord-heap-MiB/agent")
}
