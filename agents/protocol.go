// Package agents runs one load test over several generator processes, the agents, each
// running its execution segment of the test ([load.Segment]), and merges what they measure
// exactly: a [Coordinator] hands every agent the plan and its segment, gives them a common
// start time, merges the snapshots they stream ([load.Snapshot.Merge]), evaluates the
// thresholds over the merged data (windowed ones too, [load.MergedThresholds]) and tells them
// to stop; [RunAgent] is an agent's side. An agent that dies, goes silent or cannot connect
// is reported by name and segment, never absorbed as a smaller load; an agent that loses its
// coordinator stops its load by itself.
//
// The protocol is JSON over HTTP; the agent calls, the coordinator answers (docs/agents.md):
//
//	POST /v1/agents/{index}/join    Hello        -> Assignment
//	POST /v1/agents/{index}/ready   (empty)      -> Start (when every agent is ready)
//	POST /v1/agents/{index}/report  Report       -> Word (every second, and a final one)
package agents

import (
	"encoding/json"
	"time"

	"github.com/dailydoco/ddp-verify/load"
)

// Hello is what an agent says when it joins.
type Hello struct {
	Host string `json:"host"`
	PID  int    `json:"pid"`
}

// Assignment is an agent's part of the run.
type Assignment struct {
	RunID string `json:"run_id"`
	// Index is the agent's number, 0-based (a Kubernetes Indexed Job's completion index);
	// its segment is part Index+1 of Sequence.
	Index    int    `json:"index"`
	Agents   int    `json:"agents"`
	Segment  string `json:"segment"`
	Sequence string `json:"sequence"`
	// Workload is the run's description of the load, which the agent's [Builder] reads (the
	// profile and its settings).
	Workload json.RawMessage `json:"workload"`
	// RemoteWriteURL, when set, receives the agent's metrics every ReportEvery, with
	// RemoteWriteLabels and the label agent="<index>" on every series.
	RemoteWriteURL    string            `json:"remote_write_url,omitempty"`
	RemoteWriteLabels map[string]string `json:"remote_write_labels,omitempty"`
	// ReportEvery is how often the agent reports; LossTimeout how long either side waits
	// for the other before it gives up on it.
	ReportEvery time.Duration `json:"report_every_ns"`
	LossTimeout time.Duration `json:"loss_timeout_ns"`
}

// Segment returns the assignment's execution segment.
func (a Assignment) segment() (load.Segment, error) { return load.ParseSegment(a.Segment, a.Sequence) }

// Start is the common start time, on the coordinator's clock.
type Start struct {
	At time.Time `json:"at"`
}

// Report is what an agent measured so far: its snapshot (series and scenarios whole, the
// per-second buckets from the first second it has not reported closed), the windowed
// thresholds' seconds it closed since its last report, and Closed, the first second still
// open. The final report is sent once the agent's load has ended, with every second.
type Report struct {
	Snapshot *load.Snapshot      `json:"snapshot"`
	Seconds  []load.WindowSecond `json:"seconds,omitempty"`
	Closed   int64               `json:"closed"`
	Final    bool                `json:"final,omitempty"`
	// Error is set when the agent failed (its engine could not be built or run).
	Error string `json:"error,omitempty"`
	// Cut, in a final report, says why the agent stopped its load before its schedule ended
	// without the coordinator's word (a SIGTERM): its part of the load was not all offered.
	Cut string `json:"cut,omitempty"`
}

// Word is the coordinator's answer to a report: go on, or stop with a reason.
type Word struct {
	Stop   bool   `json:"stop,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// wireError is the body of a refused call.
type wireError struct {
	Error string `json:"error"`
}
