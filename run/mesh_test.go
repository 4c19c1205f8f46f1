package run

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/verdict"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/chaos/mesh"
	"github.com/dailydoco/ddp-verify/chaos/mesh/meshtest"
	"github.com/dailydoco/ddp-verify/internal/testenv"
	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
	"github.com/dailydoco/ddp-verify/platform/platformtest"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/prom"
)

// A URL target whose faults run through Chaos Mesh: the reference platform runs as it would
// behind `platform up`, scraped by a Prometheus of its own; a real kube-apiserver and etcd
// (envtest) hold the Chaos Mesh CRDs and Node objects shaped like the reference topology
// (zones, pools), and meshtest's controller plays Chaos Mesh. The fault goes through the
// whole path: preflight, guardrails, PodChaos with the run's labels and duration, cordon,
// confirmation from the controller's conditions, recovery, uncordon.
//
// The Chaos Mesh fault does not touch the platform's processes here: the stand-in controller
// only writes the objects' status, and no pod of the API server runs the platform. What this
// test proves is the wiring and the bookkeeping, not the platform's resilience (the local
// target's tests cover that with real node kills).
func TestURLTargetWithChaosMesh(t *testing.T) {
	api := meshtest.Start(t)
	k8s := api.Client
	ctx := t.Context()
	const ns = "dailydoco-prod"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	topo := platformtest.Topology()
	for _, n := range clusterNodes(topo) {
		if err := k8s.Create(ctx, &n); err != nil {
			t.Fatal(err)
		}
	}
	cordons := watchCordons(t, k8s)
	fc := &meshtest.Controller{Client: k8s}
	fc.Start(t)

	var backendRunID string
	o := meshRunOptions(t, topo, ns, func(runID string) (chaos.Backend, error) {
		backendRunID = runID
		return mesh.New(k8s, mesh.Options{RunID: runID, Namespaces: []string{ns}, PoolLabel: PoolLabel})
	})
	out, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	runID := out.Run.RunID
	if backendRunID != runID {
		t.Fatalf("the backend got run id %q, run.json says %q", backendRunID, runID)
	}
	if out.Run.Verdict != verdict.Go {
		t.Errorf("verdict %s: %q", out.Run.Verdict, out.Run.Reasons)
	}

	// The first schedulable node of the general pool, by name.
	var want string
	for _, n := range topo.Nodes() {
		if n.Pool == "general" && (want == "" || n.Name < want) {
			want = n.Name
		}
	}
	if len(out.Run.Chaos) != 1 {
		t.Fatalf("chaos results %+v", out.Run.Chaos)
	}
	r := out.Run.Chaos[0]
	if r.Fault != "general-node" || r.InjectedAt == nil || r.RecoveredAt == nil || r.Error != "" || !r.RecoveredAt.After(*r.InjectedAt) {
		t.Errorf("fault not injected and recovered cleanly: %+v", r)
	}
	if len(r.Targets) != 1 || r.Targets[0] != want {
		t.Errorf("targets %v, want [%s]", r.Targets, want)
	}

	seen := fc.Seen()
	if len(seen) != 1 {
		t.Fatalf("the controller saw %d chaos objects, want 1 PodChaos", len(seen))
	}
	pc, ok := seen[0].(*v1alpha1.PodChaos)
	if !ok {
		t.Fatalf("created %T, want a PodChaos", seen[0])
	}
	if got := pc.Labels; got[mesh.LabelRunID] != runID || got[mesh.LabelManagedBy] != mesh.ManagedBy || got[mesh.LabelFault] != "general-node" {
		t.Errorf("PodChaos labels %v, want run id %s", got, runID)
	}
	if pc.Spec.Duration == nil || *pc.Spec.Duration != "5s" {
		t.Errorf("PodChaos duration %v, want 5s so that Chaos Mesh ends it on its own", pc.Spec.Duration)
	}
	if pc.Spec.Action != v1alpha1.PodFailureAction || len(pc.Spec.Selector.Nodes) != 1 || pc.Spec.Selector.Nodes[0] != want || pc.Namespace != ns {
		t.Errorf("PodChaos %s/%s action %s nodes %v", pc.Namespace, pc.Name, pc.Spec.Action, pc.Spec.Selector.Nodes)
	}

	if got := cordons(); len(got) != 1 || got[want] != runID {
		t.Errorf("cordons seen %v, want %s cordoned by %s", got, want, runID)
	}
	if left := meshtest.WaitNoLeftovers(t, k8s, runID, 10*time.Second); len(left) != 0 {
		t.Errorf("chaos objects left behind: %v", left)
	}
	if left := meshtest.Cordoned(t, k8s); len(left) != 0 {
		t.Errorf("nodes left cordoned: %v", left)
	}
	var labelled corev1.NodeList
	if err := k8s.List(ctx, &labelled, client.HasLabels{mesh.LabelCordonedBy}); err != nil {
		t.Fatal(err)
	}
	if len(labelled.Items) != 0 {
		t.Errorf("%d nodes still carry %s", len(labelled.Items), mesh.LabelCordonedBy)
	}
}

