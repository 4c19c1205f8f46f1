package deploy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	helmrelease "helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dailydoco/ddp-verify/deploy"
	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
)

// The chart installed with the Helm SDK (`helm install`'s code) on the local cluster: the real
// scheduler binds every workload's pods to nodes of its pool (the plan's general, GPU and
// memory pools over three zones), one GPU worker per GPU node, and spreads each workload's
// replicas over the zones its pool has. The local cluster has no Prometheus operator and no
// storage provisioner, so the operator's objects are off and the data tier keeps its data in
// an emptyDir. The pods' images are the platform's, which have no program here: this shows
// placement by the plan's manifests, not the platform running from them.
func TestHelmInstallOnTheLocalCluster(t *testing.T) {
	cluster := kubeclustertest.Start(t, 0, 0)
	rel, err := deploy.Install(t.Context(), cluster.Kubeconfig, release, namespace, deploy.LocalClusterValues())
	require.NoError(t, err)
	assert.Equal(t, helmrelease.StatusDeployed, rel.Info.Status)

	client, err := cluster.Client()
	require.NoError(t, err)
	nodes, err := client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	nodeLabels := map[string]map[string]string{}
	for _, n := range nodes.Items {
		nodeLabels[n.Name] = n.Labels
	}
	var pods []corev1.Pod
	require.Eventually(t, func() bool {
		l, err := client.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + release})
		require.NoError(t, err)
		pods = l.Items
		for _, p := range pods {
			if p.Spec.NodeName == "" {
				return false
			}
		}
		return len(pods) == 3+3+2+2+1
	}, 2*time.Minute, 200*time.Millisecond, "every pod of the release bound to a node")

	pool := map[string]string{"web-dashboard": "general", "api-server": "general", "video-processor": "gpu", "authenticity-engine": "memory", "data-tier": "general"}
	zones := map[string]map[string]bool{}
	gpuNodes := map[string]int{}
	for _, p := range pods {
		w := p.Labels["app.kubernetes.io/name"]
		labels := nodeLabels[p.Spec.NodeName]
		assert.Equal(t, pool[w], labels[kubecluster.PoolLabel], "pod %s on node %s", p.Name, p.Spec.NodeName)
		if zones[w] == nil {
			zones[w] = map[string]bool{}
		}
		zones[w][labels[kubecluster.ZoneLabel]] = true
		if w == "video-processor" {
			gpuNodes[p.Spec.NodeName]++
		}
	}
	for w, n := range map[string]int{"web-dashboard": 3, "api-server": 3, "video-processor": 2, "authenticity-engine": 2} {
		assert.Len(t, zones[w], n, "%s's replicas over the zones: %v", w, zones[w])
	}
	for node, n := range gpuNodes {
		assert.Equal(t, 1, n, "GPU workers on %s (one GPU each)", node)
	}
	t.Logf("helm install %s: %d pods placed, %v", release, len(pods), zones)
}
