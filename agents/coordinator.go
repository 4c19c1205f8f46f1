package agents

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/dailydoco/ddp-verify/load"
)

// Defaults of [Config]'s optional settings.
const (
	DefaultConnectTimeout = time.Minute
	DefaultLossTimeout    = 10 * time.Second
	DefaultReportEvery    = time.Second
	DefaultStartDelay     = time.Second
)

// maxReport bounds a report's body: a long run's snapshot with every per-second bucket.
const maxReport = 256 << 20

// Config configures a [Coordinator]. RunID, Agents and Workload are required.
type Config struct {
	RunID string
	// Agents is how many agents run the test: agent i runs segment i+1 of n equal parts.
	Agents int
	// Workload is handed to every agent as it is (the run's description of the load).
	Workload json.RawMessage
	// Thresholds are the run's thresholds, evaluated over the merged data; the agents run
	// the same list and send their windowed thresholds' seconds by index.
	Thresholds []load.Threshold
	// RemoteWriteURL and RemoteWriteLabels go to every agent (see [Assignment]).
	RemoteWriteURL    string
	RemoteWriteLabels map[string]string
	// ConnectTimeout bounds the wait for every agent to join and be ready; LossTimeout how
	// long an agent may go without a report before it is lost; ReportEvery how often agents
	// report; StartDelay the time between the last agent's readiness and the common start.
	ConnectTimeout, LossTimeout, ReportEvery, StartDelay time.Duration
	Clock                                                clock.WithTicker
	Logger                                               *slog.Logger
}

// phase is where an agent is in the run.
type phase int

const (
	waiting phase = iota // not joined yet
	joined               // has its assignment, building its engine
	ready                // waiting for the start
	running              // reporting
	done                 // sent its final report
	lost                 // died, went silent, failed or never connected
)

var phaseNames = [...]string{"not connected", "joined", "ready", "running", "done", "lost"}

// agentState is one agent as the coordinator knows it.
type agentState struct {
	index    int
	segment  string
	hello    Hello
	phase    phase
	lastSeen time.Time
	snap     *load.Snapshot // the latest report's, with every bucket reported so far
	closed   int64
	reason   string        // why it was lost
	lostAt   time.Duration // from the start
}

// Coordinator is the run's side of a test spread over agents: build it with [New], serve its
// [Coordinator.Handler] where the agents can reach it, start the agents and call
// [Coordinator.Run]. [Coordinator.Live] and [Coordinator.Agents] may be called at any time.
type Coordinator struct {
	cfg       Config
	sequence  string
	segments  []string
	clock     clock.WithTicker
	log       *slog.Logger
	threshold *load.MergedThresholds

	mu      sync.Mutex
	agents  []*agentState
	start   time.Time
	started chan struct{} // closed at the common start
	refused chan struct{} // closed when the run will not start
	refusal string
	stopWhy string
	changed chan struct{} // signalled when an agent's phase changes
}

// New validates cfg and returns a coordinator whose agents have not joined.
func New(cfg Config) (*Coordinator, error) {
	if cfg.Agents < 1 {
		return nil, fmt.Errorf("agents: %d agents; want at least 1", cfg.Agents)
	}
	if cfg.RunID == "" || len(cfg.Workload) == 0 {
		return nil, errors.New("agents: a coordinator needs the run id and the workload")
	}
	cfg.ConnectTimeout = orDefault(cfg.ConnectTimeout, DefaultConnectTimeout)
	cfg.LossTimeout = orDefault(cfg.LossTimeout, DefaultLossTimeout)
	cfg.ReportEvery = orDefault(cfg.ReportEvery, DefaultReportEvery)
	cfg.StartDelay = orDefault(cfg.StartDelay, DefaultStartDelay)
	c := &Coordinator{cfg: cfg, clock: cfg.Clock, log: cfg.Logger, threshold: load.NewMergedThresholds(cfg.Thresholds),
		started: make(chan struct{}), refused: make(chan struct{}), changed: make(chan struct{}, 1)}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.sequence, c.segments = equalParts(cfg.Agents)
	for i := range cfg.Agents {
		c.agents = append(c.agents, &agentState{index: i, segment: c.segments[i]})
	}
	return c, nil
}

// equalParts is the sequence of n equal parts in k6's notation, and each part.
func equalParts(n int) (sequence string, parts []string) {
	cuts := make([]string, n+1)
	for i := range n + 1 {
		cuts[i] = big.NewRat(int64(i), int64(n)).RatString()
	}
	for i := range n {
		parts = append(parts, cuts[i]+":"+cuts[i+1])
	}
	return strings.Join(cuts, ","), parts
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Segment is agent i's execution segment in k6's notation.
func (c *Coordinator) Segment(i int) string { return c.segments[i] }

// Handler serves the agents' calls.
func (c *Coordinator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/agents/{index}/join", c.join)
	mux.HandleFunc("POST /v1/agents/{index}/ready", c.ready)
	mux.HandleFunc("POST /v1/agents/{index}/report", c.report)
	return mux
}

// agent returns the state of the agent a request names, or answers 404.
func (c *Coordinator) agent(w http.ResponseWriter, r *http.Request) *agentState {
	i, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || i < 0 || i >= len(c.agents) {
		refuse(w, http.StatusNotFound, fmt.Sprintf("agent index %q: this run has agents 0 to %d", r.PathValue("index"), len(c.agents)-1))
		return nil
	}
	return c.agents[i]
}

func (c *Coordinator) join(w http.ResponseWriter, r *http.Request) {
	st := c.agent(w, r)
	if st == nil {
		return
	}
	var h Hello
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&h); err != nil {
		refuse(w, http.StatusBadRequest, "join: "+err.Error())
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.refusal != "":
		refuse(w, http.StatusConflict, c.refusal)
		return
	case st.phase != waiting:
		refuse(w, http.StatusConflict, fmt.Sprintf("agent %d already joined (%s, pid %d)", st.index, st.hello.Host, st.hello.PID))
		return
	}
	st.hello, st.phase, st.lastSeen = h, joined, c.clock.Now()
	c.signal()
	c.log.Info("agent joined", "agent", st.index, "segment", st.segment, "host", h.Host, "pid", h.PID)
	reply(w, Assignment{RunID: c.cfg.RunID, Index: st.index, Agents: len(c.agents), Segment: st.segment, Sequence: c.sequence,
		Workload: c.cfg.Workload, RemoteWriteURL: c.cfg.RemoteWriteURL, RemoteWriteLabels: c.cfg.RemoteWriteLabels,
		ReportEvery: c.cfg.ReportEvery, LossTimeout: c.cfg.LossTimeout})
}

