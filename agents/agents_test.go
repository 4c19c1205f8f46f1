package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/agents"
	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/load/loadtest"
)

// testLoad is the workload of these tests: a constant arrival rate of GETs against the
// target, and a windowed and a whole-run threshold.
type testLoad struct {
	URL      string        `json:"url"`
	Rate     int64         `json:"rate"`
	Duration time.Duration `json:"duration"`
	// VUs, when set, runs that many closed-loop VUs instead (no think time, bodies discarded).
	VUs int64 `json:"vus,omitempty"`
}

func (tl testLoad) json(t *testing.T) json.RawMessage {
	b, err := json.Marshal(tl)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var testThresholds = func() []load.Threshold {
	var out []load.Threshold
	for _, s := range []string{"http_req_duration:p(95)<2000 over 1s", "iterations:count>0", "http_req_failed:rate<0.01"} {
		th, err := load.ParseThresholdSpec(s)
		if err != nil {
			panic(err)
		}
		out = append(out, th)
	}
	return out
}()

// build is the agents' Builder: it reads testLoad.
func build(a agents.Assignment, _ prometheus.Registerer) (agents.Workload, error) {
	var tl testLoad
	if err := json.Unmarshal(a.Workload, &tl); err != nil {
		return agents.Workload{}, err
	}
	get := load.ScenarioFunc(func(ctx context.Context, vu *load.VU) error {
		c := vu.HTTP()
		c.DiscardBody = true
		_, err := c.Get(ctx, "get", tl.URL)
		return err
	})
	if tl.VUs > 0 {
		return agents.Workload{Scenarios: []load.ScenarioConfig{{Name: "s", Executor: load.ConstantVUs{VUs: tl.VUs, Duration: tl.Duration}, Exec: get}}}, nil
	}
	return agents.Workload{
		Scenarios:  []load.ScenarioConfig{{Name: "s", Executor: load.ConstantArrivalRate{Rate: tl.Rate, Duration: tl.Duration, PreAllocatedVUs: 8}, Exec: get}},
		Thresholds: testThresholds,
	}, nil
}

// split is a coordinator on a loopback server with n in-process agents; each agent's
// context can be cancelled on its own (its death).
type split struct {
	c      *agents.Coordinator
	srv    *httptest.Server
	cancel []context.CancelFunc
	errs   []error
	wg     sync.WaitGroup
}

func startSplit(t *testing.T, n int, tl testLoad, loss time.Duration) *split {
	t.Helper()
	c, err := agents.New(agents.Config{RunID: "r1", Agents: n, Workload: tl.json(t), Thresholds: testThresholds,
		LossTimeout: loss, StartDelay: 200 * time.Millisecond, ConnectTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := &split{c: c, srv: httptest.NewServer(c.Handler()), errs: make([]error, n)}
	t.Cleanup(s.srv.Close)
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		s.cancel = append(s.cancel, cancel)
		s.wg.Go(func() {
			s.errs[i] = agents.RunAgent(ctx, agents.AgentConfig{Coordinator: s.srv.URL, Index: i, Build: build, JoinTimeout: 10 * time.Second})
		})
	}
	t.Cleanup(func() {
		for _, c := range s.cancel {
			c()
		}
		s.wg.Wait()
	})
	return s
}

// Four agents offer the load one generator offers (every arrival of the schedule, no more, with
// the same VUs between them), and the merged result is the four snapshots added together: the
// thresholds over it hold.
func TestFourAgentsOfferTheLoadOfOne(t *testing.T) {
	tg := loadtest.NewTarget(t)
	tl := testLoad{URL: tg.URL, Rate: 50, Duration: 2 * time.Second}
	offered, vus := map[int]uint64{}, map[int]int64{}
	for _, n := range []int{1, 4} {
		s := startSplit(t, n, tl, 5*time.Second)
		res, err := s.c.Run(context.Background())
		if err != nil {
			t.Fatalf("%d agents: %v", n, err)
		}
		s.wg.Wait()
		for i, err := range s.errs {
			if err != nil {
				t.Fatalf("%d agents: agent %d: %v", n, i, err)
			}
		}
		iters := offeredIterations(res)
		offered[n], vus[n] = iters, res.Snapshot.VUsMax
		var sum uint64
		for _, st := range s.c.Agents() {
			if st.State != "done" {
				t.Fatalf("%d agents: agent %d is %s (%s)", n, st.Index, st.State, st.Reason)
			}
			sum += st.Iterations + st.Dropped
		}
		if sum != iters {
			t.Errorf("%d agents: the agents' iterations add up to %d, the merged snapshot has %d", n, sum, iters)
		}
		if !res.ThresholdsPassed() || len(res.Thresholds) != len(testThresholds) {
			t.Errorf("%d agents: thresholds %+v", n, res.Thresholds)
		}
		if reqs, _ := res.Snapshot.Rate(load.MetricReqFailed, nil); reqs != uint64(res.Snapshot.Counter(load.MetricIterations, nil)) {
			t.Errorf("%d agents: %d requests for %v completed iterations", n, reqs, res.Snapshot.Counter(load.MetricIterations, nil))
		}
	}
	if want := uint64(tl.Rate) * uint64(tl.Duration/time.Second); offered[1] != want || offered[4] != want {
		t.Fatalf("offered iterations: 1 agent %d, 4 agents %d; the schedule has %d", offered[1], offered[4], want)
	}
	if vus[1] != 8 || vus[4] != 8 {
		t.Fatalf("VUs: 1 agent %d, 4 agents %d together; the scenario preallocates 8", vus[1], vus[4])
	}
}

// An agent stopped mid-run (a SIGTERM: it still sends what it measured) is named, with its
// segment, and the others are told to stop: the run's load is never silently smaller.
func TestAStoppedAgentIsNamed(t *testing.T) {
	tg := loadtest.NewTarget(t)
	s := startSplit(t, 3, testLoad{URL: tg.URL, Rate: 30, Duration: time.Minute}, 10*time.Second)
	go func() {
		for s.c.Live().Requests < 20 {
			time.Sleep(50 * time.Millisecond)
		}
		s.cancel[1]()
	}()
	res, err := s.c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if offered, planned := offeredIterations(res), uint64(30*60); offered >= planned {
		t.Errorf("the run offered %d iterations, its whole schedule (%d): it went on after an agent died", offered, planned)
	}
	sts := s.c.Agents()
	if sts[1].State != "lost" || !strings.Contains(sts[1].Reason, "stopped before its schedule ended") {
		t.Fatalf("agent 1: %+v; want lost, its load cut short", sts[1])
	}
	if sts[1].Requests == 0 {
		t.Errorf("agent 1's measurements before it stopped are gone: %+v", sts[1])
	}
	for _, i := range []int{0, 2} {
		if sts[i].State != "done" {
			t.Errorf("agent %d: %+v; want done (stopped by the coordinator)", i, sts[i])
		}
	}
	if sts[1].Segment != "1/3:2/3" {
		t.Errorf("agent 1's segment %q", sts[1].Segment)
	}
}

// An agent that loses its coordinator stops its load by itself.
func TestAnAgentThatLosesTheCoordinatorStops(t *testing.T) {
	tg := loadtest.NewTarget(t)
	s := startSplit(t, 1, testLoad{URL: tg.URL, Rate: 20, Duration: time.Minute}, 2*time.Second)
	go func() { _, _ = s.c.Run(context.Background()) }()
	for s.c.Live().Requests < 10 {
		time.Sleep(50 * time.Millisecond)
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
	s.wg.Wait()
	if !errors.Is(s.errs[0], agents.ErrCoordinatorLost) {
		t.Fatalf("agent: %v; want it to have lost the coordinator", s.errs[0])
	}
	if sent, planned := tg.Requests.Load(), int64(20*60); sent >= planned {
		t.Errorf("the agent sent %d requests, its whole schedule (%d): it did not stop when the coordinator went away", sent, planned)
	}
	time.Sleep(200 * time.Millisecond) // requests the agent cancelled may still reach the server
	before := tg.Requests.Load()
	time.Sleep(time.Second)
	if after := tg.Requests.Load(); after != before {
		t.Errorf("the target still got %d requests after the agent stopped", after-before)
	}
}

// A run whose agents do not all connect does not start, and says which agent is missing.
func TestAnAgentThatNeverConnectsIsNamed(t *testing.T) {
	tg := loadtest.NewTarget(t)
	tl := testLoad{URL: tg.URL, Rate: 10, Duration: time.Second}
	c, _, agentErr := startFirstOfTwo(t, agents.Config{RunID: "r1", Agents: 2, Workload: tl.json(t), Thresholds: testThresholds, ConnectTimeout: 2 * time.Second})
	_, err := c.Run(context.Background())
	if !errors.Is(err, agents.ErrNotConnected) || !strings.Contains(err.Error(), "agent 1 (segment 1/2:1) was not connected") {
		t.Fatalf("Run: %v", err)
	}
	if err := <-agentErr; err == nil || !strings.Contains(err.Error(), "did not start") {
		t.Fatalf("the connected agent: %v; want told that the run did not start", err)
	}
	if n := tg.Requests.Load(); n != 0 {
		t.Fatalf("%d requests were sent by a run that did not start", n)
	}
}

// An agent whose workload cannot be built fails the start, named with its error.
func TestAnAgentThatCannotBuildIsNamed(t *testing.T) {
	c, err := agents.New(agents.Config{RunID: "r1", Agents: 1, Workload: json.RawMessage(`{"rate": "fast"}`), ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	go func() {
		_ = agents.RunAgent(context.Background(), agents.AgentConfig{Coordinator: srv.URL, Index: 0, Build: build})
	}()
	_, err = c.Run(context.Background())
	if !errors.Is(err, agents.ErrNotConnected) || !strings.Contains(err.Error(), "agent 0 (segment 0:1) failed") || !strings.Contains(err.Error(), "build the workload") {
		t.Fatalf("Run: %v", err)
	}
}

// An agent that goes silent (joined and started, then no report: a hung or partitioned
// process) is lost after the loss timeout, by name and segment, and the others stop.
func TestASilentAgentIsLost(t *testing.T) {
	tg := loadtest.NewTarget(t)
	tl := testLoad{URL: tg.URL, Rate: 20, Duration: time.Minute}
	c, srv, agentErr := startFirstOfTwo(t, agents.Config{RunID: "r1", Agents: 2, Workload: tl.json(t), Thresholds: testThresholds,
		LossTimeout: 5 * time.Second, StartDelay: 100 * time.Millisecond, ConnectTimeout: 30 * time.Second})
	// Agent 1 joins and waits for the start like an agent, and then never reports.
	go func() {
		for _, step := range []string{"join", "ready"} {
			resp, err := srv.Client().Post(srv.URL+"/v1/agents/1/"+step, "application/json", strings.NewReader(`{"host":"silent","pid":1}`))
			if err != nil {
				return
			}
			resp.Body.Close()
		}
	}()
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if offered, planned := offeredIterations(res), uint64(20*60); offered >= planned/2 {
		t.Errorf("agent 0 offered %d iterations, its whole half of the schedule (%d): the run went on with a silent agent", offered, planned/2)
	}
	sts := c.Agents()
	if sts[1].State != "lost" || !strings.Contains(sts[1].Reason, "no report for") || sts[1].Segment != "1/2:1" {
		t.Fatalf("agent 1: %+v; want lost for want of reports", sts[1])
	}
	if sts[0].State != "done" {
		t.Errorf("agent 0: %+v; want done (stopped by the coordinator)", sts[0])
	}
	if err := <-agentErr; err != nil {
		t.Errorf("agent 0: %v", err)
	}
}

// startFirstOfTwo serves a coordinator of cfg and runs its agent 0 in process; agent 1 is the
// test's to play (or to leave out). The agent's error arrives on the channel.
func startFirstOfTwo(t *testing.T, cfg agents.Config) (*agents.Coordinator, *httptest.Server, <-chan error) {
	t.Helper()
	c, err := agents.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	agentErr := make(chan error, 1)
	go func() {
		agentErr <- agents.RunAgent(context.Background(), agents.AgentConfig{Coordinator: srv.URL, Index: 0, Build: build})
	}()
	return c, srv, agentErr
}

// Interrupting the coordinator (the run's first Ctrl-C) stops every agent through its next
// report: each sends its final report and is done, not lost, and the run ends at once.
func TestInterruptingTheCoordinatorStopsTheAgents(t *testing.T) {
	tg := loadtest.NewTarget(t)
	s := startSplit(t, 2, testLoad{URL: tg.URL, Rate: 20, Duration: time.Minute}, 10*time.Second)
	ctx, interrupt := context.WithCancel(context.Background())
	go func() {
		for s.c.Live().Requests < 10 {
			time.Sleep(50 * time.Millisecond)
		}
		interrupt()
	}()
	res, err := s.c.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v; want the interruption", err)
	}
	if offered, planned := offeredIterations(res), uint64(20*60); offered >= planned {
		t.Errorf("the run offered %d iterations, its whole schedule (%d): the interruption did not stop it", offered, planned)
	}
	for _, st := range s.c.Agents() {
		if st.State != "done" {
			t.Errorf("agent %d: %+v; want done, stopped by the coordinator", st.Index, st)
		}
	}
	if reqs, _ := res.Snapshot.Rate(load.MetricReqFailed, nil); reqs < 10 {
		t.Errorf("the merged result has %d requests", reqs)
	}
	s.wg.Wait()
	for i, err := range s.errs {
		if err != nil {
			t.Errorf("agent %d: %v", i, err)
		}
	}
}

// offeredIterations is what a run's arrival-rate schedule offered: iterations started or
// dropped. A run that stopped early offered less than its whole schedule, whatever the
// machine's speed: the tests compare with it instead of the wall clock.
func offeredIterations(res *load.Result) uint64 {
	return uint64(res.Snapshot.Counter(load.MetricIterations, nil) + res.Snapshot.Counter(load.MetricDroppedIterations, nil))
}
