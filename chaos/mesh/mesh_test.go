package mesh_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/chaos/mesh"
	"github.com/dailydoco/ddp-verify/chaos/mesh/meshtest"
)

func newBackend(t *testing.T, runID string, mod func(*mesh.Options)) *mesh.Backend {
	t.Helper()
	o := mesh.Options{RunID: runID, Namespaces: []string{ns}, PollInterval: 20 * time.Millisecond, CleanupWait: 10 * time.Second}
	if mod != nil {
		mod(&o)
	}
	b, err := mesh.New(k8s, o)
	require.NoError(t, err)
	return b
}

var guard = chaos.Guardrails{Namespaces: []string{ns, "billing-allowed"}, MaxNodeShare: 0.4, MaxPodShare: 0.5}

func zoneFault(id, zone string, mode chaos.ZoneMode) chaos.Fault {
	return chaos.Fault{ID: id, Kind: chaos.ZoneOutage, Duration: 10 * time.Minute, Target: chaos.Target{Zone: zone, Mode: mode}}
}

// TestObjectsPerFault injects each fault kind into the real API server (no controller) and
// checks the object the server accepted, the cordons, and that Recover undoes both.
func TestObjectsPerFault(t *testing.T) {
	needCluster(t)
	cases := []struct {
		name      string
		fault     chaos.Fault
		aws       bool
		objects   int
		cordons   []string
		pods      []string
		checkSpec func(t *testing.T, obj client.Object)
	}{
		{
			name: "zone power-loss", fault: zoneFault("az-b", "zone-b", chaos.PowerLoss), objects: 1,
			cordons: []string{"general-b", "gpu-b"}, pods: []string{"dailydoco/api-b", "dailydoco/worker-b"},
			checkSpec: func(t *testing.T, obj client.Object) {
				pc := obj.(*v1alpha1.PodChaos)
				assert.Equal(t, v1alpha1.PodFailureAction, pc.Spec.Action)
				assert.Equal(t, v1alpha1.AllMode, pc.Spec.Mode)
				assert.Equal(t, []string{ns}, pc.Spec.Selector.Namespaces)
				assert.Equal(t, map[string]string{corev1.LabelTopologyZone: "zone-b"}, pc.Spec.Selector.NodeSelectors)
				assert.Equal(t, []string{"Running"}, pc.Spec.Selector.PodPhaseSelectors)
				assert.Equal(t, "10m0s", *pc.Spec.Duration)
			},
		},
		{
			name: "zone partition", fault: zoneFault("part-b", "zone-b", chaos.Partition), objects: 1,
			pods: []string{"dailydoco/api-b", "dailydoco/worker-b"},
			checkSpec: func(t *testing.T, obj client.Object) {
				nc := obj.(*v1alpha1.NetworkChaos)
				assert.Equal(t, v1alpha1.PartitionAction, nc.Spec.Action)
				assert.Equal(t, v1alpha1.Both, nc.Spec.Direction)
				assert.Equal(t, []string{"general-b", "gpu-b"}, nc.Spec.Selector.Nodes)
				require.NotNil(t, nc.Spec.Target)
				assert.Equal(t, []string{"general-a", "general-c", "gpu-a", "gpu-c"}, nc.Spec.Target.Selector.Nodes)
				assert.Equal(t, []string{ns}, nc.Spec.Target.Selector.Namespaces)
				// We never send it (see TestManifestsAreAcceptedByTheServer); this CRD knows the
				// field and defaults it.
				assert.EqualValues(t, "drop", nc.Spec.PartitionBehavior)
			},
		},
		{
			name:    "node failure by pool",
			fault:   chaos.Fault{ID: "gpu", Kind: chaos.NodeFailure, Duration: time.Minute, Target: chaos.Target{Pool: "gpu", Count: 1}},
			objects: 1, cordons: []string{"gpu-a"}, pods: []string{"dailydoco/worker-a"},
			checkSpec: func(t *testing.T, obj client.Object) {
				pc := obj.(*v1alpha1.PodChaos)
				assert.Equal(t, []string{"gpu-a"}, pc.Spec.Selector.Nodes)
				assert.Equal(t, v1alpha1.PodFailureAction, pc.Spec.Action)
			},
		},
		{
			name:  "named node failure on AWS",
			fault: chaos.Fault{ID: "ec2", Kind: chaos.NodeFailure, Duration: time.Minute, Target: chaos.Target{Node: "gpu-c"}},
			aws:   true, objects: 1, pods: []string{"dailydoco/worker-c"},
			checkSpec: func(t *testing.T, obj client.Object) {
				ac := obj.(*v1alpha1.AWSChaos)
				assert.Equal(t, v1alpha1.Ec2Stop, ac.Spec.Action)
				assert.Equal(t, "i-gpuc", ac.Spec.Ec2Instance)
				assert.Equal(t, "us-east-1", ac.Spec.AWSRegion)
			},
		},
		{
			name:    "pod kill",
			fault:   chaos.Fault{ID: "kill-api", Kind: chaos.PodKill, Duration: time.Minute, Target: chaos.Target{Service: "api", Count: 1}},
			objects: 1, pods: []string{"dailydoco/api-a"},
			checkSpec: func(t *testing.T, obj client.Object) {
				pc := obj.(*v1alpha1.PodChaos)
				assert.Equal(t, v1alpha1.PodKillAction, pc.Spec.Action)
				assert.Equal(t, map[string][]string{ns: {"api-a"}}, pc.Spec.Selector.Pods, "the exact pods selected")
			},
		},
		{
			name:    "network delay",
			fault:   chaos.Fault{ID: "slow-api", Kind: chaos.NetworkDelay, Duration: time.Minute, Target: chaos.Target{Service: "api", Latency: 150 * time.Millisecond}},
			objects: 1, pods: []string{"dailydoco/api-a", "dailydoco/api-b", "dailydoco/api-c"},
			checkSpec: func(t *testing.T, obj client.Object) {
				nc := obj.(*v1alpha1.NetworkChaos)
				assert.Equal(t, v1alpha1.DelayAction, nc.Spec.Action)
				require.NotNil(t, nc.Spec.Delay)
				assert.Equal(t, "150ms", nc.Spec.Delay.Latency)
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runID := "objects-" + c.fault.ID
			b := newBackend(t, runID, func(o *mesh.Options) {
				if c.aws {
					o.AWS = &mesh.AWSOptions{}
				}
			})
			ctx := t.Context()
			im, err := b.Select(ctx, c.fault)
			require.NoError(t, err)
			require.NoError(t, guard.Check(c.fault, im))
			var pods []string
			for _, p := range im.Pods {
				pods = append(pods, p.Namespace+"/"+p.Name)
			}
			assert.Equal(t, c.pods, pods, "blast radius")

			inj, err := b.Inject(ctx, c.fault, im)
			require.NoError(t, err, "the API server accepts the object")
			st := leftovers(t, runID)
			require.Len(t, st, c.objects)
			assert.Equal(t, c.cordons, cordoned(t))

			obj := fetch(t, inj.Objects[len(inj.Objects)-1])
			assert.Equal(t, mesh.ManagedBy, obj.GetLabels()[mesh.LabelManagedBy])
			assert.Equal(t, runID, obj.GetLabels()[mesh.LabelRunID])
			assert.Equal(t, c.fault.ID, obj.GetLabels()[mesh.LabelFault])
			c.checkSpec(t, obj)

			_, err = b.Recover(ctx, inj)
			require.NoError(t, err)
			_, err = b.WaitRecovered(ctx, inj)
			require.NoError(t, err)
			assert.Empty(t, remaining(t, runID))
			assert.Empty(t, cordoned(t))
		})
	}
}

