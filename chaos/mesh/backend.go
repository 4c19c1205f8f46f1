package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dailydoco/ddp-verify/chaos"
)

// Options configure a [Backend] and the manifest renderer.
type Options struct {
	// RunID labels every object; it must be a valid label value.
	RunID string
	// Namespaces are the namespaces whose pods faults select, named explicitly in every
	// object (a fault's target.namespace narrows it to one). Required.
	Namespaces []string
	// ObjectNamespace is where the chaos objects are created; default Namespaces[0].
	ObjectNamespace string
	// PoolLabel is the node label naming a node's pool; default eks.amazonaws.com/nodegroup.
	PoolLabel string
	// ServiceLabel is the pod label naming its service; default app.kubernetes.io/name.
	ServiceLabel string
	// AWS, when set, makes node failures stop the EC2 instance (AWSChaos ec2-stop).
	AWS *AWSOptions
	// Timeouts per fault kind; zero fields take the defaults in [DefaultTimeouts].
	Timeouts map[chaos.Kind]Timeouts
	// PollInterval is how often object state is read while waiting; default 1s.
	PollInterval time.Duration
	// CleanupWait bounds how long Cleanup waits for deleted objects to go; default 1m.
	CleanupWait time.Duration
	Logger      *slog.Logger
}

// AWSOptions configure AWSChaos objects.
type AWSOptions struct {
	// SecretName is the secret holding AWS credentials for Chaos Mesh (optional).
	SecretName string
	// Region overrides the node's topology.kubernetes.io/region label.
	Region string
	// Endpoint, when set, is the EC2 endpoint Chaos Mesh calls instead of AWS's (spec.endpoint):
	// the local cluster's cloud, or another EC2-compatible API.
	Endpoint string
}

// Timeouts bound the wait for one fault's injection and recovery to be confirmed.
type Timeouts struct {
	Inject  time.Duration
	Recover time.Duration
}

// DefaultTimeouts per kind. Pod failures are confirmed as soon as the pods' containers are
// replaced; EC2 stops wait for the cloud.
var DefaultTimeouts = map[chaos.Kind]Timeouts{
	chaos.ZoneOutage:   {Inject: 3 * time.Minute, Recover: 5 * time.Minute},
	chaos.NodeFailure:  {Inject: 3 * time.Minute, Recover: 5 * time.Minute},
	chaos.PodKill:      {Inject: time.Minute, Recover: 2 * time.Minute},
	chaos.NetworkDelay: {Inject: 2 * time.Minute, Recover: 2 * time.Minute},
}

// awsTimeouts replace node-failure's and zone-outage's when AWS is on: an instance takes
// minutes to stop.
var awsTimeouts = Timeouts{Inject: 10 * time.Minute, Recover: 15 * time.Minute}

func (o Options) timeouts(k chaos.Kind) Timeouts {
	t := DefaultTimeouts[k]
	if (k == chaos.NodeFailure || k == chaos.ZoneOutage) && o.AWS != nil {
		t = awsTimeouts
	}
	if c, ok := o.Timeouts[k]; ok {
		if c.Inject > 0 {
			t.Inject = c.Inject
		}
		if c.Recover > 0 {
			t.Recover = c.Recover
		}
	}
	return t
}

func (o Options) objectNamespace() string {
	if o.ObjectNamespace != "" {
		return o.ObjectNamespace
	}
	if len(o.Namespaces) > 0 {
		return o.Namespaces[0]
	}
	return ""
}

func (o Options) namespacesFor(f chaos.Fault) []string {
	if f.Target.Namespace != "" {
		return []string{f.Target.Namespace}
	}
	return slices.Clone(o.Namespaces)
}

func (o Options) poolLabel() string    { return or(o.PoolLabel, "eks.amazonaws.com/nodegroup") }
func (o Options) serviceLabel() string { return or(o.ServiceLabel, "app.kubernetes.io/name") }

func or(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

var labelValue = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)

func (o Options) validate() error {
	var errs []error
	if !labelValue.MatchString(o.RunID) {
		errs = append(errs, fmt.Errorf("run id %q must be a label value (letters, digits, '-', '_', '.'; at most 63)", o.RunID))
	}
	if len(o.Namespaces) == 0 {
		errs = append(errs, errors.New("no namespaces: name the namespaces faults may select pods in"))
	}
	return errors.Join(errs...)
}

