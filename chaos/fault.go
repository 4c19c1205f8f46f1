package chaos

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Kind names a kind of fault, as written in profiles.
type Kind string

// The fault kinds (DESIGN 4.6).
const (
	ZoneOutage   Kind = "zone-outage"
	NodeFailure  Kind = "node-failure"
	PodKill      Kind = "pod-kill"
	NetworkDelay Kind = "network-delay"
)

// ZoneMode says how a zone fails.
type ZoneMode string

// Zone outage modes.
const (
	// PowerLoss kills every pod and node of the zone; the zone takes no new work.
	PowerLoss ZoneMode = "power-loss"
	// Partition cuts the zone off from the other zones; its pods keep running.
	Partition ZoneMode = "partition"
)

// Fault is one planned failure. It is built once (from a profile) and then only read.
type Fault struct {
	// ID names the fault within a run; it appears in object names and labels, so it must be
	// a DNS label (lower case letters, digits and '-', at most 40 characters).
	ID   string `json:"id" yaml:"id"`
	Kind Kind   `json:"fault" yaml:"fault"`
	// At is the offset from the start of the run at which the fault is submitted.
	At time.Duration `json:"at" yaml:"at"`
	// Duration is how long the fault stays in force once injected. Backends also hand it to
	// the cluster (Chaos Mesh spec.duration) so that faults end even if ddp-verify dies.
	Duration time.Duration `json:"duration" yaml:"duration"`
	Target   Target        `json:"target" yaml:"target"`
	// Force allows a power-loss of the only zone that holds a service's replicas.
	Force bool `json:"force,omitempty" yaml:"force,omitempty"`
}

// Target says what a fault hits. Which fields apply depends on the fault's kind:
//
//   - zone-outage: Zone and Mode.
//   - node-failure: Node, or Pool and Count.
//   - pod-kill: Service or Selector, optionally Namespace (default: the backend's
//     namespaces) and Count (default: every matching pod).
//   - network-delay: Latency, and the pods delayed: a Service or Selector, or every pod on
//     a Zone's nodes or on a Node.
type Target struct {
	Zone string `json:"zone,omitempty" yaml:"zone,omitempty"`
	// Service selects pods by the backend's service label (app.kubernetes.io/name).
	Service   string            `json:"service,omitempty" yaml:"service,omitempty"`
	Mode      ZoneMode          `json:"mode,omitempty" yaml:"mode,omitempty"`
	Pool      string            `json:"pool,omitempty" yaml:"pool,omitempty"`
	Count     int               `json:"count,omitempty" yaml:"count,omitempty"`
	Node      string            `json:"node,omitempty" yaml:"node,omitempty"`
	Namespace string            `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	Selector  map[string]string `json:"selector,omitempty" yaml:"selector,omitempty"`
	Latency   time.Duration     `json:"latency,omitempty" yaml:"latency,omitempty"`
}

// String describes the fault in a few words for logs and progress lines.
func (f Fault) String() string {
	t := f.Target
	switch f.Kind {
	case ZoneOutage:
		return fmt.Sprintf("%s %s %s %s", f.ID, f.Kind, t.Mode, t.Zone)
	case NodeFailure:
		if t.Node != "" {
			return fmt.Sprintf("%s %s %s", f.ID, f.Kind, t.Node)
		}
		return fmt.Sprintf("%s %s %dx%s", f.ID, f.Kind, t.Count, t.Pool)
	default:
		what := t.Service
		switch {
		case what == "" && t.Zone != "":
			what = "zone " + t.Zone
		case what == "" && t.Node != "":
			what = "node " + t.Node
		case what == "":
			what = fmt.Sprint(t.Selector)
		}
		if f.Kind == NetworkDelay {
			return fmt.Sprintf("%s %s +%s %s", f.ID, f.Kind, t.Latency, what)
		}
		return fmt.Sprintf("%s %s %s", f.ID, f.Kind, what)
	}
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$`)

// FieldError is a problem with one field of a fault. Field is a path such as
// "target.zone"; callers that know where the fault came from (a file and line) prefix it.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate reports every problem with the fault, each as a [*FieldError], joined with
// [errors.Join]. It needs no cluster: what a target resolves to is checked at injection.
func (f Fault) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if !dnsLabel.MatchString(f.ID) {
		bad("id", "%q must be a DNS label of at most 40 characters (a-z, 0-9, '-')", f.ID)
	}
	if f.At < 0 {
		bad("at", "must not be negative, got %s", f.At)
	}
	if f.Duration <= 0 {
		bad("duration", "must be positive, got %s", f.Duration)
	}
	t := f.Target
	switch f.Kind {
	case ZoneOutage:
		if t.Zone == "" {
			bad("target.zone", "required for %s", f.Kind)
		}
		if t.Mode != PowerLoss && t.Mode != Partition {
			bad("target.mode", "%s needs mode %s or %s (got %q)", f.Kind, PowerLoss, Partition, t.Mode)
		}
	case NodeFailure:
		switch {
		case t.Node != "" && (t.Pool != "" || t.Count != 0):
			bad("target.node", "give either node, or pool and count, not both")
		case t.Node == "" && t.Pool == "":
			bad("target.pool", "required for %s unless target.node is given", f.Kind)
		case t.Node == "" && t.Count < 1:
			bad("target.count", "must be at least 1, got %d", t.Count)
		}
	case PodKill:
		if t.Service == "" && len(t.Selector) == 0 {
			bad("target.service", "required for %s unless target.selector is given: nothing else limits the pods killed", f.Kind)
		}
		if t.Count < 0 {
			bad("target.count", "must not be negative, got %d", t.Count)
		}
	case NetworkDelay:
		if t.Service == "" && len(t.Selector) == 0 && t.Zone == "" && t.Node == "" {
			bad("target", "%s needs a service, selector, zone or node", f.Kind)
		}
		if t.Latency <= 0 {
			bad("target.latency", "must be positive for %s, got %s", f.Kind, t.Latency)
		}
	default:
		bad("fault", "unknown kind %q (want %s, %s, %s or %s)", f.Kind, ZoneOutage, NodeFailure, PodKill, NetworkDelay)
	}
	if t.Mode != "" && f.Kind != ZoneOutage {
		bad("target.mode", "only %s takes a mode (got %q)", ZoneOutage, t.Mode)
	}
	return errors.Join(errs...)
}

// ValidateAll validates every fault and that IDs are unique. Field paths are prefixed with
// "chaos[i]." so the caller can map them to file lines.
func ValidateAll(faults []Fault) error {
	var errs []error
	seen := map[string]int{}
	for i, f := range faults {
		if err := f.Validate(); err != nil {
			errs = append(errs, prefixFields(fmt.Sprintf("chaos[%d].", i), err))
		}
		if j, dup := seen[f.ID]; dup && f.ID != "" {
			errs = append(errs, &FieldError{Field: fmt.Sprintf("chaos[%d].id", i), Msg: fmt.Sprintf("%q is already used by chaos[%d]", f.ID, j)})
		}
		seen[f.ID] = i
	}
	return errors.Join(errs...)
}

func prefixFields(prefix string, err error) error {
	var out []error
	for _, e := range unjoin(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, &FieldError{Field: prefix + fe.Field, Msg: fe.Msg})
			continue
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