// meshRunOptions runs testdata/chaos.yaml against the reference platform of topo as a URL
// target (scraped by a Prometheus of its own) whose faults go through the backends newBackend
// makes, within namespace ns.
func meshRunOptions(t *testing.T, topo *topology.Topology, ns string, newBackend func(runID string) (chaos.Backend, error)) Options {
	t.Helper()
	c := platformtest.Start(t, topo)
	srv, err := prom.New(context.Background(), prom.Options{Dir: t.TempDir(), RemoteWriteReceiver: true,
		Jobs: []prom.Job{{Name: "platform", FileSD: []string{c.FileSDPath()}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	o := options(t, "chaos.yaml", "reachable.slo.yaml")
	o.Target = &URLTarget{URL: c.GatewayURL(), PrometheusURL: srv.URL(), ExpectJobs: []string{"platform"},
		Chaos: newBackend, Guardrails: chaos.Guardrails{Namespaces: []string{ns}, MaxNodeShare: 0.5}}
	return o
}

// A whole run whose node failure goes through the real Chaos Mesh controller (built from its
// source by hack/chaos-mesh.sh) on the local Kubernetes cluster, as an AWSChaos ec2-stop
// against the cluster's EC2 endpoint: the controller stops the chosen node's instance (its
// node agent powers off) and, when the run recovers the fault, starts it again; run.json
// records the fault injected and recovered as the controller confirmed it, with the object
// the run created, and nothing of the run is left in the cluster.
//
// As in TestURLTargetWithChaosMesh, the load and the SLOs are the reference platform's
// (processes of platformtest), which the cluster's node does not run: this proves the run's
// path through the real controller, not the platform's resilience to it.
func TestURLTargetWithTheRealChaosMesh(t *testing.T) {
	assets := kubeclustertest.ChaosMeshAssets(t)
	topo := platformtest.Topology()
	cluster, err := kubecluster.StartCluster(t.Context(), kubecluster.ClusterOptions{
		Options:  kubecluster.Options{Assets: kubeclustertest.Assets(t), Dir: t.TempDir(), NodeMonitorGracePeriod: 8 * time.Second},
		Topology: topo, Heartbeat: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	ctx := t.Context()
	cm, err := cluster.StartChaosMesh(ctx, assets)
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := cluster.StartCloud()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cloud.Close() })
	k8s, err := client.NewWithWatch(cluster.Config, client.Options{Scheme: mesh.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	const ns, secret = "dailydoco-prod", "aws-local"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, cloud.Secret(ns, secret)); err != nil {
		t.Fatal(err)
	}
	o := meshRunOptions(t, topo, ns, func(runID string) (chaos.Backend, error) {
		return mesh.New(k8s, mesh.Options{RunID: runID, Namespaces: []string{ns}, PoolLabel: PoolLabel,
			AWS: &mesh.AWSOptions{SecretName: secret, Endpoint: cloud.URL}})
	})
	out, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Run.Verdict != verdict.Go {
		t.Errorf("verdict %s: %q", out.Run.Verdict, out.Run.Reasons)
	}
	if len(out.Run.Chaos) != 1 {
		t.Fatalf("chaos results %+v", out.Run.Chaos)
	}
	r := out.Run.Chaos[0]
	if !r.Confirmed() || r.UndoSeconds == nil || !r.RecoveredAt.After(*r.InjectedAt) {
		t.Fatalf("fault not injected and recovered as the controller confirmed: %+v", r)
	}
	if len(r.Targets) != 1 {
		t.Fatalf("targets %v, want one general node", r.Targets)
	}
	// The controller's own times (its records' events, whole seconds) precede ddp-verify's
	// confirmations by less than the poll and watch delays.
	for _, p := range []struct {
		name          string
		backend, tool *time.Time
	}{{"injection", r.BackendInjectedAt, r.InjectedAt}, {"recovery", r.BackendRecoveredAt, r.RecoveredAt}} {
		if p.backend == nil || p.backend.After(*p.tool) || p.tool.Sub(*p.backend) > 5*time.Second {
			t.Errorf("the controller's %s time %v, ddp-verify confirmed it at %v", p.name, p.backend, p.tool)
		}
	}
	node := r.Targets[0]
	var calls []string
	for _, c := range cloud.Calls() {
		if c.Err != "" {
			t.Errorf("the controller's EC2 call failed: %+v", c)
		}
		calls = append(calls, c.Action+" "+c.Node)
	}
	if want := []string{"StopInstances " + node, "StartInstances " + node}; strings.Join(calls, ",") != strings.Join(want, ",") {
		t.Errorf("EC2 calls %v, want %v", calls, want)
	}
	if !cluster.Node(node).PoweredOn() {
		t.Errorf("node %s still powered off after the run", node)
	}
	if left := meshtest.WaitNoLeftovers(t, k8s, out.Run.RunID, 10*time.Second); len(left) != 0 {
		t.Errorf("chaos objects left behind: %v", left)
	}
	if err := cm.Exited(); err != nil {
		t.Errorf("the controller: %v", err)
	}
	t.Logf("node failure %s through the real controller: injected %s (controller %s), recovered %s (controller %s), undo %.2fs",
		node, r.InjectedAt.Format(time.RFC3339Nano), r.BackendInjectedAt.Format(time.RFC3339), r.RecoveredAt.Format(time.RFC3339Nano),
		r.BackendRecoveredAt.Format(time.RFC3339), *r.UndoSeconds)
}

// watchCordons records, from a watch on the Nodes, each node seen cordoned with the
// cordoned-by label, and its value. Call the returned func once the run is over.
func watchCordons(t *testing.T, k8s client.WithWatch) func() map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := k8s.Watch(ctx, &corev1.NodeList{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen = map[string]string{}
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if n, ok := ev.Object.(*corev1.Node); ok && n.Spec.Unschedulable && n.Labels[mesh.LabelCordonedBy] != "" {
				mu.Lock()
				seen[n.Name] = n.Labels[mesh.LabelCordonedBy]
				mu.Unlock()
			}
		}
	})
	stop := func() { cancel(); w.Stop(); wg.Wait() }
	t.Cleanup(stop)
	return func() map[string]string {
		stop()
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// stubBackend resolves every fault to a fixed blast radius and changes nothing.
type stubBackend struct {
	chaos.Backend
	impact chaos.Impact
}

func (s stubBackend) Select(context.Context, chaos.Fault) (chaos.Impact, error) { return s.impact, nil }

// The chaos preflight fails with exit 3 and says what to fix: an unreachable cluster, and a
// fault the guardrails would refuse mid-run.
func TestChaosPreflight(t *testing.T) {
	addr := testenv.RefusedAddr(t) // nothing listens there
	unreachable, err := client.NewWithWatch(&rest.Config{Host: "http://" + addr}, client.Options{Scheme: mesh.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	offline, err := mesh.New(unreachable, mesh.Options{RunID: "r1", Namespaces: []string{"dailydoco-prod"}})
	if err != nil {
		t.Fatal(err)
	}
	fault := chaos.Fault{ID: "gpu", Kind: chaos.NodeFailure, Duration: time.Minute, Target: chaos.Target{Pool: "gpu", Count: 2}}
	tests := []struct {
		name    string
		backend chaos.Backend
		guard   chaos.Guardrails
		want    []string
	}{
		{"unreachable cluster", offline, chaos.Guardrails{Namespaces: []string{"dailydoco-prod"}},
			[]string{"cannot reach the Kubernetes API server", "--kubeconfig"}},
		{"too many nodes", stubBackend{impact: chaos.Impact{Nodes: []string{"a", "b"}, TotalNodes: 3}}, chaos.Guardrails{Namespaces: []string{"dailydoco-prod"}},
			[]string{"fault gpu", "hits 2 of 3 nodes", "--max-node-share"}},
		{"namespace not allowed", stubBackend{impact: chaos.Impact{Nodes: []string{"a"}, TotalNodes: 3, Namespaces: []string{"billing"}}}, chaos.Guardrails{Namespaces: []string{"dailydoco-prod"}},
			[]string{`namespace "billing" is not in the allow-list`, "--namespace"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := chaosPreflight(t.Context(), tc.backend, []chaos.Fault{fault}, tc.guard, 2*time.Second)
			if exitcode.Of(err) != exitcode.Infra {
				t.Fatalf("got %v, want an infrastructure error (exit 3)", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	ok := stubBackend{impact: chaos.Impact{Nodes: []string{"a"}, TotalNodes: 3, Namespaces: []string{"dailydoco-prod"}}}
	if err := chaosPreflight(t.Context(), ok, []chaos.Fault{fault}, chaos.Guardrails{Namespaces: []string{"dailydoco-prod"}}, time.Second); err != nil {
		t.Errorf("a fault within the guardrails: %v", err)
	}
}

// A URL target with faults needs a chaos backend or --no-chaos (exit 2, before anything
// is contacted), and the backend is built for the run's id.
func TestURLTargetFaultsNeedABackend(t *testing.T) {
	o := options(t, "chaos.yaml", "reachable.slo.yaml")
	target := &URLTarget{URL: "http://127.0.0.1:1", PrometheusURL: "http://127.0.0.1:1"}
	o.Target, o.OutDir = target, filepath.Join(t.TempDir(), "run")
	_, err := Run(t.Context(), o)
	if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "--chaos-backend mesh") || !strings.Contains(err.Error(), "--no-chaos") {
		t.Fatalf("got %v, want exit 2 naming --chaos-backend mesh and --no-chaos", err)
	}
	target.Chaos = func(runID string) (chaos.Backend, error) {
		return mesh.New(nil, mesh.Options{RunID: runID}) // no namespaces: refused
	}
	_, err = Run(t.Context(), o)
	if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "no namespaces") {
		t.Fatalf("got %v, want exit 2 from the backend's options", err)
	}
	if _, err := os.Stat(o.OutDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bad input left the run directory behind: %v", err)
	}
}

var labelValue = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)

// The run id labels every chaos object, so it must be a label value whatever the profile
// is called, and short enough that object names keep its random part.
func TestRunIDIsALabelValue(t *testing.T) {
	for _, name := range []string{"smoke", "My Launch Profile (v2)!", "--weird--", "日本", strings.Repeat("long", 30)} {
		id := newRunID(time.Now(), name)
		if !labelValue.MatchString(id) || len(id) > 44 {
			t.Errorf("profile %q: run id %q (%d chars) is not a label value of at most 44", name, id, len(id))
		}
	}
	if got := labelPart("My Launch Profile (v2)!", 20); got != "my-launch-profile-v2" {
		t.Errorf("labelPart = %q", got)
	}
}
