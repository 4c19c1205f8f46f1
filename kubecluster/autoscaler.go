package kubecluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

// autoscale is the local cluster's cloud for its node pools, as cluster-autoscaler is on EKS:
// every second it looks for pods the scheduler marked Unschedulable and, for each, adds a node
// of the first pool whose new node would take it (its node selector, its tolerations of the
// pool's taint, its requests within the instance type), within the pool's max, after the
// pool's provisioning delay. Nodes are not removed when idle.
func (c *Cluster) autoscale(ctx context.Context, topo *topology.Topology) {
	defer close(c.scalerDone)
	client, err := c.Client()
	if err != nil {
		c.log.Error("autoscaler", "err", err)
		return
	}
	asked := map[string]bool{} // pods a node was added for
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", "").String()})
		if err != nil {
			return
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if asked[string(p.UID)] || !unschedulable(p) {
				continue
			}
			if n, ok := c.nodeFor(p, topo); ok {
				asked[string(p.UID)] = true
				delay := topo.Pool(n.Pool).Provisioning()
				c.log.Info("autoscaler adds a node", "node", n.Name, "pool", n.Pool, "for", p.Namespace+"/"+p.Name, "in", delay)
				c.provisions.Go(func() { c.provision(ctx, n, delay) })
			}
		}
	}, time.Second)
}

// unschedulable reports whether the scheduler found no node for p.
func unschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}

// nodeFor picks the node to add for p: of the first pool below its max whose new node p
// fits, in the zone p selects or the pool's least used zone. The node is counted at once, so
// the pool's max holds while it is provisioned.
func (c *Cluster) nodeFor(p *corev1.Pod, topo *topology.Topology) (topology.Node, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
			if want, ok := p.Spec.NodeSelector[ZoneLabel]; ok && want != z {
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

// fits reports whether pod p could run on an empty node: its node selector matches the
// node's labels, it tolerates the node's NoSchedule taints, and its requests are within the
// node's allocatable resources.
func fits(p *corev1.Pod, node *corev1.Node) bool {
	for k, v := range p.Spec.NodeSelector {
		if node.Labels[k] != v {
			return false
		}
	}
	for _, taint := range node.Spec.Taints {
		tolerated := false
		for _, tol := range p.Spec.Tolerations {
			tolerated = tolerated || tol.ToleratesTaint(klog.Background(), &taint, false)
		}
		if !tolerated {
			return false
		}
	}
	want := corev1.ResourceList{}
	for _, ct := range p.Spec.Containers {
		for name, q := range ct.Resources.Requests {
			add(want, name, q)
		}
		for name, q := range ct.Resources.Limits {
			if _, ok := ct.Resources.Requests[name]; !ok {
				add(want, name, q) // a limit without a request requests as much
			}
		}
	}
	for name, q := range want {
		have, ok := node.Status.Allocatable[name]
		if !ok || q.Cmp(have) > 0 {
			return false
		}
	}
	return true
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
	a.launch = c.launch
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
