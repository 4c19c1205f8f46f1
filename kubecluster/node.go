package kubecluster

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

// Labels, resource and taint of the nodes, as on EKS (the harness's Chaos Mesh backend selects
// nodes by them; the chart's GPU pods request, tolerate and select them).
const (
	ZoneLabel         = "topology.kubernetes.io/zone"
	InstanceTypeLabel = "node.kubernetes.io/instance-type"
	PoolLabel         = "eks.amazonaws.com/nodegroup"
	GPUResource       = "nvidia.com/gpu"
	GPUTaint          = "nvidia.com/gpu"
)

// NodeLeaseNamespace holds the nodes' heartbeat Leases, as a kubelet keeps them.
const NodeLeaseNamespace = "kube-node-lease"

// DefaultHeartbeat is how often a node agent renews its Lease and reports its status
// (a kubelet's default node-status-update-frequency and lease renewal).
const DefaultHeartbeat = 10 * time.Second

// NodeAgent is one topology node as a Kubernetes Node: it registers the Node with the
// topology's zone, pool and instance type as labels, the instance type's capacity (and its
// GPUs as nvidia.com/gpu, with the GPU taint), and keeps it Ready with its heartbeats (the
// node Lease and the Ready condition) until it is powered off.
type NodeAgent struct {
	Node topology.Node

	client    kubernetes.Interface
	log       *slog.Logger
	heartbeat time.Duration

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	pods   *podRuntime
	launch *launcher    // starts the pods' processes (the cluster's, or the agent's own)
	podSeq atomic.Int64 // numbers the pods' addresses
	// podNetwork, when set, is where the pods' addresses come from (PodNetwork); else loopback.
	podNetwork netip.Prefix
	// podsDir holds each pod's working directory; empty: the pods run in the agent's.
	podsDir string
	// pki, when set, is the cluster's certificate authority: the agent serves the kubelet's
	// resource metrics with a certificate of it.
	pki *pki
	// servers are the powered-on node's endpoints (kubelet.go).
	servers *nodeServers
}

// NewNodeAgent returns the agent of node n, powered off.
func NewNodeAgent(client kubernetes.Interface, n topology.Node, heartbeat time.Duration, log *slog.Logger) *NodeAgent {
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &NodeAgent{Node: n, client: client, log: log.With("node", n.Name), heartbeat: heartbeat}
}

// PowerOn registers the node (or finds it registered), serves its endpoints, reports it
// Ready and starts its heartbeats and its pods.
func (a *NodeAgent) PowerOn(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cancel != nil {
		return nil
	}
	if err := a.register(ctx); err != nil {
		return fmt.Errorf("node %s: register: %w", a.Node.Name, err)
	}
	usage := &nodeUsage{}
	servers, err := a.startServers(usage)
	if err != nil {
		return err
	}
	if err := a.publishEndpoints(ctx, servers); err != nil {
		servers.close()
		return fmt.Errorf("node %s: publish its endpoints: %w", a.Node.Name, err)
	}
	a.servers = servers
	if err := a.beat(ctx); err != nil {
		servers.close()
		a.servers = nil
		return fmt.Errorf("node %s: first heartbeat: %w", a.Node.Name, err)
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel, a.done = cancel, make(chan struct{})
	go a.beatEvery(hctx, a.done)
	if a.launch == nil {
		a.launch = newLauncher()
	}
	a.pods = a.startPods(hctx)
	usage.pods.Store(a.pods)
	a.log.Info("node powered on")
	return nil
}

// PowerOff stops the node at once, as when its machine loses power: every pod's processes
// are killed, its endpoints stop answering and the heartbeats stop. The Node and its pods
// stay in the API; the node lifecycle controller marks the node NotReady after its grace
// period.
func (a *NodeAgent) PowerOff() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cancel == nil {
		return
	}
	a.servers.close()
	a.pods.powerOff()
	a.cancel()
	<-a.done
	a.cancel, a.done, a.servers = nil, nil, nil
	a.log.Info("node powered off")
}

