package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/load"
	"github.com/dailydoco/ddp-verify/prom"
)

// Workload is what an agent's [Builder] makes of its assignment: the whole test's scenarios,
// thresholds and engine options (seed, HTTP); the agent adds its segment and VU numbering.
type Workload struct {
	Scenarios  []load.ScenarioConfig
	Thresholds []load.Threshold
	Options    []load.Option
}

// Builder reads an assignment's workload; the scenarios' own metrics go to reg, which the
// agent pushes with the engine's.
type Builder func(a Assignment, reg prometheus.Registerer) (Workload, error)

// AgentConfig configures [RunAgent]. Coordinator and Build are required.
type AgentConfig struct {
	// Coordinator is the coordinator's base URL.
	Coordinator string
	// Index is the agent's number, 0-based.
	Index int
	Build Builder
	// JoinTimeout bounds the attempts to reach the coordinator at the start (it may start
	// after the agent); default [DefaultConnectTimeout].
	JoinTimeout time.Duration
	Client      *http.Client
	Logger      *slog.Logger
}

// ErrCoordinatorLost is wrapped by [RunAgent] when the agent stopped its load because the
// coordinator did not answer for the loss timeout.
var ErrCoordinatorLost = errors.New("lost the coordinator")

// agent is one agent's run.
type agent struct {
	cfg    AgentConfig
	log    *slog.Logger
	client *http.Client
	base   string
	a      Assignment
}

// RunAgent joins the coordinator, builds its part of the test, starts at the common start,
// reports every ReportEvery, stops when the coordinator says so or its schedule ends, and
// sends its final report. When the coordinator stops answering for the loss timeout, it
// stops its load by itself and returns an error wrapping [ErrCoordinatorLost].
func RunAgent(ctx context.Context, cfg AgentConfig) error {
	ag := &agent{cfg: cfg, log: cfg.Logger, client: cfg.Client,
		base: strings.TrimRight(cfg.Coordinator, "/") + "/v1/agents/" + strconv.Itoa(cfg.Index)}
	if ag.log == nil {
		ag.log = slog.New(slog.DiscardHandler)
	}
	if ag.client == nil {
		ag.client = &http.Client{}
	}
	if err := ag.join(ctx); err != nil {
		return err
	}
	eng, reg, err := ag.build()
	if err != nil {
		ag.fail(ctx, err)
		return err
	}
	var start Start
	if err := ag.call(ctx, "ready", nil, &start); err != nil {
		return fmt.Errorf("agent %d: wait for the start: %w", cfg.Index, err)
	}
	return ag.run(ctx, eng, reg, start.At)
}

