package mesh_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/chaos/mesh"
	"github.com/dailydoco/ddp-verify/chaos/mesh/meshtest"
	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/run"
	"github.com/dailydoco/ddp-verify/slo"
)

// The real-controller tests' platform namespace, the AWS credentials' Secret and the pods'
// service label value.
const (
	realNS     = "dailydoco"
	awsSecret  = "aws-local"
	apiService = "api"
)

// realMesh is a local cluster (the real scheduler and controllers, nodes that run pods as
// processes) with the real Chaos Mesh controller manager, its admission webhooks, and the
// cluster's EC2 endpoint.
type realMesh struct {
	cluster *kubecluster.Cluster
	cm      *kubecluster.ChaosMesh
	cloud   *kubecluster.Cloud
	c       client.WithWatch
}

func startRealMesh(t *testing.T) *realMesh {
	t.Helper()
	assets := kubeclustertest.ChaosMeshAssets(t)
	cluster := kubeclustertest.Start(t, 8*time.Second, time.Second)
	cm, err := cluster.StartChaosMesh(t.Context(), assets)
	require.NoError(t, err)
	cloud, err := cluster.StartCloud()
	require.NoError(t, err)
	t.Cleanup(func() { _ = cloud.Close() })
	c, err := client.NewWithWatch(cluster.Config, client.Options{Scheme: mesh.NewScheme()})
	require.NoError(t, err)
	ctx := t.Context()
	for _, n := range []string{realNS, "dailydoco-prod"} {
		require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}))
	}
	require.NoError(t, c.Create(ctx, cloud.Secret(realNS, awsSecret)))
	return &realMesh{cluster: cluster, cm: cm, cloud: cloud, c: c}
}

// deployAPI runs the test's pod program as a Deployment of one replica per zone on the general
// pool, with readiness and liveness probes, tolerating a lost node for 2 s (so evictions are
// quick), and waits until all are Ready.
func (m *realMesh) deployAPI(t *testing.T) {
	t.Helper()
	labels := map[string]string{"app.kubernetes.io/name": apiService}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(kubeclustertest.PodPort)}},
			PeriodSeconds: 1, FailureThreshold: 2}
	}
	replicas, grace, tolerate := int32(3), int64(2), int64(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: apiService, Namespace: realNS},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				NodeSelector:                  map[string]string{kubecluster.PoolLabel: "general"},
				TerminationGracePeriodSeconds: &grace,
				Tolerations: []corev1.Toleration{
					{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &tolerate},
					{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &tolerate},
				},
				TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: kubecluster.ZoneLabel,
					WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}},
				Containers: []corev1.Container{{Name: "api", Image: "ddp-verify",
					LivenessProbe: probe("/health"), ReadinessProbe: probe("/ready")}},
			}}}}
	require.NoError(t, m.c.Create(t.Context(), dep))
	m.waitReady(t, 3)
}

// readyAPI lists the api pods that are Ready and not being deleted.
func (m *realMesh) readyAPI(t *testing.T) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	require.NoError(t, m.c.List(t.Context(), &pods, client.InNamespace(realNS), client.MatchingLabels{"app.kubernetes.io/name": apiService}))
	var out []corev1.Pod
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

func (m *realMesh) waitReady(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(m.readyAPI(t)) >= n }, 2*time.Minute, 200*time.Millisecond, "%d api pods Ready", n)
}

func (m *realMesh) backend(t *testing.T, runID string, aws bool) *mesh.Backend {
	t.Helper()
	o := mesh.Options{RunID: runID, Namespaces: []string{realNS}, PollInterval: 100 * time.Millisecond, CleanupWait: time.Minute}
	if aws {
		o.AWS = &mesh.AWSOptions{SecretName: awsSecret, Endpoint: m.cloud.URL}
	}
	b, err := mesh.New(m.c, o)
	require.NoError(t, err)
	return b
}