// Backend injects faults as Chaos Mesh objects. It is safe for concurrent use.
type Backend struct {
	c    client.Client
	opts Options
	log  *slog.Logger
}

var _ chaos.Backend = (*Backend)(nil)

// New returns a backend acting through c, whose scheme must know the Chaos Mesh kinds
// (see [NewScheme]).
func New(c client.Client, opts Options) (*Backend, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("chaos mesh backend: %w", err)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.CleanupWait <= 0 {
		opts.CleanupWait = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Backend{c: c, opts: opts, log: log}, nil
}

// state is the backend's handle on one injection.
type state struct {
	objects  []client.Object
	cordoned []string
	times    map[string]*chaos.TargetTime
}

// Select resolves the fault's nodes and pods from the cluster as it is now.
func (b *Backend) Select(ctx context.Context, f chaos.Fault) (chaos.Impact, error) {
	var nodes corev1.NodeList
	if err := b.c.List(ctx, &nodes); err != nil {
		return chaos.Impact{}, fmt.Errorf("list nodes: %w", err)
	}
	im := chaos.Impact{TotalNodes: len(nodes.Items), Namespaces: b.opts.namespacesFor(f)}
	var pods []corev1.Pod
	for _, ns := range im.Namespaces {
		var l corev1.PodList
		if err := b.c.List(ctx, &l, client.InNamespace(ns)); err != nil {
			return chaos.Impact{}, fmt.Errorf("list pods in %s: %w", ns, err)
		}
		pods = append(pods, l.Items...)
	}
	im.TotalPods = len(pods)
	zoneOf := map[string]string{}
	for _, n := range nodes.Items {
		zoneOf[n.Name] = n.Labels[corev1.LabelTopologyZone]
	}

	t := f.Target
	var onNodes map[string]bool
	switch f.Kind {
	case chaos.ZoneOutage:
		in, _ := splitZone(nodes.Items, t.Zone)
		if len(in) == 0 {
			return chaos.Impact{}, fmt.Errorf("no node has %s=%s (zones: %s)", corev1.LabelTopologyZone, t.Zone, strings.Join(zones(nodes.Items), ", "))
		}
		im.Nodes = names(in)
	case chaos.NodeFailure:
		targets, err := nodeTargets(f, b.opts, nodes.Items)
		if err != nil {
			return chaos.Impact{}, err
		}
		im.Nodes = names(targets)
	case chaos.NetworkDelay:
		if t.Service == "" && len(t.Selector) == 0 {
			if t.Node != "" {
				im.Nodes = []string{t.Node}
			} else {
				in, _ := splitZone(nodes.Items, t.Zone)
				im.Nodes = names(in)
			}
		}
	}
	if len(im.Nodes) > 0 {
		onNodes = map[string]bool{}
		for _, n := range im.Nodes {
			onNodes[n] = true
		}
	}
	want := b.opts.labelsFor(t)
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		if onNodes != nil && !onNodes[p.Spec.NodeName] {
			continue
		}
		if onNodes == nil && !matches(p.Labels, want) {
			continue
		}
		im.Pods = append(im.Pods, chaos.Pod{
			Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName,
			DaemonSet: ownedBy(p, "DaemonSet"), HostNetwork: p.Spec.HostNetwork,
		})
	}
	sort.Slice(im.Pods, func(i, j int) bool {
		return im.Pods[i].Namespace+"/"+im.Pods[i].Name < im.Pods[j].Namespace+"/"+im.Pods[j].Name
	})
	if (f.Kind == chaos.PodKill || f.Kind == chaos.NetworkDelay) && t.Count > 0 && len(im.Pods) > t.Count {
		im.Pods = im.Pods[:t.Count]
	}
	if (f.Kind == chaos.PodKill || f.Kind == chaos.NetworkDelay) && len(im.Pods) == 0 {
		return chaos.Impact{}, fmt.Errorf("no Running pod in %v matches %v", im.Namespaces, want)
	}
	if f.Kind == chaos.ZoneOutage {
		im.SoleZoneServices = b.soleZone(pods, zoneOf, t.Zone)
	}
	return im, nil
}

