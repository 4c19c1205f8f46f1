package kubeplatform

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/platform/cost"
)

// Nodes follows the cluster's Node objects. As a prometheus.Collector it exports each node's
// Ready condition under kube-state-metrics' name, kube_node_status_condition{condition="Ready",
// status="true"|"false"|"unknown"}, with the labels node, zone and pool (kube-state-metrics
// puts those in kube_node_labels; the plan's alert rules sum by zone, so they are here, as the
// local supervisor exports them); [Nodes.Cost] lists them for the cost exporter.
type Nodes struct {
	lister    corelisters.NodeLister
	condition *prometheus.Desc
}

var _ prometheus.Collector = (*Nodes)(nil)

// FollowNodes watches the cluster's Nodes until ctx is done; it returns once the first list
// is in.
func FollowNodes(ctx context.Context, client kubernetes.Interface) (*Nodes, error) {
	factory := informers.NewSharedInformerFactory(client, 0)
	informer := factory.Core().V1().Nodes()
	n := &Nodes{
		lister: informer.Lister(),
		condition: prometheus.NewDesc("kube_node_status_condition", "The node's Ready condition, 1 for its status (kube-state-metrics' name).",
			[]string{"node", "zone", "pool", "condition", "status"}, nil),
	}
	synced := informer.Informer().HasSynced
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced) {
		return nil, fmt.Errorf("list the cluster's nodes: %w", context.Cause(ctx))
	}
	return n, nil
}

// list is the nodes by name.
func (n *Nodes) list() []*corev1.Node {
	nodes, _ := n.lister.List(labels.Everything()) // a lister's List never fails
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	return nodes
}

// Describe implements prometheus.Collector.
func (n *Nodes) Describe(ch chan<- *prometheus.Desc) { ch <- n.condition }

// Collect implements prometheus.Collector.
func (n *Nodes) Collect(ch chan<- prometheus.Metric) {
	for _, node := range n.list() {
		status := readyStatus(node)
		for _, s := range []corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown} {
			v := 0.0
			if s == status {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(n.condition, prometheus.GaugeValue, v,
				node.Name, node.Labels[kubecluster.ZoneLabel], node.Labels[kubecluster.PoolLabel], string(corev1.NodeReady), strings.ToLower(string(s)))
		}
	}
}

// readyStatus is the node's Ready condition's status (kube-state-metrics' status label is it
// in lower case); a node that has none yet is Unknown,
// as kube-state-metrics reports it.
func readyStatus(node *corev1.Node) corev1.ConditionStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

// Cost lists every Node object for the cost exporter, whatever its state, as OpenCost prices
// the nodes it finds: a node costs from its registration until it is deleted (a stopped
// instance's node too, which overstates a fault's cost rather than hiding any).
func (n *Nodes) Cost() []cost.Node {
	nodes := n.list()
	out := make([]cost.Node, 0, len(nodes))
	for _, node := range nodes {
		out = append(out, cost.Node{Name: node.Name, InstanceType: node.Labels[kubecluster.InstanceTypeLabel],
			Zone: node.Labels[kubecluster.ZoneLabel], Pool: node.Labels[kubecluster.PoolLabel]})
	}
	return out
}