// nodeReady is a node's Ready condition.
func (m *realMesh) nodeReady(t *testing.T, name string) corev1.ConditionStatus {
	t.Helper()
	var n corev1.Node
	require.NoError(t, m.c.Get(t.Context(), client.ObjectKey{Name: name}, &n))
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// injectAndRecover runs one fault through the backend as the scheduler does (select, inject,
// wait for AllInjected), calls during while it is injected, then recovers it and waits for
// the controller's recovery. It returns the injection and the wall-clock time from the
// objects' creation to the controller's AllInjected and from their deletion to its recovery
// (the controller's own record times have a resolution of one second).
func injectAndRecover(t *testing.T, b *mesh.Backend, f chaos.Fault, during func(im chaos.Impact)) (*chaos.Injection, time.Duration, time.Duration) {
	t.Helper()
	ctx := t.Context()
	im, err := b.Select(ctx, f)
	require.NoError(t, err)
	created := time.Now()
	inj, err := b.Inject(ctx, f, im)
	require.NoError(t, err)
	injected, err := b.WaitInjected(ctx, inj)
	require.NoError(t, err)
	toInjected := time.Since(created)
	require.False(t, injected.IsZero(), "the controller's records carry the injection time")
	during(im)
	deleted := time.Now()
	_, err = b.Recover(ctx, inj)
	require.NoError(t, err)
	recovered, err := b.WaitRecovered(ctx, inj)
	require.NoError(t, err)
	require.False(t, recovered.IsZero(), "the controller's records carry the recovery time")
	return inj, toInjected.Round(time.Millisecond), time.Since(deleted).Round(time.Millisecond)
}

// The harness's Chaos Mesh backend, unchanged, against the real chaos-controller-manager built
// from the Chaos Mesh source (hack/chaos-mesh.sh) on the local cluster: the controller accepts
// the objects (through its own defaulting and validating webhooks), reports AllInjected and
// recovers them, and what it does reaches the pods and nodes as it would on EKS.
func TestTheRealChaosMeshController(t *testing.T) {
	m := startRealMesh(t)
	m.deployAPI(t)
	ctx := t.Context()

	t.Run("pod-kill deletes the pod and the ReplicaSet replaces it", func(t *testing.T) {
		b := m.backend(t, "kill", false)
		f := chaos.Fault{ID: "kill", Kind: chaos.PodKill, Duration: 30 * time.Second, Target: chaos.Target{Service: apiService, Count: 1}}
		var victim chaos.Pod
		_, in, out := injectAndRecover(t, b, f, func(im chaos.Impact) {
			require.Len(t, im.Pods, 1)
			victim = im.Pods[0]
			var p corev1.Pod
			err := m.c.Get(ctx, client.ObjectKey{Namespace: victim.Namespace, Name: victim.Name}, &p)
			assert.True(t, client.IgnoreNotFound(err) == nil && (err != nil || p.DeletionTimestamp != nil), "pod %s still there, not being deleted (%v)", victim.Name, err)
		})
		m.waitReady(t, 3)
		for _, p := range m.readyAPI(t) {
			assert.NotEqual(t, victim.Name, p.Name)
		}
		assert.Empty(t, meshtest.Leftovers(t, m.c, "kill"))
		t.Logf("pod-kill: AllInjected %v after creation, recovered %v after deletion", in, out)
	})

	t.Run("pod-failure pauses the node's pods and restores them", func(t *testing.T) {
		b := m.backend(t, "podfail", false)
		f := chaos.Fault{ID: "general", Kind: chaos.NodeFailure, Duration: time.Minute, Target: chaos.Target{Pool: "general", Count: 1}}
		var node string
		_, in, out := injectAndRecover(t, b, f, func(im chaos.Impact) {
			require.Len(t, im.Nodes, 1)
			node = im.Nodes[0]
			require.Eventually(t, func() bool {
				for _, p := range m.readyAPI(t) {
					if p.Spec.NodeName == node {
						return false
					}
				}
				return true
			}, time.Minute, 200*time.Millisecond, "the api pod on %s not Ready", node)
			var pods corev1.PodList
			require.NoError(t, m.c.List(ctx, &pods, client.InNamespace(realNS), client.MatchingFields{"spec.nodeName": node}))
			require.NotEmpty(t, pods.Items)
			for _, p := range pods.Items {
				assert.True(t, kubecluster.PauseImage(p.Spec.Containers[0].Image), "pod %s runs %s", p.Name, p.Spec.Containers[0].Image)
			}
			var n corev1.Node
			require.NoError(t, m.c.Get(ctx, client.ObjectKey{Name: node}, &n))
			assert.True(t, n.Spec.Unschedulable, "node %s cordoned for the window", node)
		})
		m.waitReady(t, 3)
		var pods corev1.PodList
		require.NoError(t, m.c.List(ctx, &pods, client.InNamespace(realNS), client.MatchingFields{"spec.nodeName": node}))
		for _, p := range pods.Items {
			assert.Equal(t, "ddp-verify", p.Spec.Containers[0].Image, "pod %s's image restored", p.Name)
		}
		assert.Empty(t, meshtest.Cordoned(t, m.c))
		t.Logf("pod-failure: AllInjected %v after creation, recovered %v after deletion", in, out)
	})

	t.Run("a zone's power loss stops its instances through AWSChaos and starts them again", func(t *testing.T) {
		b := m.backend(t, "az", true)
		const zone = "us-east-1a"
		f := chaos.Fault{ID: "az", Kind: chaos.ZoneOutage, Duration: 2 * time.Minute, Target: chaos.Target{Zone: zone, Mode: chaos.PowerLoss}}
		var zoneNodes []string
		inj, in, out := injectAndRecover(t, b, f, func(im chaos.Impact) {
			zoneNodes = im.Nodes
			require.NotEmpty(t, zoneNodes)
			for _, n := range zoneNodes {
				assert.False(t, m.cluster.Node(n).PoweredOn(), "node %s powered off", n)
			}
			require.Eventually(t, func() bool {
				for _, n := range zoneNodes {
					if m.nodeReady(t, n) == corev1.ConditionTrue {
						return false
					}
				}
				return true
			}, time.Minute, 200*time.Millisecond, "the zone's nodes NotReady")
			// The real node lifecycle controller evicts the zone's pod; its replacement runs
			// in another zone.
			m.waitReady(t, 3)
		})
		assert.Len(t, inj.Objects, len(zoneNodes), "one AWSChaos per instance: %v", inj.Objects)
		for _, n := range zoneNodes {
			assert.True(t, m.cluster.Node(n).PoweredOn(), "node %s powered on again", n)
		}
		require.Eventually(t, func() bool {
			for _, n := range zoneNodes {
				if m.nodeReady(t, n) != corev1.ConditionTrue {
					return false
				}
			}
			return true
		}, time.Minute, 200*time.Millisecond, "the zone's nodes Ready again")
		assert.Equal(t, []string{"StartInstances", "StopInstances"}, cloudActions(m.cloud, zoneNodes))
		assert.Empty(t, meshtest.Leftovers(t, m.c, "az"))
		t.Logf("zone power loss (%d instances): AllInjected %v after creation, recovered %v after deletion", len(zoneNodes), in, out)
	})

	t.Run("a killed harness: the objects' duration recovers the zone, cleanup leaves nothing", func(t *testing.T) {
		const zone, runID = "us-east-1b", "killed"
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), "MESH_TEST_HARNESS="+strings.Join([]string{m.cluster.Kubeconfig, m.cloud.URL, runID, zone}, ","))
		stdout, err := child.StdoutPipe()
		require.NoError(t, err)
		var stderr bytes.Buffer
		child.Stderr = &stderr
		require.NoError(t, child.Start())
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		require.Equal(t, "injected\n", line, "the harness's output: %s", stderr.String())
		require.NoError(t, child.Process.Signal(syscall.SIGKILL))
		_ = child.Wait()
		killed := time.Now()
		zoneNodes := nodesOf(t, m.c, zone)
		for _, n := range zoneNodes {
			assert.False(t, m.cluster.Node(n).PoweredOn(), "node %s powered off by the harness's objects", n)
		}
		require.Eventually(t, func() bool {
			for _, n := range zoneNodes {
				if !m.cluster.Node(n).PoweredOn() || m.nodeReady(t, n) != corev1.ConditionTrue {
					return false
				}
			}
			return true
		}, 2*time.Minute, 200*time.Millisecond, "the controller powers the zone on when the objects' duration ends")
		t.Logf("harness SIGKILLed during the outage: the zone's %d nodes Ready again %v later (duration %s)", len(zoneNodes), time.Since(killed).Round(100*time.Millisecond), harnessFaultDuration)
		require.NotEmpty(t, meshtest.Leftovers(t, m.c, runID), "the recovered objects stay until cleanup")
		rep, err := mesh.Cleanup(ctx, m.c, runID, 100*time.Millisecond, time.Minute)
		require.NoError(t, err)
		assert.Len(t, rep.Deleted, len(zoneNodes))
		assert.Empty(t, rep.Left)
		assert.Empty(t, meshtest.Leftovers(t, m.c, runID))
		assert.Equal(t, []string{"StartInstances", "StopInstances"}, cloudActions(m.cloud, zoneNodes))
	})

	t.Run("every manifest plan prints is accepted by the real CRDs and webhooks", func(t *testing.T) {
		spec, err := slo.Default()
		require.NoError(t, err)
		sawAWS := false
		for _, name := range profile.Builtin() {
			plan, err := profile.Resolve(name, 1)
			require.NoError(t, err, name)
			if len(plan.Faults) == 0 {
				continue
			}
			for _, aws := range []*mesh.AWSOptions{nil, {SecretName: awsSecret, Endpoint: m.cloud.URL}} {
				var out bytes.Buffer
				require.NoError(t, run.WritePlan(&out, plan, spec, topology.Default(), []string{realNS}, aws), name)
				_, manifests, found := strings.Cut(out.String(), "CHAOS MESH MANIFESTS")
				require.True(t, found, "%s: plan printed no manifests", name)
				docs := strings.Split(manifests, "---\n")[1:]
				require.NotEmpty(t, docs, name)
				for _, d := range docs {
					u := &unstructured.Unstructured{}
					require.NoError(t, yaml.Unmarshal([]byte(d), &u.Object), d)
					require.NoError(t, m.c.Create(ctx, u, client.DryRunAll), "%s: %s", name, d)
					if aws != nil && u.GetKind() == "AWSChaos" {
						sawAWS = true
					}
				}
			}
		}
		assert.True(t, sawAWS, "the built-in profiles' node and zone faults as AWSChaos were checked too")
		// The webhooks run on a dry run too: an object the controller's validation refuses is
		// refused here, so a manifest that passed was judged by Chaos Mesh itself.
		bad := &v1alpha1.PodChaos{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: realNS}}
		bad.Spec.Action = v1alpha1.PodKillAction
		bad.Spec.Mode = v1alpha1.FixedMode // fixed without a value
		bad.Spec.Selector.Namespaces = []string{realNS}
		err = m.c.Create(ctx, bad, client.DryRunAll)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "admission webhook")
	})

	if rss, err := rssMiB(m.cm.PID()); err == nil {
		t.Logf("chaos-controller-manager: %.0f MiB resident", rss)
	}
	require.NoError(t, m.cm.Exited(), "the controller kept running")
}

