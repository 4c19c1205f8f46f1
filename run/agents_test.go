package run

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/agents"
	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
	"github.com/dailydoco/ddp-verify/verdict"
)

// testAgentEnv makes this test binary a load agent (as `ddp-verify agent` is): its value is
// the coordinator's URL and index.
const testAgentEnv = "DDP_TEST_AGENT"

// runIfTestAgent runs this process as a load agent when testAgentExec started it, and exits.
func runIfTestAgent() {
	v := os.Getenv(testAgentEnv)
	if os.Getenv("DDP_LOCAL_POD") == "1" && len(os.Args) == 4 && os.Args[1] == "agent" && os.Args[2] == "--coordinator" {
		// A pod of the agents' Job on the local cluster (image ddp-verify runs this binary):
		// `agent --coordinator URL`, its index from the Job controller.
		v = os.Args[3] + " " + os.Getenv("JOB_COMPLETION_INDEX")
	}
	if v == "" {
		return
	}
	url, idx, _ := strings.Cut(v, " ")
	i, _ := strconv.Atoi(idx)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := agents.RunAgent(context.Background(), agents.AgentConfig{Coordinator: url, Index: i, Build: AgentWorkload, Logger: log}); err != nil {
		log.Error("agent", "err", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// agentProcs starts the test binary as the load agents and keeps their commands, so that a
// test can kill one.
type agentProcs struct {
	mu   sync.Mutex
	cmds map[int]*exec.Cmd
}

func (a *agentProcs) exec(i int, url string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), testAgentEnv+"="+url+" "+strconv.Itoa(i))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmds == nil {
		a.cmds = map[int]*exec.Cmd{}
	}
	a.cmds[i] = cmd
	return cmd
}

func (a *agentProcs) get(i int) *exec.Cmd {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cmds[i]
}

// A run spread over three agent processes is the run: GO, each agent done with its share,
// the load statistics the agents' shares added up, and the generator's metrics (which the
// agents push) in Prometheus: the request-count cross-check with the servers passes. The
// agents reach the run at the coordinator URL it advertises (here by the name localhost).
func TestRunOnAgents(t *testing.T) {
	o := options(t, "short.yaml", "reachable.slo.yaml")
	procs := &agentProcs{}
	o.Agents, o.AgentExec = 3, procs.exec
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	o.AgentJob.Listen, o.AgentJob.CoordinatorURL = "127.0.0.1:"+strconv.Itoa(port), "http://localhost:"+strconv.Itoa(port)
	out, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != exitcode.Go {
		t.Fatalf("code %d verdict %s, reasons %q", out.Code, out.Run.Verdict, out.Run.Reasons)
	}
	var requests uint64
	for i, a := range out.Run.Agents {
		if a.Index != i || a.State != "done" || a.Requests == 0 {
			t.Errorf("agent %d: %+v", i, a)
		}
		requests += a.Requests
	}
	if len(out.Run.Agents) != 3 || int64(requests) != out.Run.Load.Total.Count {
		t.Fatalf("%d agents with %d requests; the merged load has %d", len(out.Run.Agents), requests, out.Run.Load.Total.Count)
	}
	for i := range 3 {
		if _, err := os.Stat(filepath.Join(out.Dir, "agents", "agent-"+strconv.Itoa(i)+".log")); err != nil {
			t.Errorf("agent %d's log: %v", i, err)
		}
		if env := strings.Join(procs.get(i).Env, " "); !strings.Contains(env, "http://localhost:"+strconv.Itoa(port)) {
			t.Errorf("agent %d was not given the advertised coordinator URL", i)
		}
	}
	for _, seg := range []string{"0:1/3", "1/3:2/3", "2/3:1"} {
		if !strings.Contains(out.Run.AgentsSummary(), seg) {
			t.Errorf("agents %q miss segment %s", out.Run.AgentsSummary(), seg)
		}
	}
}

// Killing one agent mid-run ends the run NO-GO, the agent named with its segment in the
// verdict's reasons; the other agents are stopped, not left running.
func TestAKilledAgentMakesTheRunNoGo(t *testing.T) {
	o := options(t, "short.yaml", "reachable.slo.yaml")
	procs := &agentProcs{}
	o.Agents, o.AgentExec = 2, procs.exec
	go func() {
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			if cmd := procs.get(1); cmd != nil && cmd.Process != nil {
				time.Sleep(6 * time.Second) // joined, and a few seconds into the load
				_ = cmd.Process.Signal(syscall.SIGKILL)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	out, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != exitcode.NoGo || out.Run.Verdict != verdict.NoGo {
		t.Fatalf("code %d verdict %s, want NO-GO; reasons %q", out.Code, out.Run.Verdict, out.Run.Reasons)
	}
	reasons := strings.Join(out.Run.Reasons, "\n")
	if !strings.Contains(reasons, "load agent 1 (segment 1/2:1) was lost") || !strings.Contains(reasons, "killed") {
		t.Fatalf("reasons do not name the killed agent: %q", out.Run.Reasons)
	}
	if a := out.Run.Agents; len(a) != 2 || a[0].State != "done" || a[1].State != "lost" {
		t.Fatalf("agents %+v", a)
	}
	if d := out.Run.Load.Total.Count; d == 0 {
		t.Error("the merged load is empty: what the agents did before is lost")
	}
}

// Load agents run the profile's journeys; a run with another workload, or a negative count,
// is refused before anything starts.
func TestAgentsRefusedForAnotherWorkload(t *testing.T) {
	for _, n := range []int{2, -1} {
		o, target := fakeRun(t, passingSLO)
		o.Agents = n
		_, err := Run(t.Context(), o)
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "--agents") {
			t.Fatalf("--agents %d: err %v (exit %d), want exit 2 naming --agents", n, err, exitcode.Of(err))
		}
		if target.opened.Load() {
			t.Error("the target was opened")
		}
	}
}

// The agents as an Indexed Job on the local Kubernetes cluster: the real Job controller
// creates a pod per completion index, the scheduler places them, the node agents run them as
// agent processes, which get their index from the Job controller and connect; the run is GO
// with each agent's share named by its pod, and the Job is deleted at the end.
func TestAgentsAsAnIndexedJob(t *testing.T) {
	c := kubeclustertest.Start(t, 0, 0)
	o := options(t, "short.yaml", "reachable.slo.yaml")
	o.Agents, o.AgentsOn, o.AgentJob = 3, AgentsOnKubernetes, AgentJob{Kubeconfig: c.Kubeconfig}
	out, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != exitcode.Go {
		t.Fatalf("code %d verdict %s, reasons %q", out.Code, out.Run.Verdict, out.Run.Reasons)
	}
	var requests int64
	for i, a := range out.Run.Agents {
		if a.State != "done" || !strings.HasPrefix(a.Host, jobName(out.Run.RunID)+"-"+strconv.Itoa(i)+"-") {
			t.Errorf("agent %d: %+v; want done, in a pod of the Job", i, a)
		}
		requests += int64(a.Requests)
	}
	if len(out.Run.Agents) != 3 || requests != out.Run.Load.Total.Count {
		t.Fatalf("%d agents with %d requests; the merged load has %d", len(out.Run.Agents), requests, out.Run.Load.Total.Count)
	}
	client, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := client.BatchV1().Jobs("default").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 0 {
		t.Errorf("the agents' Job is still there: %s", jobs.Items[0].Name)
	}
}

// An agent pod whose process dies mid-run: its pod fails (restart policy Never), and the run
// ends NO-GO naming the agent, its segment and its pod.
func TestAFailedAgentPodMakesTheRunNoGo(t *testing.T) {
	c := kubeclustertest.Start(t, 0, 0)
	client, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	o := options(t, "short.yaml", "reachable.slo.yaml")
	o.Agents, o.AgentsOn, o.AgentJob = 2, AgentsOnKubernetes, AgentJob{Kubeconfig: c.Kubeconfig}
	go func() { // kill agent 1's process a few seconds into the load
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			pods, _ := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
			for _, p := range pods.Items {
				if p.Annotations["batch.kubernetes.io/job-completion-index"] != "1" || len(p.Status.ContainerStatuses) == 0 {
					continue
				}
				if pid, ok := strings.CutPrefix(p.Status.ContainerStatuses[0].ContainerID, "process://"); ok {
					time.Sleep(8 * time.Second)
					n, _ := strconv.Atoi(pid)
					_ = syscall.Kill(n, syscall.SIGKILL)
					return
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	out, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	reasons := strings.Join(out.Run.Reasons, "\n")
	if out.Code != exitcode.NoGo || !strings.Contains(reasons, "load agent 1 (segment 1/2:1) was lost") {
		t.Fatalf("code %d, reasons %q; want NO-GO naming agent 1", out.Code, out.Run.Reasons)
	}
	if !strings.Contains(reasons, "its pod "+jobName(out.Run.RunID)+"-1-") && !strings.Contains(reasons, "no report for") {
		t.Errorf("reasons do not say how agent 1 was lost: %q", out.Run.Reasons)
	}
	t.Logf("reasons: %q", out.Run.Reasons)
}

// An agent resolves the profile it is sent and refuses it when the plan is not the
// coordinator's (a different ddp-verify version): it would run another load.
func TestAgentWorkloadRefusesAnotherPlan(t *testing.T) {
	o := options(t, "short.yaml", "reachable.slo.yaml")
	r := &runner{o: o, plan: o.Plan, runID: "r1", platform: &Platform{BaseURL: "http://127.0.0.1:1"}}
	wl, err := r.agentWorkloadOf()
	if err != nil {
		t.Fatal(err)
	}
	w, err := AgentWorkload(agents.Assignment{Workload: wl}, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("the coordinator's own workload: %v", err)
	}
	if len(w.Scenarios) != len(o.Plan.Scenarios) || len(w.Thresholds) != len(o.Plan.Thresholds) {
		t.Fatalf("%d scenarios and %d thresholds, the plan has %d and %d", len(w.Scenarios), len(w.Thresholds), len(o.Plan.Scenarios), len(o.Plan.Thresholds))
	}
	var aw agentWorkload
	if err := json.Unmarshal(wl, &aw); err != nil {
		t.Fatal(err)
	}
	aw.Fingerprint = "0000000000000000"
	tampered, _ := json.Marshal(aw)
	if _, err := AgentWorkload(agents.Assignment{Workload: tampered}, prometheus.NewRegistry()); err == nil || !strings.Contains(err.Error(), "resolves to plan") {
		t.Fatalf("a plan that is not the coordinator's: %v", err)
	}
}
