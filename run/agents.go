package run

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/dailydoco/ddp-verify/agents"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/reports"
)

// AgentExec returns an unstarted command that runs load agent index of a run, connecting to
// the coordinator at url (`ddp-verify agent --coordinator URL --index I`, or an equivalent).
type AgentExec func(index int, url string) *exec.Cmd

// SelfAgentExec runs the current executable as the agents: the production AgentExec.
func SelfAgentExec() (AgentExec, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	return func(index int, url string) *exec.Cmd {
		return exec.Command(exe, "agent", "--coordinator", url, "--index", strconv.Itoa(index))
	}, nil
}

// agentWorkload is what the run hands each load agent: the profile as it runs (scaled; its
// faults are the coordinator's business), the settings that shape the load, where it goes,
// and a fingerprint of the plan, which the agent checks after resolving the profile itself.
type agentWorkload struct {
	Source      string      `json:"source"`
	Profile     []byte      `json:"profile"` // YAML
	Seed        uint64      `json:"seed"`
	Headers     http.Header `json:"headers,omitempty"`
	BaseURL     string      `json:"base_url"`
	RunID       string      `json:"run_id"`
	Fingerprint string      `json:"fingerprint"`
}

// planFingerprint digests what the load of a plan is made of: its scenarios and thresholds.
func planFingerprint(p *profile.Plan) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%+v|%+v", p.Scenarios, p.Thresholds))
	return hex.EncodeToString(sum[:8])
}

// agentWorkloadOf describes the run's load for its agents.
func (r *runner) agentWorkloadOf() (json.RawMessage, error) {
	prof, err := yaml.Marshal(r.plan.Profile)
	if err != nil {
		return nil, fmt.Errorf("write the profile for the load agents: %w", err)
	}
	return json.Marshal(agentWorkload{Source: r.plan.Profile.Source(), Profile: prof, Seed: r.o.seed(), Headers: r.o.Headers,
		BaseURL: r.platform.BaseURL, RunID: r.runID, Fingerprint: planFingerprint(r.plan)})
}

// AgentWorkload is a load agent's [agents.Builder]: it resolves the profile its coordinator
// sent (refusing it when the plan is not the coordinator's), and builds the DailyDoco journey
// scenarios against the platform, their metrics in reg.
func AgentWorkload(a agents.Assignment, reg prometheus.Registerer) (agents.Workload, error) {
	var w agentWorkload
	if err := json.Unmarshal(a.Workload, &w); err != nil {
		return agents.Workload{}, fmt.Errorf("the coordinator's workload: %w", err)
	}
	prof, err := profile.Parse("coordinator:"+w.Source, w.Profile, profile.Force()) // the coordinator checked the whole test's size
	if err != nil {
		return agents.Workload{}, err
	}
	plan, err := prof.Plan()
	if err != nil {
		return agents.Workload{}, err
	}
	if got := planFingerprint(plan); got != w.Fingerprint {
		return agents.Workload{}, fmt.Errorf("the profile %s resolves to plan %s here and %s at the coordinator: a different ddp-verify version?", w.Source, got, w.Fingerprint)
	}
	scen, err := Journeys{}.Scenarios(plan, w.BaseURL, w.RunID, reg)
	if err != nil {
		return agents.Workload{}, err
	}
	return agents.Workload{Scenarios: scen, Thresholds: plan.Thresholds,
		Options: []load.Option{load.WithSeed(w.Seed), load.WithHTTP(load.HTTPOptions{Headers: w.Headers})}}, nil
}

// agentRun is the run's load spread over agent processes on this machine: the coordinator,
// its loopback server and the processes.
type agentRun struct {
	*agents.Coordinator
	srv   *http.Server
	procs []*agentProcess
	job   *agentJobRun // the agents' Job, with --agents-on kubernetes
}

type agentProcess struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// agentTimings are the coordinator's: how long agents have to connect and how long they may
// be silent.
var agentTimings = struct{ connect, loss time.Duration }{time.Minute, 10 * time.Second}

