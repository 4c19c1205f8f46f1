package chaos

import (
	"context"
	"errors"
	"time"
)

// ErrUnsupported is returned (wrapped) by a backend asked for a fault it cannot inject.
var ErrUnsupported = errors.New("fault not supported by this backend")

// Backend injects and recovers faults on one kind of platform. The scheduler calls, for each
// fault: Select, then (if the guardrails allow it) Inject, WaitInjected, Recover,
// WaitRecovered. Recover and WaitRecovered are also called after a failed or cancelled
// WaitInjected, so they must work on a partly applied injection. Every method takes a
// context that bounds it; the scheduler hands Recover and WaitRecovered a context that
// outlives the run's own, bounded by the recovery timeout.
type Backend interface {
	// Select resolves what the fault would hit now, without changing anything.
	Select(ctx context.Context, f Fault) (Impact, error)
	// Inject applies the fault to exactly the impact Select returned. When it fails after
	// changing something it still returns the injection, so that it can be recovered.
	Inject(ctx context.Context, f Fault, im Impact) (*Injection, error)
	// WaitInjected returns once the fault is confirmed in force, with the backend's time
	// for that (zero if the backend does not say).
	WaitInjected(ctx context.Context, inj *Injection) (time.Time, error)
	// Recover asks the backend to undo the fault, and returns the backend's time for the
	// request (zero if it gives none). It is safe to call more than once.
	Recover(ctx context.Context, inj *Injection) (time.Time, error)
	// WaitRecovered returns once the fault is confirmed gone, with the backend's time.
	WaitRecovered(ctx context.Context, inj *Injection) (time.Time, error)
	// Cleanup undoes everything this tool left behind for runID (every run when empty),
	// for a run that died before it could recover its faults.
	Cleanup(ctx context.Context, runID string) (CleanupReport, error)
}

// Impact is a fault's blast radius as a backend resolved it: the exact nodes and pods it
// would hit, and what the guardrails need to judge it.
type Impact struct {
	// Nodes the fault hits (cordoned, stopped, isolated or whose pods fail).
	Nodes []string `json:"nodes,omitempty"`
	// TotalNodes is the number of nodes in the cluster, for the maximum share.
	TotalNodes int `json:"total_nodes"`
	// Pods the fault hits.
	Pods []Pod `json:"pods,omitempty"`
	// TotalPods is the number of pods in the namespaces the fault may touch.
	TotalPods int `json:"total_pods"`
	// Namespaces the fault's objects select pods in.
	Namespaces []string `json:"namespaces,omitempty"`
	// SoleZoneServices are the services whose every running replica is in the target zone
	// (zone outages only).
	SoleZoneServices []string `json:"sole_zone_services,omitempty"`
}

// Targets lists the blast radius as names: nodes first, then namespace/pod.
func (im Impact) Targets() []string {
	out := make([]string, 0, len(im.Nodes)+len(im.Pods))
	out = append(out, im.Nodes...)
	for _, p := range im.Pods {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	return out
}

// Pod is one pod in a blast radius.
type Pod struct {
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	Node        string `json:"node,omitempty"`
	DaemonSet   bool   `json:"daemonset,omitempty"`
	HostNetwork bool   `json:"host_network,omitempty"`
}

// Injection is a fault a backend has applied. Backends keep their own handle in State;
// the scheduler only reads the other fields.
type Injection struct {
	Fault  Fault
	Impact Impact
	// Objects names what the backend created or changed, for reports ("PodChaos ns/name").
	Objects []string
	// SubmittedAt is the backend's time for the submission (object creation, change time).
	SubmittedAt time.Time
	// TargetTimes are per-target injection and recovery times when the backend records
	// them (Chaos Mesh records' events).
	TargetTimes []TargetTime
	// State is the backend's own handle.
	State any
}

// TargetTime is when one target was injected and recovered, by the backend's clock.
type TargetTime struct {
	Target    string    `json:"target"`
	Injected  time.Time `json:"injected,omitzero"`
	Recovered time.Time `json:"recovered,omitzero"`
}

// CleanupReport says what Backend.Cleanup did and what it could not do.
type CleanupReport struct {
	// Deleted lists the objects removed ("PodChaos ns/name").
	Deleted []string `json:"deleted,omitempty"`
	// Restored lists nodes uncordoned or zones and nodes restored.
	Restored []string `json:"restored,omitempty"`
	// Left lists what is still there, with the reason.
	Left []string `json:"left,omitempty"`
}
