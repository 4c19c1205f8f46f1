package mesh_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dailydoco/ddp-verify/chaos/mesh"
)

const (
	ns        = "dailydoco"
	poolLabel = "eks.amazonaws.com/nodegroup"
	svcLabel  = "app.kubernetes.io/name"
)

// seedCluster creates the test topology: three zones, each with a general and a gpu node;
// the DailyDoco pods on them, a redis only in zone-a, and in zone-c a DaemonSet pod and a
// hostNetwork pod that the guardrails must protect. There is no kubelet or scheduler:
// pods are bound by spec.nodeName and their phase is written by the test.
func seedCluster(ctx context.Context) error {
	for _, n := range []string{ns, "billing", "chaos-mesh"} {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
			return err
		}
	}
	for _, z := range []string{"a", "b", "c"} {
		for _, pool := range []string{"general", "gpu"} {
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: pool + "-" + z, Labels: map[string]string{
				corev1.LabelTopologyZone: "zone-" + z, corev1.LabelTopologyRegion: "us-east-1", poolLabel: pool,
			}}, Spec: corev1.NodeSpec{ProviderID: fmt.Sprintf("aws:///zone-%s/i-%s%s", z, pool, z)}}
			if err := k8s.Create(ctx, n); err != nil {
				return err
			}
		}
	}
	type podSpec struct {
		ns, name, svc, node string
		daemonSet, hostNet  bool
	}
	pods := []podSpec{
		{ns, "api-a", "api", "general-a", false, false},
		{ns, "api-b", "api", "general-b", false, false},
		{ns, "api-c", "api", "general-c", false, false},
		{ns, "worker-a", "worker", "gpu-a", false, false},
		{ns, "worker-b", "worker", "gpu-b", false, false},
		{ns, "worker-c", "worker", "gpu-c", false, false},
		{ns, "redis-0", "redis", "general-a", false, false},
		{ns, "node-agent-c", "node-agent", "general-c", true, false},
		{ns, "edge-proxy-c", "edge-proxy", "general-c", false, true},
		{"kube-system", "coredns-0", "coredns", "general-b", false, false},
		{"chaos-mesh", "chaos-controller-0", "chaos-controller", "general-b", false, false},
		{"billing", "invoice-0", "invoice", "general-b", false, false},
	}
	for _, p := range pods {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Name: p.name, Labels: map[string]string{svcLabel: p.svc}},
			Spec: corev1.PodSpec{NodeName: p.node, HostNetwork: p.hostNet,
				Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app:1"}}},
		}
		if p.daemonSet {
			pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "node-agent", UID: "0d5e7d0e-0000-4000-8000-000000000001", Controller: ptr.To(true)}}
		}
		if err := k8s.Create(ctx, pod); err != nil {
			return err
		}
		pod.Status.Phase = corev1.PodRunning
		if err := k8s.Status().Update(ctx, pod); err != nil {
			return err
		}
	}
	return nil
}

// fakeController plays the Chaos Mesh controller, which cannot run here: for each chaos
// object of ours it adds the records finalizer, selects pods as Chaos Mesh would, and writes
// Selected/AllInjected conditions and records with Apply events; when the object is being
// deleted it writes AllRecovered and Recover events, then removes the finalizer. Like the
// real controller it writes the whole object (chaos kinds have no status subresource).
type fakeController struct {
	// neverInject lists fault IDs the controller takes but never reports injected.
	neverInject []string
	mu          sync.Mutex
	// stamps are the event times it wrote, by "kind/name/op".
	stamps map[string]time.Time
	wg     sync.WaitGroup
}

const recordsFinalizer = "chaos-mesh/records"

// start runs the controller until the test ends.
func (fc *fakeController) start(t *testing.T) {
	t.Helper()
	fc.stamps = map[string]time.Time{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); fc.wg.Wait() })
	for _, list := range []client.ObjectList{&v1alpha1.PodChaosList{}, &v1alpha1.NetworkChaosList{}} {
		w, err := k8s.Watch(ctx, list, client.MatchingLabels{mesh.LabelManagedBy: mesh.ManagedBy})
		if err != nil {
			t.Fatal(err)
		}
		fc.wg.Go(func() {
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case ev, ok := <-w.ResultChan():
					if !ok {
						return
					}
					if ev.Type != watch.Added && ev.Type != watch.Modified {
						continue
					}
					obj := ev.Object.(client.Object)
					if err := fc.reconcile(ctx, obj); err != nil && ctx.Err() == nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
						t.Errorf("fake controller: %v", err)
					}
				}
			}
		})
	}
}