// join asks for the assignment, retrying while the coordinator cannot be reached.
func (ag *agent) join(ctx context.Context) error {
	host, _ := os.Hostname()
	if pod := os.Getenv("POD_NAME"); pod != "" {
		host = pod // in a cluster, the pod is what names the agent
	}
	deadline := time.Now().Add(orDefault(ag.cfg.JoinTimeout, DefaultConnectTimeout))
	for {
		err := ag.call(ctx, "join", Hello{Host: host, PID: os.Getpid()}, &ag.a)
		var refused *refusedError
		switch {
		case err == nil:
			ag.log.Info("joined", "coordinator", ag.cfg.Coordinator, "segment", ag.a.Segment, "of", ag.a.Agents)
			return nil
		case errors.As(err, &refused), ctx.Err() != nil, time.Now().After(deadline):
			return fmt.Errorf("agent %d: join the coordinator at %s: %w", ag.cfg.Index, ag.cfg.Coordinator, err)
		}
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// build makes the engine of the agent's segment: its VUs numbered apart from the other
// agents', the thresholds without abortOnFail (the coordinator decides on the merged data).
func (ag *agent) build() (*load.Engine, *prometheus.Registry, error) {
	seg, err := ag.a.segment()
	if err != nil {
		return nil, nil, fmt.Errorf("agent %d: %w", ag.a.Index, err)
	}
	reg := prometheus.NewRegistry()
	w, err := ag.cfg.Build(ag.a, reg)
	if err != nil {
		return nil, nil, fmt.Errorf("agent %d: build the workload: %w", ag.a.Index, err)
	}
	ths := slices.Clone(w.Thresholds)
	for i := range ths {
		ths[i].AbortOnFail = false
	}
	opts := append(slices.Clone(w.Options), load.WithSegment(seg), load.WithVUIDs(int64(ag.a.Index)+1, int64(ag.a.Agents)), load.WithThresholds(ths...), load.WithLogger(ag.log))
	eng, err := load.NewEngine(w.Scenarios, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("agent %d (segment %s): %w", ag.a.Index, ag.a.Segment, err)
	}
	for _, c := range []prometheus.Collector{eng.Collector(), eng.K6Collector()} {
		if err := reg.Register(c); err != nil {
			return nil, nil, err
		}
	}
	return eng, reg, nil
}

// fail tells the coordinator why the agent cannot take part.
func (ag *agent) fail(ctx context.Context, err error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if cerr := ag.call(rctx, "report", Report{Error: err.Error()}, &Word{}); cerr != nil {
		ag.log.Warn("tell the coordinator of the failure", "err", cerr)
	}
}

// run runs the engine from at, reporting until it ends, then sends the final report.
func (ag *agent) run(ctx context.Context, eng *load.Engine, reg *prometheus.Registry, at time.Time) error {
	stopPush := ag.startPusher(ctx, reg)
	select {
	case <-time.After(time.Until(at)):
	case <-ctx.Done():
	}
	engCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	ended := make(chan error, 1)
	go func() {
		_, err := eng.Run(engCtx)
		ended <- err
	}()
	rep := &reporter{ag: ag, eng: eng, lastOK: time.Now()}
	tick := time.NewTicker(ag.a.ReportEvery)
	defer tick.Stop()
	var lostErr error
	told := false // the coordinator said stop
	for running := true; running; {
		select {
		case <-ended:
			running = false
		case <-tick.C:
			word, err := rep.send(context.WithoutCancel(ctx), false) // also while a signal winds the load down
			switch {
			case err != nil && time.Since(rep.lastOK) > ag.a.LossTimeout && lostErr == nil:
				lostErr = fmt.Errorf("agent %d: %w at %s for %s (%v): stopped its load", ag.a.Index, ErrCoordinatorLost, ag.cfg.Coordinator, time.Since(rep.lastOK).Truncate(time.Second), err)
				ag.log.Error("coordinator lost", "err", lostErr)
				stopLoad()
			case err == nil && word.Stop:
				ag.log.Info("stopping", "reason", word.Reason)
				told = true
				stopLoad()
			}
		}
	}
	stopPush()
	if lostErr != nil {
		return lostErr
	}
	// Stopped by a signal or not, what the agent measured goes to the coordinator, which
	// learns whether its part was cut short.
	if ctx.Err() != nil && !told {
		rep.cut = fmt.Sprintf("it was stopped before its schedule ended (%v)", context.Cause(ctx))
	}
	return rep.final(context.WithoutCancel(ctx))
}

// startPusher sends the agent's metrics to the remote-write receiver every ReportEvery, with
// the agent label; the returned function pushes once more and stops it.
func (ag *agent) startPusher(ctx context.Context, reg *prometheus.Registry) (stop func()) {
	if ag.a.RemoteWriteURL == "" {
		return func() {}
	}
	labels := map[string]string{}
	for k, v := range ag.a.RemoteWriteLabels {
		labels[k] = v
	}
	labels["agent"] = strconv.Itoa(ag.a.Index)
	p := &prom.Pusher{URL: ag.a.RemoteWriteURL, Gatherer: reg, ExtraLabels: labels, Logger: ag.log}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(pctx, ag.a.ReportEvery); err != nil {
			ag.log.Warn("final push of the agent's metrics", "err", err)
		}
	}()
	return func() { cancel(); <-done }
}

// reporter sends an agent's reports: the seconds it closed since the last report the
// coordinator took, and the buckets from the first second not yet reported closed.
type reporter struct {
	ag      *agent
	eng     *load.Engine
	pending []load.WindowSecond
	taken   int64 // seconds before it were collected into pending
	acked   int64 // seconds before it were reported closed
	lastOK  time.Time
	cut     string // why the load was cut short, for the final report
}

func (r *reporter) send(ctx context.Context, final bool) (Word, error) {
	ws, closed, err := r.eng.WindowSeconds(r.taken - 1)
	if err != nil {
		return Word{}, err
	}
	r.pending, r.taken = append(r.pending, ws...), closed
	snap := r.eng.Snapshot()
	if !final && int64(len(snap.Buckets)) > r.acked {
		snap.Buckets = snap.Buckets[r.acked:]
	} else if !final {
		snap.Buckets = nil
	}
	rctx, cancel := context.WithTimeout(ctx, r.ag.a.LossTimeout)
	defer cancel()
	var word Word
	if err := r.ag.call(rctx, "report", Report{Snapshot: snap, Seconds: r.pending, Closed: closed, Final: final, Cut: r.cut}, &word); err != nil {
		return Word{}, err
	}
	r.pending, r.acked, r.lastOK = nil, closed, time.Now()
	return word, nil
}

// final sends the final report, retrying until the loss timeout.
func (r *reporter) final(ctx context.Context) error {
	deadline := time.Now().Add(r.ag.a.LossTimeout)
	for {
		_, err := r.send(ctx, true)
		if err == nil {
			return nil
		}
		var refused *refusedError
		if errors.As(err, &refused) || time.Now().After(deadline) {
			return fmt.Errorf("agent %d: send the final report: %w", r.ag.a.Index, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// refusedError is a coordinator's refusal (an HTTP error status with its message).
type refusedError struct {
	status int
	msg    string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("coordinator refused (%d): %s", e.status, e.msg)
}

// call posts body (none when nil) to the coordinator's endpoint and decodes the answer.
func (ag *agent) call(ctx context.Context, endpoint string, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ag.base+"/"+endpoint, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := ag.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var we wireError
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if json.Unmarshal(raw, &we) != nil || we.Error == "" {
			we.Error = strings.TrimSpace(string(raw))
		}
		return &refusedError{status: resp.StatusCode, msg: we.Error}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<24)).Decode(out); err != nil {
		return fmt.Errorf("coordinator's answer to %s: %w", endpoint, err)
	}
	return nil
}