// nodeObject is the Node as the agent registers it.
func (a *NodeAgent) nodeObject() *corev1.Node {
	n := a.Node
	it := topology.InstanceTypes[n.InstanceType]
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(it.VCPUs), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(int64(it.MemoryGiB)<<30, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
	}
	var taints []corev1.Taint
	if it.GPUs > 0 {
		capacity[GPUResource] = *resource.NewQuantity(int64(it.GPUs), resource.DecimalSI)
		taints = append(taints, corev1.Taint{Key: GPUTaint, Value: "true", Effect: corev1.TaintEffectNoSchedule})
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: map[string]string{
			ZoneLabel: n.Zone, corev1.LabelTopologyRegion: Region(n.Zone), PoolLabel: n.Pool, InstanceTypeLabel: n.InstanceType,
			corev1.LabelHostname: n.Name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64",
		}},
		Spec: corev1.NodeSpec{ProviderID: "aws:///" + n.Zone + "/" + InstanceID(n.Name), Taints: taints},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity,
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "ddp-verify-node-agent", OperatingSystem: "linux", Architecture: "amd64"}},
	}
}

// Region is the region of an AWS availability zone: the zone's name without its letter
// (us-east-1a: us-east-1).
func Region(zone string) string { return strings.TrimRight(zone, "abcdefghijklmnopqrstuvwxyz") }

// InstanceID is the EC2 instance id the local cluster gives a node.
func InstanceID(node string) string {
	id := []byte("i-")
	for _, r := range node {
		if r != '-' {
			id = append(id, byte(r))
		}
	}
	return string(id)
}

// register creates the Node, or keeps the one there (a node powered on again).
func (a *NodeAgent) register(ctx context.Context) error {
	_, err := a.client.CoreV1().Nodes().Create(ctx, a.nodeObject(), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (a *NodeAgent) beatEvery(ctx context.Context, done chan struct{}) {
	defer close(done)
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := a.beat(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("heartbeat", "err", err)
		}
	}, a.heartbeat)
}

// beat renews the node's Lease and reports it Ready with its capacity.
func (a *NodeAgent) beat(ctx context.Context) error {
	if err := a.renewLease(ctx); err != nil {
		return err
	}
	// The controllers change the Node too (taints, annotations): a conflict is retried on the
	// latest version, as a kubelet does.
	return retry.RetryOnConflict(retry.DefaultRetry, func() error { return a.postStatus(ctx) })
}

// postStatus reports the node Ready with its capacity and addresses.
func (a *NodeAgent) postStatus(ctx context.Context) error {
	node, err := a.client.CoreV1().Nodes().Get(ctx, a.Node.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	want := a.nodeObject()
	now := metav1.Now()
	node.Status.Capacity, node.Status.Allocatable, node.Status.NodeInfo = want.Status.Capacity, want.Status.Allocatable, want.Status.NodeInfo
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: a.Node.Name}, {Type: corev1.NodeInternalIP, Address: NodeIP(a.Node)}}
	node.Status.DaemonEndpoints = a.daemonEndpoints()
	setCondition(&node.Status, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "ddp-verify node agent is posting ready status", LastHeartbeatTime: now})
	for _, c := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		setCondition(&node.Status, corev1.NodeCondition{Type: c, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficient" + string(c)[:len(c)-len("Pressure")], LastHeartbeatTime: now})
	}
	_, err = a.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	return err
}

// NodeIP is the node's loopback address (the reference platform's node addressing: 127.0.1.(10+index)).
func NodeIP(n topology.Node) string { return "127.0.1." + strconv.Itoa(10+n.Index) }

// setCondition sets a condition, keeping its transition time when its status is unchanged.
func setCondition(st *corev1.NodeStatus, c corev1.NodeCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == c.Type {
			c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			if st.Conditions[i].Status != c.Status {
				c.LastTransitionTime = c.LastHeartbeatTime
			}
			st.Conditions[i] = c
			return
		}
	}
	c.LastTransitionTime = c.LastHeartbeatTime
	st.Conditions = append(st.Conditions, c)
}

// renewLease renews (or creates) the node's Lease, as a kubelet's heartbeat.
func (a *NodeAgent) renewLease(ctx context.Context) error {
	leases := a.client.CoordinationV1().Leases(NodeLeaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	secs := int32(40)
	l, err := leases.Get(ctx, a.Node.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		holder := a.Node.Name
		_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: a.Node.Name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &now}}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// PoweredOn reports whether the node runs (it was powered on and not off since).
func (a *NodeAgent) PoweredOn() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cancel != nil
}
