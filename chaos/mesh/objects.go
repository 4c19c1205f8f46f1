package mesh

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dailydoco/ddp-verify/chaos"
)

// Labels and values this backend puts on what it creates.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "ddp-verify"
	LabelRunID     = "ddp-verify.dailydoco.io/run-id"
	LabelFault     = "ddp-verify.dailydoco.io/fault"
	// LabelCordonedBy marks a node this tool cordoned; the value is the run id.
	LabelCordonedBy = "ddp-verify.dailydoco.io/cordoned-by"
)

// NewScheme returns a scheme with the core Kubernetes kinds and the Chaos Mesh kinds, for
// building the client [New] takes.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err) // static registration: fails only on a programming error
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// build returns the chaos objects for f. nodes is every node of the cluster; pods, when
// not nil, are the exact pods selected, used for the pod-level kinds so the blast radius
// is exact (the manifest renderer passes nil and gets label selectors instead).
func build(f chaos.Fault, o Options, nodes []corev1.Node, pods []chaos.Pod) ([]client.Object, error) {
	dur := f.Duration.String()
	meta := func(suffix string) metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name:      objectName(o.RunID, f.ID, suffix),
			Namespace: o.objectNamespace(),
			Labels:    map[string]string{LabelManagedBy: ManagedBy, LabelRunID: o.RunID, LabelFault: f.ID},
		}
	}
	namespaces := o.namespacesFor(f)
	running := []string{string(corev1.PodRunning)}
	t := f.Target

	switch f.Kind {
	case chaos.ZoneOutage:
		zoneNodes, others := splitZone(nodes, t.Zone)
		if len(zoneNodes) == 0 {
			return nil, fmt.Errorf("no node has %s=%s (zones: %s)", corev1.LabelTopologyZone, t.Zone, strings.Join(zones(nodes), ", "))
		}
		if t.Mode == chaos.PowerLoss && o.AWS != nil {
			// The zone's instances stop together: AWS FIS's "AZ power interruption".
			return ec2Stops(zoneNodes, o, dur, meta)
		}
		if t.Mode == chaos.PowerLoss {
			pc := &v1alpha1.PodChaos{ObjectMeta: meta("")}
			pc.Spec.Action = v1alpha1.PodFailureAction
			pc.Spec.Duration = &dur
			pc.Spec.Mode = v1alpha1.AllMode
			pc.Spec.Selector = v1alpha1.PodSelectorSpec{
				GenericSelectorSpec: v1alpha1.GenericSelectorSpec{Namespaces: namespaces},
				NodeSelectors:       map[string]string{corev1.LabelTopologyZone: t.Zone},
				PodPhaseSelectors:   running,
			}
			return []client.Object{typed(pc, "PodChaos")}, nil
		}
		if len(others) == 0 {
			return nil, fmt.Errorf("zone %s is the only zone: there is nothing to partition it from", t.Zone)
		}
		nc := &v1alpha1.NetworkChaos{ObjectMeta: meta("")}
		nc.Spec.Action = v1alpha1.PartitionAction
		nc.Spec.Direction = v1alpha1.Both
		nc.Spec.Duration = &dur
		nc.Spec.Mode = v1alpha1.AllMode
		nc.Spec.Selector = v1alpha1.PodSelectorSpec{
			GenericSelectorSpec: v1alpha1.GenericSelectorSpec{Namespaces: namespaces},
			Nodes:               names(zoneNodes),
		}
		nc.Spec.Target = &v1alpha1.PodSelector{
			Mode: v1alpha1.AllMode,
			Selector: v1alpha1.PodSelectorSpec{
				GenericSelectorSpec: v1alpha1.GenericSelectorSpec{Namespaces: namespaces},
				Nodes:               names(others),
			},
		}
		return []client.Object{typed(nc, "NetworkChaos")}, nil

	case chaos.NodeFailure:
		targets, err := nodeTargets(f, o, nodes)
		if err != nil {
			return nil, err
		}
		if o.AWS != nil {
			return ec2Stops(targets, o, dur, meta)
		}
		pc := &v1alpha1.PodChaos{ObjectMeta: meta("")}
		pc.Spec.Action = v1alpha1.PodFailureAction
		pc.Spec.Duration = &dur
		pc.Spec.Mode = v1alpha1.AllMode
		pc.Spec.Selector = v1alpha1.PodSelectorSpec{
			GenericSelectorSpec: v1alpha1.GenericSelectorSpec{Namespaces: namespaces},
			Nodes:               names(targets),
			PodPhaseSelectors:   running,
		}
		return []client.Object{typed(pc, "PodChaos")}, nil

	case chaos.PodKill:
		pc := &v1alpha1.PodChaos{ObjectMeta: meta("")}
		pc.Spec.Action = v1alpha1.PodKillAction
		pc.Spec.Duration = &dur
		pc.Spec.PodSelector = o.podSelector(f, namespaces, nodes, pods)
		return []client.Object{typed(pc, "PodChaos")}, nil

	case chaos.NetworkDelay:
		nc := &v1alpha1.NetworkChaos{ObjectMeta: meta("")}
		nc.Spec.Action = v1alpha1.DelayAction
		nc.Spec.Duration = &dur
		nc.Spec.Direction = v1alpha1.To
		nc.Spec.Delay = &v1alpha1.DelaySpec{Latency: t.Latency.String()}
		nc.Spec.PodSelector = o.podSelector(f, namespaces, nodes, pods)
		return []client.Object{typed(nc, "NetworkChaos")}, nil
	}
	return nil, fmt.Errorf("fault %s: %w: %s", f.ID, chaos.ErrUnsupported, f.Kind)
}