// fetch reads back an object named as in Injection.Objects ("Kind ns/name").
func fetch(t *testing.T, desc string) client.Object {
	t.Helper()
	kind, key, _ := strings.Cut(desc, " ")
	nsName := strings.SplitN(key, "/", 2)
	var obj client.Object
	switch kind {
	case "PodChaos":
		obj = &v1alpha1.PodChaos{}
	case "NetworkChaos":
		obj = &v1alpha1.NetworkChaos{}
	case "AWSChaos":
		obj = &v1alpha1.AWSChaos{}
	default:
		t.Fatalf("unexpected object %q", desc)
	}
	require.NoError(t, k8s.Get(t.Context(), client.ObjectKey{Namespace: nsName[0], Name: nsName[1]}, obj))
	return obj
}

// TestRunRecordsInjectionAndRecoveryTimes runs the scheduler with the fake controller and
// checks both the tool's and the controller's times are recorded.
func TestRunRecordsInjectionAndRecoveryTimes(t *testing.T) {
	needCluster(t)
	fc := &meshtest.Controller{Client: k8s}
	fc.Start(t)
	runID := "times"
	b := newBackend(t, runID, nil)
	faults := []chaos.Fault{
		{ID: "gpu", Kind: chaos.NodeFailure, Duration: 50 * time.Millisecond, Target: chaos.Target{Pool: "gpu", Count: 1}},
		{ID: "part-b", Kind: chaos.ZoneOutage, Duration: 50 * time.Millisecond, Target: chaos.Target{Zone: "zone-b", Mode: chaos.Partition}},
	}
	res, err := chaos.NewScheduler(b, faults, chaos.WithGuardrails(guard)).Run(t.Context())
	require.NoError(t, err)
	for _, r := range res {
		assert.Equal(t, chaos.Recovered, r.Phase, r.Fault.ID)
		assert.False(t, r.Submitted.Backend.IsZero(), "creation time")
		name := "*v1alpha1.PodChaos/ddpv-gpu-times"
		if r.Fault.ID == "part-b" {
			name = "*v1alpha1.NetworkChaos/ddpv-part-b-times"
		}
		assert.Equal(t, fc.Stamp(name+"/apply").UTC(), r.Injected.Backend, r.Fault.ID)
		assert.Equal(t, fc.Stamp(name+"/recover").UTC(), r.Recovered.Backend, r.Fault.ID)
		assert.False(t, r.Injected.Tool.Before(r.Submitted.Tool))
		assert.False(t, r.Recovered.Tool.Before(r.RecoveryRequested.Tool))
		require.NotEmpty(t, r.TargetTimes)
		for _, tt := range r.TargetTimes {
			assert.Equal(t, r.Injected.Backend, tt.Injected, tt.Target)
			assert.Equal(t, r.Recovered.Backend, tt.Recovered, tt.Target)
		}
	}
	assert.Equal(t, []string{"gpu-a"}, res[0].Targets[:1])
	assert.Empty(t, remaining(t, runID))
	assert.Empty(t, cordoned(t))
}

