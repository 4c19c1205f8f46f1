package kubecluster

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

// autoscale is the local cluster's cloud for its node pools, as cluster-autoscaler is on EKS:
// every second it looks for pods the scheduler marked Unschedulable and, for each, adds a node
// of the first pool whose new node would take it (its node selector, its tolerations of the
// pool's taint, its requests within the instance type), within the pool's max, after the
// pool's provisioning delay (see [needNodes] for the pods it waits on). A node it added that
// has run no pod (DaemonSet pods and finished pods aside) for scaleDownAfter is removed, as
// cluster-autoscaler's scale-down does: tainted so nothing new lands there, its Node deleted,
// its machine powered off. The topology's own nodes are each pool's minimum and stay.
func (c *Cluster) autoscale(ctx context.Context, topo *topology.Topology, scaleDownAfter time.Duration) {
	defer close(c.scalerDone)
	client, err := c.Client()
	if err != nil {
		c.log.Error("autoscaler", "err", err)
		return
	}
	asked := map[string]bool{}          // pods a node was added for
	fitSince := map[string]time.Time{}  // unschedulable pods an existing node has room for, since when
	idleSince := map[string]time.Time{} // added nodes with no pod, since when
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		c.scaleDown(ctx, client, topo, pods.Items, idleSince, scaleDownAfter)
		for _, p := range needNodes(pods.Items, nodes.Items, asked, fitSince, time.Now()) {
			c.scaleUpFor(ctx, p, topo, asked)
		}
	}, time.Second)
}

// RecheckUnschedulable is how long the autoscaler waits before adding a node for an
// Unschedulable pod that an existing Ready node has room for: the scheduler may have judged
// the pod against nodes not yet Ready or not yet in its cache, and places it on its next try
// (cluster-autoscaler filters such pods out by simulating the scheduler). Its own check sees
// labels, taints and resources only, not spread constraints or affinity, so a pod still
// Unschedulable after this long gets its node.
const RecheckUnschedulable = 5 * time.Second

// needNodes are the pods a node is to be added for at now: bound to no node, marked
// Unschedulable by the scheduler, not yet asked for, and with no room on an existing node (or
// room that the scheduler has not taken for [RecheckUnschedulable]). fitSince keeps when each
// pod was first seen fitting.
func needNodes(pods []corev1.Pod, nodes []corev1.Node, asked map[string]bool, fitSince map[string]time.Time, now time.Time) []*corev1.Pod {
	free := freeCapacity(nodes, pods)
	var need []*corev1.Pod
	pending := map[string]bool{}
	for i := range pods {
		p := &pods[i]
		uid := string(p.UID)
		if p.Spec.NodeName != "" || asked[uid] || !PodUnschedulable(p) {
			continue
		}
		pending[uid] = true
		if takeRoom(p, nodes, free) {
			if fitSince[uid].IsZero() {
				fitSince[uid] = now
			}
			if now.Sub(fitSince[uid]) < RecheckUnschedulable {
				continue
			}
		}
		need = append(need, p)
	}
	for uid := range fitSince {
		if !pending[uid] {
			delete(fitSince, uid)
		}
	}
	return need
}

// scaleUpFor adds a node for pod p if a pool's new node would take it.
func (c *Cluster) scaleUpFor(ctx context.Context, p *corev1.Pod, topo *topology.Topology, asked map[string]bool) {
	n, ok := c.nodeFor(p, topo)
	if !ok {
		return
	}
	asked[string(p.UID)] = true
	delay := topo.Pool(n.Pool).Provisioning()
	c.log.Info("autoscaler adds a node", "node", n.Name, "pool", n.Pool, "for", p.Namespace+"/"+p.Name, "in", delay)
	c.provisions.Go(func() { c.provision(ctx, n, delay) })
}

// freeCapacity is each node's allocatable resources less the requests of the pods bound to
// it that have not finished.
func freeCapacity(nodes []corev1.Node, pods []corev1.Pod) map[string]corev1.ResourceList {
	free := map[string]corev1.ResourceList{}
	for _, n := range nodes {
		free[n.Name] = n.Status.Allocatable.DeepCopy()
	}
	for i := range pods {
		p := &pods[i]
		left, ok := free[p.Spec.NodeName]
		if !ok || finished(p) {
			continue
		}
		subtract(left, podRequests(p))
	}
	return free
}

