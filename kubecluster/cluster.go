package kubecluster

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

// Cluster is a control plane with one node agent per topology node.
type Cluster struct {
	*ControlPlane
	// Nodes are the node agents, the autoscaler's too; read them through Node while the
	// autoscaler runs.
	Nodes []*NodeAgent

	mu           sync.Mutex
	heartbeat    time.Duration
	podNetwork   netip.Prefix
	provisioning map[string]int // nodes being added, by pool, pool/zone, and in all ("")
	stopScaler   context.CancelFunc
	stopProxy    context.CancelFunc // the service proxy's, with a pod network
	scalerDone   chan struct{}
	provisions   sync.WaitGroup // nodes the autoscaler is adding
}

// ClusterOptions configure [StartCluster]: the control plane's, the topology whose nodes
// register (nil: the built-in default) and the nodes' heartbeat interval.
type ClusterOptions struct {
	Options
	Topology  *topology.Topology
	Heartbeat time.Duration
	// Autoscale adds a node of a pool when a pod is Unschedulable for want of one (the
	// cluster's cloud, as cluster-autoscaler on EKS), within the pool's max, and removes a
	// node it added once the node has run no pod for ScaleDownAfter.
	Autoscale bool
	// ScaleDownAfter is how long an added node must be idle before the autoscaler removes it;
	// default [DefaultScaleDownAfter].
	ScaleDownAfter time.Duration
	// PodNetwork, when set, is the range the pods' addresses come from (normally
	// [PodNetwork]); it must be on this network namespace's interfaces ([SetUpPodNetwork]).
	// Unset, each pod gets a loopback address, which EndpointSlices cannot carry. With it, the
	// cluster also routes Services at their cluster IPs (a service proxy, as kube-proxy), which
	// must be local too ([ServiceNetwork]).
	PodNetwork netip.Prefix
}

// DefaultScaleDownAfter is cluster-autoscaler's default --scale-down-unneeded-time.
const DefaultScaleDownAfter = 10 * time.Minute

// StartCluster starts the control plane and powers on a node agent per topology node.
func StartCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	topo := o.Topology
	if topo == nil {
		topo = topology.Default()
	}
	if err := checkPodNetwork(o.PodNetwork); err != nil {
		return nil, fmt.Errorf("kubecluster: %w", err)
	}
	cp, err := Start(ctx, o.Options)
	if err != nil {
		return nil, err
	}
	c := &Cluster{ControlPlane: cp, heartbeat: o.Heartbeat, podNetwork: o.PodNetwork, provisioning: map[string]int{}}
	client, err := cp.Client()
	if err != nil {
		c.Stop()
		return nil, err
	}
	for _, n := range topo.Nodes() {
		a := NewNodeAgent(client, n, o.Heartbeat, cp.log)
		a.launch, a.podNetwork, a.podsDir, a.pki = cp.launch, o.PodNetwork, filepath.Join(c.PodsDir(), n.Name), cp.pki
		if err := a.PowerOn(ctx); err != nil {
			c.Stop()
			return nil, fmt.Errorf("kubecluster: %w", err)
		}
		c.Nodes = append(c.Nodes, a)
	}
	if o.PodNetwork.IsValid() {
		pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		c.stopProxy = stop
		startServiceProxy(pctx, client, cp.log)
	}
	if o.Autoscale {
		actx, stop := context.WithCancel(context.WithoutCancel(ctx))
		c.stopScaler, c.scalerDone = stop, make(chan struct{})
		after := o.ScaleDownAfter
		if after <= 0 {
			after = DefaultScaleDownAfter
		}
		go c.autoscale(actx, topo, after)
	}
	return c, nil
}

// Node returns the agent of the named node, or nil.
func (c *Cluster) Node(name string) *NodeAgent {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.Nodes {
		if n.Node.Name == name {
			return n
		}
	}
	return nil
}

// Stop powers off every node and stops the control plane.
func (c *Cluster) Stop() {
	if c.stopScaler != nil {
		c.stopScaler()
		<-c.scalerDone
		c.provisions.Wait()
	}
	if c.stopProxy != nil {
		c.stopProxy()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.Nodes {
		n.PowerOff()
	}
	c.ControlPlane.Stop()
}

// PodsDir is where the pods' working directories and container logs are, one directory per
// node.
func (c *Cluster) PodsDir() string { return filepath.Join(c.dir, "pods") }

// ContainerLog is the path of a container's output (both streams, over its restarts) while
// its pod runs on this cluster: in the pod's working directory, removed with the pod.
func (c *Cluster) ContainerLog(pod *corev1.Pod, container string) string {
	return filepath.Join(c.PodsDir(), pod.Spec.NodeName, pod.Namespace+"_"+pod.Name+"_"+string(pod.UID), container+".log")
}

// PodReady reports whether p's Ready condition is true and p is not being deleted: a pod that
// takes traffic.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil
		}
	}
	return false
}