// harnessFaultDuration is the killed harness's zone outage.
const harnessFaultDuration = 20 * time.Second

// harness is the test binary as a harness that injects a zone power loss through AWSChaos,
// says "injected" once the controller confirmed it, and waits to be killed.
func harness(args string) int {
	parts := strings.Split(args, ",")
	kubeconfig, endpoint, runID, zone := parts[0], parts[1], parts[2], parts[3]
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: mesh.NewScheme()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, err := mesh.New(c, mesh.Options{RunID: runID, Namespaces: []string{realNS}, AWS: &mesh.AWSOptions{SecretName: awsSecret, Endpoint: endpoint}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	f := chaos.Fault{ID: "az", Kind: chaos.ZoneOutage, Duration: harnessFaultDuration, Target: chaos.Target{Zone: zone, Mode: chaos.PowerLoss}}
	im, err := b.Select(ctx, f)
	if err == nil {
		var inj *chaos.Injection
		if inj, err = b.Inject(ctx, f, im); err == nil {
			_, err = b.WaitInjected(ctx, inj)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("injected")
	select {}
}

// cloudActions lists the distinct successful EC2 actions on nodes, sorted.
func cloudActions(cloud *kubecluster.Cloud, nodes []string) []string {
	seen := map[string]bool{}
	for _, c := range cloud.Calls() {
		for _, n := range nodes {
			if c.Err == "" && c.Node == n {
				seen[c.Action] = true
			}
		}
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

func nodesOf(t *testing.T, c client.Client, zone string) []string {
	t.Helper()
	var nodes corev1.NodeList
	require.NoError(t, c.List(t.Context(), &nodes, client.MatchingLabels{kubecluster.ZoneLabel: zone}))
	var out []string
	for _, n := range nodes.Items {
		out = append(out, n.Name)
	}
	return out
}

// rssMiB is a process's resident memory.
func rssMiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb float64
			_, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}