func (fc *fakeController) reconcile(ctx context.Context, obj client.Object) error {
	st, sel := statusAndSelector(obj)
	key := fmt.Sprintf("%T/%s", obj, obj.GetName())
	now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	switch {
	case obj.GetDeletionTimestamp() != nil:
		if !slices.Contains(obj.GetFinalizers(), recordsFinalizer) {
			return nil
		}
		if c, _ := cond(st, v1alpha1.ConditionAllRecovered); c != corev1.ConditionTrue {
			for _, r := range st.Experiment.Records {
				if r.Phase == v1alpha1.Injected {
					r.Phase = v1alpha1.NotInjected
					r.RecoveredCount++
					r.Events = append(r.Events, *v1alpha1.NewRecordEvent(v1alpha1.TypeSucceeded, v1alpha1.Recover, "", now))
				}
			}
			st.Experiment.DesiredPhase = v1alpha1.StoppedPhase
			st.Conditions = conditions(false)
			if err := k8s.Update(ctx, obj); err != nil {
				return err
			}
			fc.stamp(key+"/recover", now.Time)
		}
		obj.SetFinalizers(slices.DeleteFunc(obj.GetFinalizers(), func(s string) bool { return s == recordsFinalizer }))
		return k8s.Update(ctx, obj)
	case !slices.Contains(obj.GetFinalizers(), recordsFinalizer):
		obj.SetFinalizers(append(obj.GetFinalizers(), recordsFinalizer))
		st.Experiment.DesiredPhase = v1alpha1.RunningPhase
		if slices.Contains(fc.neverInject, obj.GetLabels()[mesh.LabelFault]) {
			st.Conditions = []v1alpha1.ChaosCondition{{Type: v1alpha1.ConditionAllInjected, Status: corev1.ConditionFalse, Reason: "stuck"}}
			return k8s.Update(ctx, obj)
		}
		pods, err := selectPods(ctx, sel)
		if err != nil {
			return err
		}
		for _, p := range pods {
			st.Experiment.Records = append(st.Experiment.Records, &v1alpha1.Record{
				Id: p, SelectorKey: ".", Phase: v1alpha1.Injected, InjectedCount: 1,
				Events: []v1alpha1.RecordEvent{*v1alpha1.NewRecordEvent(v1alpha1.TypeSucceeded, v1alpha1.Apply, "", now)},
			})
		}
		st.Conditions = conditions(true)
		if err := k8s.Update(ctx, obj); err != nil {
			return err
		}
		fc.stamp(key+"/apply", now.Time)
	}
	return nil
}

func (fc *fakeController) stamp(k string, t time.Time) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.stamps[k] = t
}

func (fc *fakeController) stampOf(k string) time.Time {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.stamps[k]
}

// conditions lists the conditions in an order unlike Chaos Mesh's, so that code reading
// them by position would fail.
func conditions(injected bool) []v1alpha1.ChaosCondition {
	b := func(v bool) corev1.ConditionStatus {
		if v {
			return corev1.ConditionTrue
		}
		return corev1.ConditionFalse
	}
	return []v1alpha1.ChaosCondition{
		{Type: v1alpha1.ConditionAllRecovered, Status: b(!injected)},
		{Type: v1alpha1.ConditionPaused, Status: corev1.ConditionFalse},
		{Type: v1alpha1.ConditionAllInjected, Status: b(injected)},
		{Type: v1alpha1.ConditionSelected, Status: corev1.ConditionTrue},
	}
}

func cond(st *v1alpha1.ChaosStatus, t v1alpha1.ChaosConditionType) (corev1.ConditionStatus, bool) {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status, true
		}
	}
	return "", false
}

func statusAndSelector(obj client.Object) (*v1alpha1.ChaosStatus, v1alpha1.PodSelectorSpec) {
	switch o := obj.(type) {
	case *v1alpha1.PodChaos:
		return &o.Status.ChaosStatus, o.Spec.Selector
	case *v1alpha1.NetworkChaos:
		return &o.Status.ChaosStatus, o.Spec.Selector
	}
	panic(fmt.Sprintf("unexpected %T", obj))
}

// selectPods applies a Chaos Mesh pod selector the way the controller does, for the fields
// this backend uses.
func selectPods(ctx context.Context, sel v1alpha1.PodSelectorSpec) ([]string, error) {
	var out []string
	if len(sel.Pods) > 0 {
		for n, names := range sel.Pods {
			for _, p := range names {
				out = append(out, n+"/"+p)
			}
		}
		slices.Sort(out)
		return out, nil
	}
	var nodes corev1.NodeList
	if err := k8s.List(ctx, &nodes); err != nil {
		return nil, err
	}
	nodeOK := map[string]bool{}
	for _, n := range nodes.Items {
		ok := len(sel.Nodes) == 0 || slices.Contains(sel.Nodes, n.Name)
		for k, v := range sel.NodeSelectors {
			ok = ok && n.Labels[k] == v
		}
		nodeOK[n.Name] = ok
	}
	for _, n := range sel.Namespaces {
		var pods corev1.PodList
		if err := k8s.List(ctx, &pods, client.InNamespace(n), client.MatchingLabels(sel.LabelSelectors)); err != nil {
			return nil, err
		}
		for _, p := range pods.Items {
			if nodeOK[p.Spec.NodeName] && (len(sel.PodPhaseSelectors) == 0 || slices.Contains(sel.PodPhaseSelectors, string(p.Status.Phase))) {
				out = append(out, p.Namespace+"/"+p.Name)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// leftovers lists the chaos objects of a run still in the cluster.
func leftovers(t *testing.T, runID string) []string {
	t.Helper()
	var out []string
	for _, list := range []client.ObjectList{&v1alpha1.PodChaosList{}, &v1alpha1.NetworkChaosList{}, &v1alpha1.AWSChaosList{}} {
		if err := k8s.List(t.Context(), list, client.MatchingLabels{mesh.LabelRunID: runID}); err != nil {
			t.Fatal(err)
		}
		switch l := list.(type) {
		case *v1alpha1.PodChaosList:
			for _, o := range l.Items {
				out = append(out, "PodChaos "+o.Name)
			}
		case *v1alpha1.NetworkChaosList:
			for _, o := range l.Items {
				out = append(out, "NetworkChaos "+o.Name)
			}
		case *v1alpha1.AWSChaosList:
			for _, o := range l.Items {
				out = append(out, "AWSChaos "+o.Name)
			}
		}
	}
	return out
}

// cordoned lists the unschedulable nodes.
func cordoned(t *testing.T) []string {
	t.Helper()
	var nodes corev1.NodeList
	if err := k8s.List(t.Context(), &nodes); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes.Items {
		if n.Spec.Unschedulable {
			out = append(out, n.Name)
		}
	}
	return out
}