// takeRoom reports whether p could be placed now on a Ready node that is not being removed
// (by the node's labels, its NoSchedule taints and its free capacity) and takes that room
// from free, so that two pods are not both counted on one node's room.
func takeRoom(p *corev1.Pod, nodes []corev1.Node, free map[string]corev1.ResourceList) bool {
	for i := range nodes {
		n := &nodes[i]
		if n.DeletionTimestamp == nil && nodeReady(n) && fitsIn(p, n, free[n.Name]) {
			subtract(free[n.Name], podRequests(p))
			return true
		}
	}
	return false
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// scaleDown removes the nodes the autoscaler added that have been idle for after.
func (c *Cluster) scaleDown(ctx context.Context, client kubernetes.Interface, topo *topology.Topology, pods []corev1.Pod, idleSince map[string]time.Time, after time.Duration) {
	busy := map[string]bool{}
	for i := range pods {
		p := &pods[i]
		if p.Spec.NodeName != "" && !ownedByDaemonSet(p) && !finished(p) {
			busy[p.Spec.NodeName] = true
		}
	}
	original := map[string]bool{}
	for _, n := range topo.Nodes() {
		original[n.Name] = true
	}
	c.mu.Lock()
	var idle []*NodeAgent
	for _, a := range c.Nodes {
		name := a.Node.Name
		switch {
		case original[name] || busy[name]:
			delete(idleSince, name)
		case idleSince[name].IsZero():
			idleSince[name] = time.Now()
		case time.Since(idleSince[name]) >= after:
			idle = append(idle, a)
		}
	}
	c.mu.Unlock()
	for _, a := range idle {
		if err := c.removeNode(ctx, client, a); err != nil {
			c.log.Warn("autoscaler", "err", err)
			continue
		}
		delete(idleSince, a.Node.Name)
		c.log.Info("autoscaler removed an idle node", "node", a.Node.Name, "pool", a.Node.Pool, "idle for", after)
	}
}

// ToBeDeletedTaint is the taint the autoscaler puts on a node it is removing (cluster-autoscaler's).
const ToBeDeletedTaint = "ToBeDeletedByClusterAutoscaler"

// removeNode taints the node, deletes its Node object, powers it off and forgets it.
func (c *Cluster) removeNode(ctx context.Context, client kubernetes.Interface, a *NodeAgent) error {
	name := a.Node.Name
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: ToBeDeletedTaint, Value: strconv.FormatInt(time.Now().Unix(), 10), Effect: corev1.TaintEffectNoSchedule})
		_, err = client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("taint node %s: %w", name, err)
	}
	a.PowerOff()
	if err := client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete node %s: %w", name, err)
	}
	// A kubelet's Lease is owned by its Node and collected with it; the agent's has no owner.
	if err := client.CoordinationV1().Leases(NodeLeaseNamespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete node %s's lease: %w", name, err)
	}
	c.mu.Lock()
	c.Nodes = slices.DeleteFunc(c.Nodes, func(n *NodeAgent) bool { return n == a })
	c.mu.Unlock()
	return nil
}

func ownedByDaemonSet(p *corev1.Pod) bool {
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return true
		}
	}
	return false
}

// PodUnschedulable reports whether the scheduler found no node for p.
func PodUnschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}