// ec2Stops is one AWSChaos ec2-stop per node, its instance taken from the node's providerID,
// named by the node's position in the name order (so a plan and a run agree).
func ec2Stops(nodes []corev1.Node, o Options, dur string, meta func(string) metav1.ObjectMeta) ([]client.Object, error) {
	nodes = slices.Clone(nodes)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	var objs []client.Object
	for i, n := range nodes {
		inst, err := instanceID(n)
		if err != nil {
			return nil, err
		}
		region := o.AWS.Region
		if region == "" {
			region = n.Labels[corev1.LabelTopologyRegion]
		}
		if region == "" {
			return nil, fmt.Errorf("node %s has no %s label and no AWS region is configured", n.Name, corev1.LabelTopologyRegion)
		}
		ac := &v1alpha1.AWSChaos{ObjectMeta: meta(fmt.Sprint(i))}
		ac.Spec.Action = v1alpha1.Ec2Stop
		ac.Spec.Duration = &dur
		ac.Spec.AWSRegion = region
		ac.Spec.Ec2Instance = inst
		if o.AWS.SecretName != "" {
			ac.Spec.SecretName = &o.AWS.SecretName
		}
		if o.AWS.Endpoint != "" {
			ac.Spec.Endpoint = &o.AWS.Endpoint
		}
		objs = append(objs, typed(ac, "AWSChaos"))
	}
	return objs, nil
}

// podSelector selects the pods of a pod-kill or network-delay: the exact pods when known,
// else the service label and selector (or the zone's or node's pods).
func (o Options) podSelector(f chaos.Fault, namespaces []string, nodes []corev1.Node, pods []chaos.Pod) v1alpha1.PodSelector {
	if pods != nil {
		byNS := map[string][]string{}
		for _, p := range pods {
			byNS[p.Namespace] = append(byNS[p.Namespace], p.Name)
		}
		return v1alpha1.PodSelector{Mode: v1alpha1.AllMode, Selector: v1alpha1.PodSelectorSpec{Pods: byNS}}
	}
	t := f.Target
	sel := v1alpha1.PodSelectorSpec{
		GenericSelectorSpec: v1alpha1.GenericSelectorSpec{Namespaces: namespaces, LabelSelectors: o.labelsFor(t)},
		PodPhaseSelectors:   []string{string(corev1.PodRunning)},
	}
	switch {
	case t.Node != "":
		sel.Nodes = []string{t.Node}
	case t.Zone != "" && len(sel.LabelSelectors) == 0:
		sel.NodeSelectors = map[string]string{corev1.LabelTopologyZone: t.Zone}
	}
	ps := v1alpha1.PodSelector{Mode: v1alpha1.AllMode, Selector: sel}
	if t.Count > 0 {
		ps.Mode, ps.Value = v1alpha1.FixedMode, fmt.Sprint(t.Count)
	}
	return ps
}

func (o Options) labelsFor(t chaos.Target) map[string]string {
	if t.Service == "" && len(t.Selector) == 0 {
		return nil
	}
	l := map[string]string{}
	for k, v := range t.Selector {
		l[k] = v
	}
	if t.Service != "" {
		l[o.serviceLabel()] = t.Service
	}
	return l
}

// nodeTargets picks the nodes of a node failure: the named node, or the first Count
// schedulable, Ready nodes of the pool by name (deterministic, so a plan and a run agree).
func nodeTargets(f chaos.Fault, o Options, nodes []corev1.Node) ([]corev1.Node, error) {
	t := f.Target
	if t.Node != "" {
		for _, n := range nodes {
			if n.Name == t.Node {
				return []corev1.Node{n}, nil
			}
		}
		return nil, fmt.Errorf("node %q not found", t.Node)
	}
	var pool []corev1.Node
	for _, n := range nodes {
		if n.Labels[o.poolLabel()] == t.Pool && !n.Spec.Unschedulable && ready(n) {
			pool = append(pool, n)
		}
	}
	sort.Slice(pool, func(i, j int) bool { return pool[i].Name < pool[j].Name })
	if len(pool) < t.Count {
		return nil, fmt.Errorf("pool %q (label %s) has %d schedulable Ready nodes, fault needs %d", t.Pool, o.poolLabel(), len(pool), t.Count)
	}
	return pool[:t.Count], nil
}