// soleZone lists the services whose every Running replica is on a node of zone.
func (b *Backend) soleZone(pods []corev1.Pod, zoneOf map[string]string, zone string) []string {
	zonesOf := map[string]map[string]bool{}
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning || ownedBy(p, "DaemonSet") {
			continue
		}
		svc := p.Labels[b.opts.serviceLabel()]
		if svc == "" {
			svc = controllerName(p)
		}
		key := p.Namespace + "/" + svc
		if zonesOf[key] == nil {
			zonesOf[key] = map[string]bool{}
		}
		zonesOf[key][zoneOf[p.Spec.NodeName]] = true
	}
	var sole []string
	for svc, zs := range zonesOf {
		if len(zs) == 1 && zs[zone] {
			sole = append(sole, svc)
		}
	}
	slices.Sort(sole)
	return sole
}

func controllerName(p corev1.Pod) string {
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return o.Name
		}
	}
	return p.Name
}

func ownedBy(p corev1.Pod, kind string) bool {
	for _, o := range p.OwnerReferences {
		if o.Kind == kind {
			return true
		}
	}
	return false
}

func matches(labels, want map[string]string) bool {
	if len(want) == 0 {
		return false
	}
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Inject cordons the nodes the fault takes out (power-loss, PodChaos node failure), then
// creates the chaos objects. If it fails part way it returns what it did, for Recover.
func (b *Backend) Inject(ctx context.Context, f chaos.Fault, im chaos.Impact) (*chaos.Injection, error) {
	var nodes corev1.NodeList
	if err := b.c.List(ctx, &nodes); err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	var exact []chaos.Pod
	if f.Kind == chaos.PodKill || f.Kind == chaos.NetworkDelay {
		exact = im.Pods
	}
	objs, err := build(f, b.opts, nodes.Items, exact)
	if err != nil {
		return nil, fmt.Errorf("fault %s: %w", f.ID, err)
	}
	st := &state{times: map[string]*chaos.TargetTime{}}
	inj := &chaos.Injection{Fault: f, Impact: im, State: st}

	// Without AWS the nodes stay up while their pods fail, so a cordon keeps the scheduler off
	// them, as their power loss would; a stopped instance's node goes NotReady by itself.
	cordon := b.opts.AWS == nil && ((f.Kind == chaos.ZoneOutage && f.Target.Mode == chaos.PowerLoss) || f.Kind == chaos.NodeFailure)
	if cordon {
		for _, n := range im.Nodes {
			did, err := b.cordon(ctx, n)
			if did {
				st.cordoned = append(st.cordoned, n)
				inj.Objects = append(inj.Objects, "cordon Node "+n)
			}
			if err != nil {
				return inj, err
			}
		}
	}
	for _, obj := range objs {
		if err := b.c.Create(ctx, obj); err != nil {
			return inj, fmt.Errorf("create %s: %w", describe(obj), err)
		}
		st.objects = append(st.objects, obj)
		inj.Objects = append(inj.Objects, describe(obj))
		if inj.SubmittedAt.IsZero() {
			inj.SubmittedAt = obj.GetCreationTimestamp().Time
		}
		b.log.Info("chaos object created", "object", describe(obj), "fault", f.ID)
	}
	return inj, nil
}

// cordon marks node unschedulable and labels it as ours, unless it already was
// unschedulable: then it is someone else's cordon and stays theirs.
func (b *Backend) cordon(ctx context.Context, name string) (bool, error) {
	var n corev1.Node
	if err := b.c.Get(ctx, client.ObjectKey{Name: name}, &n); err != nil {
		return false, fmt.Errorf("cordon node %s: %w", name, err)
	}
	if n.Spec.Unschedulable {
		return false, nil
	}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}},"spec":{"unschedulable":true}}`, LabelCordonedBy, b.opts.RunID)
	if err := b.c.Patch(ctx, &n, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return false, fmt.Errorf("cordon node %s: %w", name, err)
	}
	return true, nil
}

// uncordon undoes a cordon of ours; a node whose label names another run, or none, is left.
func uncordon(ctx context.Context, c client.Client, name, runID string) (bool, error) {
	var n corev1.Node
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &n); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("uncordon node %s: %w", name, err)
	}
	by, ok := n.Labels[LabelCordonedBy]
	if !ok || (runID != "" && by != runID) {
		return false, nil
	}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:null}},"spec":{"unschedulable":false}}`, LabelCordonedBy)
	if err := c.Patch(ctx, &n, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return false, fmt.Errorf("uncordon node %s: %w", name, err)
	}
	return true, nil
}