// nodeFor picks the node to add for p: of the first pool below its max whose new node p
// fits, in the zone p selects or the pool's least used zone with power. The node is counted at
// once, so the pool's max holds while it is provisioned.
func (c *Cluster) nodeFor(p *corev1.Pod, topo *topology.Topology) (topology.Node, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	dark := c.zonesWithoutPower()
	for i := range topo.Pools {
		pool := &topo.Pools[i]
		max := pool.Max
		if max == 0 {
			max = pool.Nodes
		}
		perZone, total := map[string]int{}, 0
		for _, n := range c.Nodes {
			if n.Node.Pool == pool.Name {
				perZone[n.Node.Zone]++
				total++
			}
		}
		if total+c.provisioning[pool.Name] >= max {
			continue
		}
		zone := ""
		for _, z := range topo.PoolZones(pool) {
			if want, ok := p.Spec.NodeSelector[ZoneLabel]; (ok && want != z) || dark[z] {
				continue
			}
			if zone == "" || perZone[z] < perZone[zone] {
				zone = z
			}
		}
		if zone == "" {
			continue
		}
		n := topology.Node{Name: topology.NodeName(pool.Name, zone, perZone[zone]+c.provisioning[pool.Name+"/"+zone]+1), Pool: pool.Name, Zone: zone,
			InstanceType: pool.InstanceType, Index: len(c.Nodes) + c.provisioning[""]}
		if !fits(p, (&NodeAgent{Node: n}).nodeObject()) {
			continue
		}
		c.provisioning[pool.Name]++
		c.provisioning[pool.Name+"/"+zone]++
		c.provisioning[""]++
		return n, true
	}
	return topology.Node{}, false
}

// zonesWithoutPower are the zones whose every node is powered off: a zone's power loss, where
// no instance can be launched until it ends (AWS FIS's AZ power interruption makes launches
// there fail with insufficient capacity, and cluster-autoscaler turns to another zone). A zone
// with one node down is not one of them. c.mu is held.
func (c *Cluster) zonesWithoutPower() map[string]bool {
	on := map[string]bool{}
	for _, n := range c.Nodes {
		on[n.Node.Zone] = on[n.Node.Zone] || n.PoweredOn()
	}
	dark := map[string]bool{}
	for z, powered := range on {
		if !powered {
			dark[z] = true
		}
	}
	return dark
}

// fits reports whether pod p could run on an empty node: see [fitsIn].
func fits(p *corev1.Pod, node *corev1.Node) bool { return fitsIn(p, node, node.Status.Allocatable) }

// fitsIn reports whether pod p could run on node with room resources left: its node selector
// matches the node's labels, it tolerates the node's NoSchedule taints, and its requests are
// within room.
func fitsIn(p *corev1.Pod, node *corev1.Node, room corev1.ResourceList) bool {
	for k, v := range p.Spec.NodeSelector {
		if node.Labels[k] != v {
			return false
		}
	}
	for _, taint := range node.Spec.Taints {
		if taint.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		tolerated := false
		for _, tol := range p.Spec.Tolerations {
			tolerated = tolerated || tol.ToleratesTaint(klog.Background(), &taint, false)
		}
		if !tolerated {
			return false
		}
	}
	for name, q := range podRequests(p) {
		have, ok := room[name]
		if !ok || q.Cmp(have) > 0 {
			return false
		}
	}
	return true
}

// podRequests sums the requests of p's containers; a limit without a request requests as much.
func podRequests(p *corev1.Pod) corev1.ResourceList {
	want := corev1.ResourceList{}
	for _, ct := range p.Spec.Containers {
		for name, q := range ct.Resources.Requests {
			add(want, name, q)
		}
		for name, q := range ct.Resources.Limits {
			if _, ok := ct.Resources.Requests[name]; !ok {
				add(want, name, q)
			}
		}
	}
	return want
}

func subtract(l corev1.ResourceList, r corev1.ResourceList) {
	for name, q := range r {
		have := l[name]
		have.Sub(q)
		l[name] = have
	}
}

func add(l corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
	sum := l[name]
	sum.Add(q)
	l[name] = sum
}

// provision powers on a new node after delay, as a cloud instance joins the cluster.
func (c *Cluster) provision(ctx context.Context, n topology.Node, delay time.Duration) {
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return
	}
	client, err := c.Client()
	if err != nil {
		return
	}
	a := NewNodeAgent(client, n, c.heartbeat, c.log)
	a.launch, a.podNetwork, a.podsDir, a.pki = c.launch, c.podNetwork, filepath.Join(c.PodsDir(), n.Name), c.pki
	if err := a.PowerOn(ctx); err != nil {
		c.log.Error("autoscaler", "err", fmt.Errorf("add node %s: %w", n.Name, err))
		return
	}
	c.mu.Lock()
	c.Nodes = append(c.Nodes, a)
	c.provisioning[n.Pool]--
	c.provisioning[n.Pool+"/"+n.Zone]--
	c.provisioning[""]--
	c.mu.Unlock()
}