func ready(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	// A node with no Ready condition yet has not been judged; count it, as a plan's
	// topology has no conditions at all.
	return true
}

// instanceID takes the EC2 instance from a providerID such as aws:///us-east-1a/i-0abc.
func instanceID(n corev1.Node) (string, error) {
	id := n.Spec.ProviderID
	if !strings.HasPrefix(id, "aws://") {
		return "", fmt.Errorf("node %s: providerID %q is not an AWS one (aws:///ZONE/INSTANCE)", n.Name, id)
	}
	inst := id[strings.LastIndex(id, "/")+1:]
	if !strings.HasPrefix(inst, "i-") {
		return "", fmt.Errorf("node %s: providerID %q has no instance id", n.Name, id)
	}
	return inst, nil
}

func splitZone(nodes []corev1.Node, zone string) (in, out []corev1.Node) {
	for _, n := range nodes {
		switch z := n.Labels[corev1.LabelTopologyZone]; {
		case z == zone:
			in = append(in, n)
		case z != "":
			out = append(out, n)
		}
	}
	return in, out
}

func zones(nodes []corev1.Node) []string {
	var zs []string
	for _, n := range nodes {
		if z := n.Labels[corev1.LabelTopologyZone]; z != "" && !slices.Contains(zs, z) {
			zs = append(zs, z)
		}
	}
	slices.Sort(zs)
	return zs
}

func names(nodes []corev1.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	slices.Sort(out)
	return out
}

// objectName is "ddpv-<fault>-<run>[-suffix]", cut to fit a DNS label. Names are lower
// case (run ids carry an upper-case UTC time, which a label value allows and a name does
// not), and any other character a name may not hold becomes '-'.
func objectName(runID, faultID, suffix string) string {
	n := dnsLabel("ddpv-" + faultID + "-" + runID)
	max := 63
	if suffix != "" {
		max -= len(suffix) + 1
	}
	if len(n) > max {
		n = strings.TrimRight(n[:max], "-")
	}
	if suffix != "" {
		n += "-" + suffix
	}
	return n
}

func dnsLabel(s string) string {
	return strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}

func typed[T client.Object](obj T, kind string) T {
	obj.GetObjectKind().SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind(kind))
	return obj
}

// describe names an object for reports: "PodChaos ns/name".
func describe(obj client.Object) string {
	// Decoding into a typed object clears its TypeMeta, so the kind comes from the Go type.
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	switch obj.(type) {
	case *v1alpha1.PodChaos:
		kind = "PodChaos"
	case *v1alpha1.NetworkChaos:
		kind = "NetworkChaos"
	case *v1alpha1.AWSChaos:
		kind = "AWSChaos"
	}
	return kind + " " + obj.GetNamespace() + "/" + obj.GetName()
}

// status returns the Chaos Mesh status of a chaos object.
func status(obj client.Object) *v1alpha1.ChaosStatus {
	switch o := obj.(type) {
	case *v1alpha1.PodChaos:
		return &o.Status.ChaosStatus
	case *v1alpha1.NetworkChaos:
		return &o.Status.ChaosStatus
	case *v1alpha1.AWSChaos:
		return &o.Status.ChaosStatus
	}
	return nil
}

// condition looks a condition up by type, never by position.
func condition(st *v1alpha1.ChaosStatus, t v1alpha1.ChaosConditionType) (corev1.ConditionStatus, bool) {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status, true
		}
	}
	return "", false
}

// eventTimes folds the records' events into per-target times and returns the latest time
// of a successful op event (when the last target reached that state).
func eventTimes(st *v1alpha1.ChaosStatus, into map[string]*chaos.TargetTime, op v1alpha1.RecordEventOperation) time.Time {
	var latest time.Time
	for _, r := range st.Experiment.Records {
		if r == nil {
			continue
		}
		tt := into[r.Id]
		if tt == nil {
			tt = &chaos.TargetTime{Target: r.Id}
			into[r.Id] = tt
		}
		for _, e := range r.Events {
			if e.Type != v1alpha1.TypeSucceeded || e.Operation != op || e.Timestamp == nil {
				continue
			}
			at := e.Timestamp.Time.UTC()
			if op == v1alpha1.Apply && (tt.Injected.IsZero() || at.Before(tt.Injected)) {
				tt.Injected = at
			}
			if op == v1alpha1.Recover && at.After(tt.Recovered) {
				tt.Recovered = at
			}
			if at.After(latest) {
				latest = at
			}
		}
	}
	return latest
}