// ErrTimeout is wrapped when a fault's injection or recovery is not confirmed in time.
var ErrTimeout = errors.New("not confirmed in time")

// WaitInjected waits until every object of the injection has AllInjected=True, bounded by
// the kind's inject timeout.
func (b *Backend) WaitInjected(ctx context.Context, inj *chaos.Injection) (time.Time, error) {
	st := inj.State.(*state)
	timeout := b.opts.timeouts(inj.Fault.Kind).Inject
	var latest time.Time
	for _, obj := range st.objects {
		last := "none"
		err := b.await(ctx, obj, timeout, func(o client.Object, gone bool) (bool, error) {
			if gone {
				return false, fmt.Errorf("%s was deleted before its injection was confirmed", describe(obj))
			}
			s := status(o)
			last = conditionSummary(s)
			if c, _ := condition(s, v1alpha1.ConditionAllInjected); c != corev1.ConditionTrue {
				return false, nil
			}
			if at := eventTimes(s, st.times, v1alpha1.Apply); at.After(latest) {
				latest = at
			}
			return true, nil
		})
		if errors.Is(err, errTimedOut) {
			return time.Time{}, fmt.Errorf("%s: AllInjected %w within %s (conditions: %s); is the Chaos Mesh controller running and does the selector match Running pods?", describe(obj), ErrTimeout, timeout, last)
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: wait for AllInjected: %w", describe(obj), err)
		}
	}
	inj.TargetTimes = targetTimes(st.times)
	return latest, nil
}

// Recover deletes the injection's objects (Chaos Mesh recovers a chaos before its finalizer
// lets it go) and uncordons the nodes it cordoned.
func (b *Backend) Recover(ctx context.Context, inj *chaos.Injection) (time.Time, error) {
	st := inj.State.(*state)
	var errs []error
	for _, obj := range st.objects {
		if err := b.c.Delete(ctx, obj, client.PropagationPolicy("Background")); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", describe(obj), err))
		}
	}
	for _, n := range st.cordoned {
		if _, err := uncordon(ctx, b.c, n, b.opts.RunID); err != nil {
			errs = append(errs, err)
		}
	}
	return time.Time{}, errors.Join(errs...)
}

// WaitRecovered waits until every object is gone or has AllRecovered=True while being
// deleted, bounded by the kind's recover timeout. Its time is the last Recover event seen.
func (b *Backend) WaitRecovered(ctx context.Context, inj *chaos.Injection) (time.Time, error) {
	st := inj.State.(*state)
	timeout := b.opts.timeouts(inj.Fault.Kind).Recover
	var latest time.Time
	for _, obj := range st.objects {
		last := "none"
		err := b.await(ctx, obj, timeout, func(o client.Object, gone bool) (bool, error) {
			if gone {
				return true, nil
			}
			s := status(o)
			last = conditionSummary(s)
			if at := eventTimes(s, st.times, v1alpha1.Recover); at.After(latest) {
				latest = at
			}
			c, _ := condition(s, v1alpha1.ConditionAllRecovered)
			return c == corev1.ConditionTrue && o.GetDeletionTimestamp() != nil, nil
		})
		if errors.Is(err, errTimedOut) {
			return latest, fmt.Errorf("%s: recovery %w within %s (conditions: %s)", describe(obj), ErrTimeout, timeout, last)
		}
		if err != nil {
			return latest, fmt.Errorf("%s: wait for recovery: %w", describe(obj), err)
		}
	}
	inj.TargetTimes = targetTimes(st.times)
	return latest, nil
}

func conditionSummary(s *v1alpha1.ChaosStatus) string {
	if s == nil || len(s.Conditions) == 0 {
		return "none"
	}
	parts := make([]string, len(s.Conditions))
	for i, c := range s.Conditions {
		parts[i] = fmt.Sprintf("%s=%s", c.Type, c.Status)
	}
	return strings.Join(parts, ",")
}