// startAgents serves a coordinator on loopback and starts Options.Agents agent processes,
// each logging into the run directory's agents/.
func (r *runner) startAgents() (*agentRun, error) {
	wl, err := r.agentWorkloadOf()
	if err != nil {
		return nil, infra("%w", err)
	}
	host, _ := os.Hostname()
	c, err := agents.New(agents.Config{RunID: r.runID, Agents: r.o.Agents, Workload: wl, Thresholds: r.plan.Thresholds,
		RemoteWriteURL: r.platform.RemoteWriteURL, RemoteWriteLabels: map[string]string{"job": GeneratorJob, "instance": host, "run_id": r.runID},
		ConnectTimeout: agentTimings.connect, LossTimeout: agentTimings.loss, Clock: r.clock, Logger: r.log})
	if err != nil {
		return nil, badInput("%w", err)
	}
	if r.platform.RemoteWriteURL == "" {
		return nil, badInput("--agents: the target's Prometheus takes no remote write, so the agents' metrics would be lost")
	}
	listen := orString(r.o.AgentJob.Listen, "127.0.0.1:0")
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, infra("listen for the load agents on %s: %w", listen, err)
	}
	ar := &agentRun{Coordinator: c, srv: generatorServer(c.Handler())}
	go ar.srv.Serve(ln)
	url := orString(r.o.AgentJob.CoordinatorURL, "http://"+ln.Addr().String())
	if r.o.AgentsOn == AgentsOnKubernetes {
		if ar.job, err = startAgentJob(r.o.AgentJob, c, r.runID, r.o.Agents, url); err != nil {
			ar.srv.Close()
			return nil, err
		}
		fmt.Fprintf(r.o.progress(), "ddp-verify: load agents: Job %s/%s\n", ar.job.job.Namespace, ar.job.job.Name)
		return ar, nil
	}
	exe := r.o.AgentExec
	if exe == nil {
		if exe, err = SelfAgentExec(); err != nil {
			ar.srv.Close()
			return nil, infra("locate the ddp-verify binary to start the load agents: %w", err)
		}
	}
	dir := filepath.Join(r.dir, "agents")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		ar.srv.Close()
		return nil, infra("create the agents' log directory: %w", err)
	}
	for i := range r.o.Agents {
		p, err := startAgentProcess(exe(i, url), filepath.Join(dir, fmt.Sprintf("agent-%d.log", i)))
		if err != nil {
			c.Fail(i, err)
			continue
		}
		ar.procs = append(ar.procs, p)
		go func() {
			<-p.done
			c.Fail(i, p.exitError())
		}()
	}
	return ar, nil
}

// startAgentProcess starts one agent in its own process group (a Ctrl-C at the terminal is
// the coordinator's to pass on, as a stop word), its output in logPath.
func startAgentProcess(cmd *exec.Cmd, logPath string) (*agentProcess, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create its log: %w", err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start its process: %w", err)
	}
	p := &agentProcess{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exitError says how the process ended, with the last line of its log.
func (p *agentProcess) exitError() error {
	return fmt.Errorf("its process (pid %d) exited (%s) before its final report; %s: %s", p.cmd.Process.Pid, p.cmd.ProcessState, p.log, lastLine(p.log))
}

// lastLine is the last non-empty line of a file (an agent's log), for error messages.
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log)"
	}
	defer f.Close()
	last := "(empty log)"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			last = line
		}
	}
	return last
}

// stop waits for the agent processes to exit after their final reports (killing what is
// left after a grace period), deletes the agents' Job, and closes the coordinator's server.
func (ar *agentRun) stop(grace time.Duration) {
	if ar.job != nil {
		ar.job.delete()
	}
	deadline := time.After(grace)
	for _, p := range ar.procs {
		select {
		case <-p.done:
		case <-deadline:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	ar.srv.Close()
}

// agentReasons says which agents were lost: a run whose load was smaller than planned is
// never GO.
func agentReasons(sts []agents.Status) []string {
	var out []string
	for _, st := range sts {
		if st.State == "done" {
			continue
		}
		why := st.Reason
		if why == "" {
			why = "it did not finish (" + st.State + ")"
		}
		out = append(out, fmt.Sprintf("load agent %d (segment %s) was lost at %s: %s; the load was smaller than planned", st.Index, st.Segment, st.LostAt.Truncate(time.Second), why))
	}
	return out
}

// agentRecords are the agents' parts for run.json.
func agentRecords(sts []agents.Status) []reports.Agent {
	var out []reports.Agent
	for _, st := range sts {
		out = append(out, reports.Agent{Index: st.Index, Segment: st.Segment, Host: st.Host, PID: st.PID, State: st.State, Reason: st.Reason,
			Requests: st.Requests, Failed: st.Failed, Iterations: st.Iterations, Dropped: st.Dropped, VUsMax: st.VUsMax})
	}
	return out
}
