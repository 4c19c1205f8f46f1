package kubeplatform_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
	"github.com/dailydoco/ddp-verify/kubeplatform"
	"github.com/dailydoco/ddp-verify/platform/cost"
)

// The node series come from the real cluster's Node objects: every node of the topology with
// its zone, pool and instance type, Ready while its agent reports, and NotReady (status
// "unknown", as the node lifecycle controller writes it) once a powered-off node's grace
// period has passed: the series the plan's NodeNotReady and ZoneDown rules read.
func TestNodesFollowTheClustersNodeObjects(t *testing.T) {
	c := kubeclustertest.Start(t, 2*time.Second, 500*time.Millisecond)
	client, err := c.Client()
	require.NoError(t, err)
	nodes, err := kubeplatform.FollowNodes(t.Context(), client)
	require.NoError(t, err)

	listed := nodes.Cost()
	require.Len(t, listed, len(c.Nodes))
	byName := map[string]cost.Node{}
	for _, n := range listed {
		byName[n.Name] = n
	}
	assert.Equal(t, cost.Node{Name: "gpu-1a-1", InstanceType: "g4dn.xlarge", Zone: "us-east-1a", Pool: "gpu"}, byName["gpu-1a-1"])
	require.NoError(t, cost.Prices.Check(instanceTypes(listed)...), "every node's type has a price")

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(nodes))
	ready := func(node string) string {
		return `kube_node_status_condition{condition="Ready",node="` + node + `",pool="gpu",status="true",zone="us-east-1a"} 1`
	}
	require.Eventually(t, func() bool { return strings.Contains(gather(t, reg), ready("gpu-1a-1")) }, 30*time.Second, 100*time.Millisecond,
		"the GPU node Ready")
	assert.Equal(t, 3*len(c.Nodes), testutil.CollectAndCount(nodes), "true, false and unknown for every node")

	c.Node("gpu-1a-1").PowerOff()
	notReady := `kube_node_status_condition{condition="Ready",node="gpu-1a-1",pool="gpu",status="unknown",zone="us-east-1a"} 1`
	require.Eventually(t, func() bool { return strings.Contains(gather(t, reg), notReady) }, time.Minute, 200*time.Millisecond,
		"the powered-off node NotReady (Unknown): %s", gather(t, reg))
	assert.NotContains(t, gather(t, reg), ready("gpu-1a-1"))
	assert.Len(t, nodes.Cost(), len(c.Nodes), "a powered-off node still costs")
}

func gather(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	var b strings.Builder
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			fmt.Fprintf(&b, "%s{%s} %g\n", mf.GetName(), strings.Join(labels, ","), m.GetGauge().GetValue())
		}
	}
	return b.String()
}

func instanceTypes(nodes []cost.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.InstanceType)
	}
	return out
}
