package kubecluster

import (
	"context"
	"fmt"
	"time"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

// Cluster is a control plane with one node agent per topology node.
type Cluster struct {
	*ControlPlane
	Nodes []*NodeAgent
}

// ClusterOptions configure [StartCluster]: the control plane's, the topology whose nodes
// register (nil: the built-in default) and the nodes' heartbeat interval.
type ClusterOptions struct {
	Options
	Topology  *topology.Topology
	Heartbeat time.Duration
}

// StartCluster starts the control plane and powers on a node agent per topology node.
func StartCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	topo := o.Topology
	if topo == nil {
		topo = topology.Default()
	}
	cp, err := Start(ctx, o.Options)
	if err != nil {
		return nil, err
	}
	c := &Cluster{ControlPlane: cp}
	client, err := cp.Client()
	if err != nil {
		c.Stop()
		return nil, err
	}
	for _, n := range topo.Nodes() {
		a := NewNodeAgent(client, n, o.Heartbeat, cp.log)
		a.launch = cp.launch
		if err := a.PowerOn(ctx); err != nil {
			c.Stop()
			return nil, fmt.Errorf("kubecluster: %w", err)
		}
		c.Nodes = append(c.Nodes, a)
	}
	return c, nil
}

// Node returns the agent of the named node, or nil.
func (c *Cluster) Node(name string) *NodeAgent {
	for _, n := range c.Nodes {
		if n.Node.Name == name {
			return n
		}
	}
	return nil
}

// Stop powers off every node and stops the control plane.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.PowerOff()
	}
	c.ControlPlane.Stop()
}
