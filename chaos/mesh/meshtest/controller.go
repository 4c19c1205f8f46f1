package meshtest

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
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dailydoco/ddp-verify/chaos/mesh"
)

// RecordsFinalizer is the finalizer Chaos Mesh puts on a chaos object so that it can
// recover the fault before the object goes.
const RecordsFinalizer = "chaos-mesh/records"

// Controller plays the Chaos Mesh controller, which cannot run in envtest: for each
// PodChaos and NetworkChaos labelled managed-by ddp-verify it adds the records finalizer,
// selects pods as Chaos Mesh would, and writes Selected/AllInjected conditions and records
// with Apply events; when the object is being deleted it writes AllRecovered and Recover
// events, then removes the finalizer. Like the real controller it writes the whole object
// (chaos kinds have no status subresource). It only writes status: no pod is harmed.
type Controller struct {
	// Client is the API server's client; it must be able to watch.
	Client client.WithWatch
	// NeverInject lists fault IDs the controller takes but never reports injected.
	NeverInject []string

	mu sync.Mutex
	// stamps are the event times it wrote, by "kind/name/op".
	stamps map[string]time.Time
	seen   []client.Object
	wg     sync.WaitGroup
}

// Start runs the controller until the test ends.
func (fc *Controller) Start(t testing.TB) {
	t.Helper()
	fc.mu.Lock()
	fc.stamps = map[string]time.Time{}
	fc.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); fc.wg.Wait() })
	for _, list := range []client.ObjectList{&v1alpha1.PodChaosList{}, &v1alpha1.NetworkChaosList{}} {
		w, err := fc.Client.Watch(ctx, list, client.MatchingLabels{mesh.LabelManagedBy: mesh.ManagedBy})
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
						t.Errorf("fake Chaos Mesh controller: %v", err)
					}
				}
			}
		})
	}
}

// Stamp returns the event time the controller wrote for key: "*v1alpha1.PodChaos/NAME/apply"
// or ".../recover" (zero if none).
func (fc *Controller) Stamp(key string) time.Time {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.stamps[key]
}

// Seen returns each chaos object as the controller first saw it, in order: what ddp-verify
// created, before the controller changed it.
func (fc *Controller) Seen() []client.Object {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return slices.Clone(fc.seen)
}

func (fc *Controller) reconcile(ctx context.Context, obj client.Object) error {
	st, sel := statusAndSelector(obj)
	key := fmt.Sprintf("%T/%s", obj, obj.GetName())
	now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	switch {
	case obj.GetDeletionTimestamp() != nil:
		if !slices.Contains(obj.GetFinalizers(), RecordsFinalizer) {
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
			// Stamp before the update: the backend may see the object before this goroutine
			// runs on. A failed update is retried and overwrites the stamp with its own time.
			fc.stamp(key+"/recover", now.Time)
			if err := fc.Client.Update(ctx, obj); err != nil {
				return err
			}
		}
		obj.SetFinalizers(slices.DeleteFunc(obj.GetFinalizers(), func(s string) bool { return s == RecordsFinalizer }))
		return fc.Client.Update(ctx, obj)
	case !slices.Contains(obj.GetFinalizers(), RecordsFinalizer):
		fc.see(obj)
		obj.SetFinalizers(append(obj.GetFinalizers(), RecordsFinalizer))
		st.Experiment.DesiredPhase = v1alpha1.RunningPhase
		if slices.Contains(fc.NeverInject, obj.GetLabels()[mesh.LabelFault]) {
			st.Conditions = []v1alpha1.ChaosCondition{{Type: v1alpha1.ConditionAllInjected, Status: corev1.ConditionFalse, Reason: "stuck"}}
			return fc.Client.Update(ctx, obj)
		}
		pods, err := fc.selectPods(ctx, sel)
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
		fc.stamp(key+"/apply", now.Time) // before the update, as for recover
		if err := fc.Client.Update(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

// see keeps the first version of each object (a conflict makes the controller see it again).
func (fc *Controller) see(obj client.Object) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, o := range fc.seen {
		if o.GetUID() == obj.GetUID() {
			return
		}
	}
	fc.seen = append(fc.seen, obj.DeepCopyObject().(client.Object))
}

func (fc *Controller) stamp(k string, t time.Time) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.stamps[k] = t
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
// the backend uses.
func (fc *Controller) selectPods(ctx context.Context, sel v1alpha1.PodSelectorSpec) ([]string, error) {
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
	if err := fc.Client.List(ctx, &nodes); err != nil {
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
		if err := fc.Client.List(ctx, &pods, client.InNamespace(n), client.MatchingLabels(sel.LabelSelectors)); err != nil {
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

// Leftovers lists a run's chaos objects still in the cluster ("PodChaos ns/name").
func Leftovers(t testing.TB, c client.Reader, runID string) []string {
	t.Helper()
	var out []string
	for _, list := range []client.ObjectList{&v1alpha1.PodChaosList{}, &v1alpha1.NetworkChaosList{}, &v1alpha1.AWSChaosList{}} {
		if err := c.List(context.Background(), list, client.MatchingLabels{mesh.LabelRunID: runID}); err != nil {
			t.Fatal(err)
		}
		switch l := list.(type) {
		case *v1alpha1.PodChaosList:
			for _, o := range l.Items {
				out = append(out, "PodChaos "+o.Namespace+"/"+o.Name)
			}
		case *v1alpha1.NetworkChaosList:
			for _, o := range l.Items {
				out = append(out, "NetworkChaos "+o.Namespace+"/"+o.Name)
			}
		case *v1alpha1.AWSChaosList:
			for _, o := range l.Items {
				out = append(out, "AWSChaos "+o.Namespace+"/"+o.Name)
			}
		}
	}
	return out
}

// WaitNoLeftovers waits (up to d) until none of the run's chaos objects is left and returns
// what is still there when d runs out. A recovered object may still exist for a moment while
// the controller removes its records finalizer (recovery is confirmed by AllRecovered while
// the finalizer runs), so "nothing left" is a state to wait for, not to sample once.
func WaitNoLeftovers(t testing.TB, c client.Reader, runID string, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := Leftovers(t, c, runID)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Cordoned lists the unschedulable nodes.
func Cordoned(t testing.TB, c client.Reader) []string {
	t.Helper()
	var nodes corev1.NodeList
	if err := c.List(context.Background(), &nodes); err != nil {
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