func targetTimes(m map[string]*chaos.TargetTime) []chaos.TargetTime {
	out := make([]chaos.TargetTime, 0, len(m))
	for _, t := range m {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
}

// chaosLists are the kinds Cleanup looks for.
func chaosLists() []client.ObjectList {
	return []client.ObjectList{&v1alpha1.PodChaosList{}, &v1alpha1.NetworkChaosList{}, &v1alpha1.AWSChaosList{}}
}

// Cleanup deletes every chaos object this tool created for runID (every run when empty),
// in every namespace, uncordons every node it cordoned, and waits (bounded by
// Options.CleanupWait) for the objects to go.
func (b *Backend) Cleanup(ctx context.Context, runID string) (chaos.CleanupReport, error) {
	return Cleanup(ctx, b.c, runID, b.opts.PollInterval, b.opts.CleanupWait)
}

// Cleanup is [Backend.Cleanup] without a backend, for `ddp-verify chaos cleanup`, which has
// no run to configure one from.
func Cleanup(ctx context.Context, c client.Client, runID string, poll, bound time.Duration) (chaos.CleanupReport, error) {
	var rep chaos.CleanupReport
	sel := client.MatchingLabels{LabelManagedBy: ManagedBy}
	if runID != "" {
		sel[LabelRunID] = runID
	}
	var errs []error
	var deleted []client.Object
	for _, list := range chaosLists() {
		if err := c.List(ctx, list, sel); err != nil {
			if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
				continue // that CRD is not installed, so there is nothing of that kind
			}
			errs = append(errs, fmt.Errorf("list %T: %w", list, err))
			continue
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, it := range items {
			obj := it.(client.Object)
			kind := strings.TrimSuffix(fmt.Sprintf("%T", list)[len("*v1alpha1."):], "List")
			obj.GetObjectKind().SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind(kind))
			if err := c.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s: %w", describe(obj), err))
				continue
			}
			deleted = append(deleted, obj)
			rep.Deleted = append(rep.Deleted, describe(obj))
		}
	}
	var nodes corev1.NodeList
	nodeSel := client.HasLabels{LabelCordonedBy}
	if err := c.List(ctx, &nodes, nodeSel); err != nil {
		errs = append(errs, fmt.Errorf("list cordoned nodes: %w", err))
	}
	for _, n := range nodes.Items {
		did, err := uncordon(ctx, c, n.Name, runID)
		if err != nil {
			errs = append(errs, err)
		}
		if did {
			rep.Restored = append(rep.Restored, "uncordoned Node "+n.Name)
		}
	}
	for _, obj := range deleted {
		err := wait.PollUntilContextTimeout(ctx, poll, bound, true, func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})
		if err != nil {
			rep.Left = append(rep.Left, fmt.Sprintf("%s: still there after %s (finalizers %v): the Chaos Mesh controller must recover it before it goes; check that it runs", describe(obj), bound, obj.GetFinalizers()))
		}
	}
	if len(rep.Left) > 0 {
		errs = append(errs, fmt.Errorf("%d chaos objects not gone", len(rep.Left)))
	}
	return rep, errors.Join(errs...)
}

// ErrNotInstalled is wrapped by [Backend.Preflight] when the cluster lacks the Chaos Mesh CRDs.
var ErrNotInstalled = errors.New("no Chaos Mesh CRDs")

// Preflight checks, without changing anything, that the API server answers, that the Chaos
// Mesh CRDs are installed (PodChaos can be listed where the objects will be created) and
// that every allowed namespace exists. Each error says what to fix.
func (b *Backend) Preflight(ctx context.Context) error {
	ns := b.opts.objectNamespace()
	err := b.c.List(ctx, &v1alpha1.PodChaosList{}, client.InNamespace(ns), client.Limit(1))
	switch {
	case err == nil:
	case meta.IsNoMatchError(err) || apierrors.IsNotFound(err):
		return fmt.Errorf("%w: the cluster has no PodChaos kind (%v); install Chaos Mesh (its CRDs and controller)", ErrNotInstalled, err)
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		return fmt.Errorf("not allowed to list PodChaos in namespace %s (%v); grant this user get, list, watch, create and delete on chaos-mesh.org podchaos, networkchaos and awschaos there, and get, list and patch on nodes", ns, err)
	default:
		return fmt.Errorf("cannot reach the Kubernetes API server: %w", err)
	}
	var missing []string
	for _, n := range b.opts.Namespaces {
		err := b.c.Get(ctx, client.ObjectKey{Name: n}, &corev1.Namespace{})
		switch {
		case apierrors.IsNotFound(err):
			missing = append(missing, n)
		case err != nil && !apierrors.IsForbidden(err):
			return fmt.Errorf("read namespace %s: %w", n, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("namespace(s) %s do not exist; name the namespaces the platform runs in", strings.Join(missing, ", "))
	}
	return nil
}