// ready waits until every agent is ready and answers the common start, or the reason the
// run will not start.
func (c *Coordinator) ready(w http.ResponseWriter, r *http.Request) {
	st := c.agent(w, r)
	if st == nil {
		return
	}
	c.mu.Lock()
	if st.phase != joined {
		c.mu.Unlock()
		refuse(w, http.StatusConflict, fmt.Sprintf("agent %d is %s, not joined", st.index, phaseNames[st.phase]))
		return
	}
	st.phase, st.lastSeen = ready, c.clock.Now()
	c.signal()
	c.mu.Unlock()
	select {
	case <-c.started:
		c.mu.Lock()
		st.phase, st.lastSeen = running, c.clock.Now()
		at := c.start
		c.mu.Unlock()
		reply(w, Start{At: at})
	case <-c.refused:
		refuse(w, http.StatusConflict, c.refusalText())
	case <-r.Context().Done():
		c.markLost(st, "it hung up while waiting for the start")
	}
}

func (c *Coordinator) refusalText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refusal
}

func (c *Coordinator) report(w http.ResponseWriter, r *http.Request) {
	st := c.agent(w, r)
	if st == nil {
		return
	}
	var rep Report
	if err := json.NewDecoder(io.LimitReader(r.Body, maxReport)).Decode(&rep); err != nil {
		refuse(w, http.StatusBadRequest, "report: "+err.Error())
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case st.phase == lost:
		reply(w, Word{Stop: true, Reason: "this agent was declared lost: " + st.reason})
		return
	case st.phase == done:
		reply(w, Word{}) // a final report sent again: its answer was lost
		return
	case rep.Error != "" && st.phase != done && st.phase != waiting:
		c.markLostLocked(st, "it failed: "+rep.Error)
		reply(w, Word{Stop: true, Reason: c.stopWhy})
		return
	case st.phase != running:
		refuse(w, http.StatusConflict, fmt.Sprintf("agent %d is %s: it reports only while running", st.index, phaseNames[st.phase]))
		return
	case rep.Snapshot == nil:
		c.markLostLocked(st, "it sent a report without a snapshot")
		reply(w, Word{Stop: true, Reason: c.stopWhy})
		return
	}
	st.lastSeen = c.clock.Now()
	if err := c.threshold.Add(unseen(rep.Seconds, st.closed)); err != nil {
		c.markLostLocked(st, err.Error())
	} else {
		st.snap = withBuckets(st.snap, rep.Snapshot)
		st.closed = max(st.closed, rep.Closed)
		switch {
		case rep.Final && rep.Cut != "" && c.stopWhy == "":
			c.markLostLocked(st, rep.Cut)
		case rep.Final:
			st.phase = done
			c.signal()
		}
	}
	reply(w, Word{Stop: c.stopWhy != "", Reason: c.stopWhy})
}

// unseen drops the seconds before closed, which the agent's earlier reports carried: a report
// whose answer the agent did not receive is sent again with the seconds since.
func unseen(seconds []load.WindowSecond, closed int64) []load.WindowSecond {
	out := seconds[:0:0]
	for _, ws := range seconds {
		if ws.Second >= closed {
			out = append(out, ws)
		}
	}
	return out
}

// withBuckets is the agent's new snapshot with the buckets of its earlier ones that the new
// one no longer carries (closed seconds are reported once).
func withBuckets(old, latest *load.Snapshot) *load.Snapshot {
	if old == nil {
		return latest
	}
	buckets := old.Buckets
	for _, b := range latest.Buckets {
		for int64(len(buckets)) <= b.Second {
			buckets = append(buckets, load.TimeBucket{Second: int64(len(buckets))})
		}
		buckets[b.Second] = b
	}
	latest.Buckets = buckets
	return latest
}

// Fail declares agent i lost for err, unless it has already finished: its process exited, or
// it could not be started.
func (c *Coordinator) Fail(i int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.agents[i]; st.phase != done {
		c.markLostLocked(st, err.Error())
	}
}

func (c *Coordinator) markLost(st *agentState, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.markLostLocked(st, why)
}

// markLostLocked records that an agent is lost and asks the others to stop: the run's load
// would be smaller than planned.
func (c *Coordinator) markLostLocked(st *agentState, why string) {
	if st.phase == lost || st.phase == done {
		return
	}
	st.phase, st.reason = lost, why
	if !c.start.IsZero() {
		st.lostAt = c.clock.Since(c.start)
	}
	c.log.Warn("agent lost", "agent", st.index, "segment", st.segment, "reason", why)
	if c.stopWhy == "" {
		c.stopWhy = fmt.Sprintf("agent %d (segment %s) was lost: %s", st.index, st.segment, why)
	}
	c.signal()
}

func (c *Coordinator) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func refuse(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(wireError{Error: msg})
}