// TestInjectionTimeoutIsCleanedUp: a fault the controller never injects times out with a
// clear error, and its object and cordons are removed.
func TestInjectionTimeoutIsCleanedUp(t *testing.T) {
	needCluster(t)
	fc := &meshtest.Controller{Client: k8s, NeverInject: []string{"stuck"}}
	fc.Start(t)
	runID := "timeout"
	b := newBackend(t, runID, func(o *mesh.Options) {
		o.Timeouts = map[chaos.Kind]mesh.Timeouts{chaos.ZoneOutage: {Inject: 300 * time.Millisecond}}
	})
	res, err := chaos.NewScheduler(b, []chaos.Fault{zoneFault("stuck", "zone-b", chaos.PowerLoss)}, chaos.WithGuardrails(guard)).Run(t.Context())
	require.ErrorIs(t, err, mesh.ErrTimeout)
	assert.ErrorContains(t, err, "PodChaos dailydoco/ddpv-stuck-timeout: AllInjected not confirmed in time within 300ms (conditions: AllInjected=False)")
	assert.Equal(t, chaos.Failed, res[0].Phase)
	assert.Empty(t, remaining(t, runID), "the stuck object is deleted")
	assert.Empty(t, cordoned(t), "the zone is uncordoned")
}

// TestGuardrailsRefuseForbiddenTargets resolves each forbidden target from the real
// cluster and checks the guardrails refuse it.
func TestGuardrailsRefuseForbiddenTargets(t *testing.T) {
	needCluster(t)
	b := newBackend(t, "guard", nil)
	cases := []struct {
		name  string
		fault chaos.Fault
		want  string
	}{
		{"kube-system", chaos.Fault{ID: "dns", Kind: chaos.PodKill, Duration: time.Minute, Target: chaos.Target{Namespace: "kube-system", Service: "coredns"}}, `namespace "kube-system" is never a target`},
		{"chaos-mesh namespace", chaos.Fault{ID: "cm", Kind: chaos.PodKill, Duration: time.Minute, Target: chaos.Target{Namespace: "chaos-mesh", Service: "chaos-controller"}}, `namespace "chaos-mesh" is never a target`},
		{"namespace not allowed", chaos.Fault{ID: "bill", Kind: chaos.PodKill, Duration: time.Minute, Target: chaos.Target{Namespace: "billing", Service: "invoice"}}, `namespace "billing" is not in the allow-list`},
		{"DaemonSet pod", chaos.Fault{ID: "ds", Kind: chaos.PodKill, Duration: time.Minute, Target: chaos.Target{Service: "node-agent"}}, "dailydoco/node-agent-c belongs to a DaemonSet"},
		{"hostNetwork pod", chaos.Fault{ID: "hn", Kind: chaos.PodKill, Duration: time.Minute, Target: chaos.Target{Service: "edge-proxy"}}, "dailydoco/edge-proxy-c uses the host network"},
		{"zone holding DaemonSet pods", zoneFault("az-c", "zone-c", chaos.PowerLoss), "belongs to a DaemonSet"},
		{"only zone of a service", zoneFault("az-a", "zone-a", chaos.PowerLoss), "zone zone-a holds every replica of dailydoco/redis"},
		{"too many nodes", chaos.Fault{ID: "many", Kind: chaos.NodeFailure, Duration: time.Minute, Target: chaos.Target{Pool: "general", Count: 3}}, "hits 3 of 6 nodes, more than the maximum share 0.40"},
		{"too many pods", chaos.Fault{ID: "all-api", Kind: chaos.PodKill, Duration: time.Minute, Target: chaos.Target{Selector: map[string]string{"app.kubernetes.io/name": "api"}, Count: 0}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im, err := b.Select(t.Context(), c.fault)
			require.NoError(t, err)
			err = guard.Check(c.fault, im)
			if c.want == "" {
				require.NoError(t, err, "3 of 9 pods is within the 0.5 share")
				return
			}
			require.ErrorIs(t, err, chaos.ErrRefused)
			assert.ErrorContains(t, err, c.want)
		})
	}
	forced := zoneFault("az-a", "zone-a", chaos.PowerLoss)
	forced.Force = true
	im, err := b.Select(t.Context(), forced)
	require.NoError(t, err)
	assert.NoError(t, guard.Check(forced, im), "force allows the only zone of a service")
}

// TestCleanupAfterCrash leaves objects and cordons behind as a killed run would, then
// removes them by run id, leaving another run's objects alone.
func TestCleanupAfterCrash(t *testing.T) {
	needCluster(t)
	fc := &meshtest.Controller{Client: k8s}
	fc.Start(t)
	ctx := t.Context()
	crashed := newBackend(t, "crashed", nil)
	other := newBackend(t, "other", nil)
	for _, f := range []chaos.Fault{
		zoneFault("az-b", "zone-b", chaos.PowerLoss),
		{ID: "slow", Kind: chaos.NetworkDelay, Duration: time.Hour, Target: chaos.Target{Service: "worker", Latency: time.Second}},
	} {
		im, err := crashed.Select(ctx, f)
		require.NoError(t, err)
		inj, err := crashed.Inject(ctx, f, im)
		require.NoError(t, err)
		_, err = crashed.WaitInjected(ctx, inj)
		require.NoError(t, err)
	}
	keep := chaos.Fault{ID: "keep", Kind: chaos.PodKill, Duration: time.Hour, Target: chaos.Target{Service: "api", Count: 1}}
	im, err := other.Select(ctx, keep)
	require.NoError(t, err)
	keepInj, err := other.Inject(ctx, keep, im)
	require.NoError(t, err)
	require.Equal(t, []string{"general-b", "gpu-b"}, cordoned(t))

	rep, err := mesh.Cleanup(ctx, k8s, "crashed", 20*time.Millisecond, 10*time.Second)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"PodChaos dailydoco/ddpv-az-b-crashed", "NetworkChaos dailydoco/ddpv-slow-crashed"}, rep.Deleted)
	assert.ElementsMatch(t, []string{"uncordoned Node general-b", "uncordoned Node gpu-b"}, rep.Restored)
	assert.Empty(t, rep.Left)
	assert.Empty(t, remaining(t, "crashed"))
	assert.Empty(t, cordoned(t))
	assert.Len(t, leftovers(t, "other"), 1, "another run's objects stay")

	_, err = other.Recover(ctx, keepInj)
	require.NoError(t, err)
	_, err = other.WaitRecovered(ctx, keepInj)
	require.NoError(t, err)
}

// TestManifestsAreAcceptedByTheServer renders a plan's manifests and submits each document
// to the API server with a server-side dry run, which validates it against the CRD schema.
func TestManifestsAreAcceptedByTheServer(t *testing.T) {
	needCluster(t)
	var nodes corev1.NodeList
	require.NoError(t, k8s.List(t.Context(), &nodes))
	faults := []chaos.Fault{
		zoneFault("az-b", "zone-b", chaos.PowerLoss),
		zoneFault("part-c", "zone-c", chaos.Partition),
		{ID: "gpu", Kind: chaos.NodeFailure, At: time.Minute, Duration: time.Minute, Target: chaos.Target{Pool: "gpu", Count: 1}},
		{ID: "kill", Kind: chaos.PodKill, Duration: time.Minute, Target: chaos.Target{Service: "api", Count: 1}},
		{ID: "slow", Kind: chaos.NetworkDelay, Duration: time.Minute, Target: chaos.Target{Zone: "zone-a", Latency: 100 * time.Millisecond}},
	}
	out, err := mesh.Manifests(faults, mesh.Options{RunID: "plan", Namespaces: []string{ns}}, nodes.Items)
	require.NoError(t, err)
	docs := strings.Split(string(out), "---\n")[1:]
	require.Len(t, docs, len(faults))
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal([]byte(d), &u.Object), d)
		require.NoError(t, k8s.Create(t.Context(), u, client.DryRunAll), d)
	}
	assert.Contains(t, docs[0], "cordons nodes [general-b gpu-b]")
	assert.NotContains(t, string(out), "partitionBehavior", "left unset for CRDs that predate it")
	assert.Empty(t, remaining(t, "plan"), "a dry run creates nothing")
}
