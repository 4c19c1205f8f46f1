package kubecluster_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/prom"
)

// Prometheus's own kubernetes_sd, in the embedded Prometheus, discovers the cluster's pods
// through the API server: it scrapes the pods annotated prometheus.io/scrape at their pod IP and
// annotated port, labels their series with namespace, pod, node and app, leaves an unannotated
// pod alone, and follows a deleted pod's replacement.
func TestPrometheusDiscoversThePods(t *testing.T) {
	c, client := startCluster(t, 0, 0)
	ctx := t.Context()
	annotated := func(name string, scrape bool) *corev1.Pod {
		p := pod(name, nil, 0)
		p.Labels = map[string]string{"app.kubernetes.io/name": "web"}
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: podPort}}
		if scrape {
			p.Annotations = map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": fmt.Sprint(podPort)}
		}
		return p
	}
	for _, p := range []*corev1.Pod{annotated("web-1", true), annotated("web-2", true), annotated("quiet", false)} {
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	api := discoveringPrometheus(t, prom.Job{Name: "pods", Kubernetes: &prom.KubernetesSD{Kubeconfig: c.Kubeconfig, Namespaces: []string{"default"}}})

	// scraped returns the pods whose series the last scrapes stored, with their labels.
	scraped := func() map[string]model.Metric {
		v, _, _, err := api.Query(context.Background(), `test_pod_info{job="pods"}`, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]model.Metric{}
		for _, s := range v.(model.Vector) {
			if time.Since(s.Timestamp.Time()) < 3*time.Second {
				out[string(s.Metric["pod"])] = s.Metric
			}
		}
		return out
	}
	eventually(t, time.Minute, "both annotated pods scraped", func() bool { return len(scraped()) == 2 })
	got := scraped()
	for _, name := range []string{"web-1", "web-2"} {
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m, ok := got[name]
		if !ok {
			t.Fatalf("pod %s not scraped: %v", name, got)
		}
		want := model.Metric{"namespace": "default", "pod": model.LabelValue(name), "node": model.LabelValue(p.Spec.NodeName), "app": "web",
			"instance": model.LabelValue(fmt.Sprintf("%s:%d", p.Status.PodIP, podPort))}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("pod %s: label %s = %q, want %q (series %v)", name, k, m[k], v, m)
			}
		}
	}
	if _, ok := got["quiet"]; ok {
		t.Errorf("the unannotated pod was scraped")
	}

	if err := client.CoreV1().Pods("default").Delete(ctx, "web-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, annotated("web-3", true), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the deleted pod dropped, its replacement scraped", func() bool {
		got := scraped()
		_, old := got["web-2"]
		_, repl := got["web-3"]
		return !old && repl && len(got) == 2
	})
}

// Each node agent serves its machine under node_exporter's names, and Prometheus's node
// discovery finds them through the API server: one target per node at its InternalIP and
// annotated port, labelled with the node's name, zone and pool, its memory the instance
// type's; the CPU its pods use is its machine's (a node without pods is idle), and stays
// counted when the pod is gone (the counter never resets); a node powered off is a target
// down.
func TestPrometheusDiscoversTheNodes(t *testing.T) {
	c, client := startCluster(t, 0, 0)
	ctx := t.Context()
	busy := c.Nodes[0].Node
	p := pod("busy", map[string]string{corev1.LabelHostname: busy.Name}, 0)
	if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "pod busy Ready", func() bool {
		p, err := client.CoreV1().Pods("default").Get(ctx, "busy", metav1.GetOptions{})
		return err == nil && kubecluster.PodReady(p)
	})
	p, err := client.CoreV1().Pods("default").Get(ctx, "busy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(fmt.Sprintf("http://%s:%d/burn?share=0.3", p.Status.PodIP, podPort), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	api := discoveringPrometheus(t, prom.Job{Name: "nodes", Kubernetes: &prom.KubernetesSD{Kubeconfig: c.Kubeconfig, Role: "node"}})
	query := func(q string) model.Vector {
		v, _, _, err := api.Query(context.Background(), q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return v.(model.Vector)
	}
	eventually(t, time.Minute, "every node's memory scraped", func() bool {
		return len(query(`node_memory_MemTotal_bytes{job="nodes"}`)) == len(c.Nodes)
	})
	for _, s := range query(`node_memory_MemTotal_bytes{job="nodes"}`) {
		a := c.Node(string(s.Metric["node"]))
		if a == nil {
			t.Fatalf("series of no node: %v", s.Metric)
		}
		n := a.Node
		if s.Metric["zone"] != model.LabelValue(n.Zone) || s.Metric["pool"] != model.LabelValue(n.Pool) {
			t.Errorf("node %s (zone %s, pool %s) scraped as %v", n.Name, n.Zone, n.Pool, s.Metric)
		}
		if want := float64(topology.InstanceTypes[n.InstanceType].MemoryGiB) * (1 << 30); float64(s.Value) != want {
			t.Errorf("node %s: MemTotal %v, want its %s's %v", n.Name, s.Value, n.InstanceType, want)
		}
	}
	targets, err := api.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets.Active {
		a := c.Node(string(tg.Labels["node"]))
		if a == nil || !strings.HasPrefix(tg.ScrapeURL, "http://"+kubecluster.NodeIP(a.Node)+":") {
			t.Errorf("target %s of node %q: not at the node's InternalIP", tg.ScrapeURL, tg.Labels["node"])
		}
	}
	cpu := func(node string) float64 {
		v := query(fmt.Sprintf(`sum(rate(node_cpu_seconds_total{job="nodes",node=%q,mode!="idle"}[5s]))`, node))
		if len(v) == 0 {
			return -1
		}
		return float64(v[0].Value)
	}
	eventually(t, time.Minute, "the busy node's CPU in use", func() bool { return cpu(busy.Name) > 0.05 })
	if idle := c.Nodes[len(c.Nodes)-1].Node.Name; cpu(idle) != 0 {
		t.Errorf("node %s runs no pod and uses %v cores", idle, cpu(idle))
	}

	if err := client.CoreV1().Pods("default").Delete(ctx, "busy", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "pod busy gone, its node scraped since", func() bool {
		_, err := client.CoreV1().Pods("default").Get(ctx, "busy", metav1.GetOptions{})
		return err != nil && cpu(busy.Name) == 0
	})
	if v := query(fmt.Sprintf(`resets(node_cpu_seconds_total{job="nodes",node=%q,mode="user",cpu="0"}[1m])`, busy.Name)); len(v) != 1 || v[0].Value != 0 {
		t.Errorf("node %s's user CPU counter went back when its pod ended: resets %v", busy.Name, v)
	}

	off := c.Nodes[1]
	off.PowerOff()
	eventually(t, time.Minute, "the powered-off node's target down", func() bool {
		v := query(fmt.Sprintf(`up{job="nodes",node=%q}`, off.Node.Name))
		return len(v) == 1 && v[0].Value == 0
	})
}

// discoveringPrometheus runs the embedded Prometheus with job, scraping every 500 ms, until
// the test ends, and returns its API.
func discoveringPrometheus(t *testing.T, job prom.Job) promv1.API {
	t.Helper()
	srv, err := prom.New(t.Context(), prom.Options{Dir: t.TempDir(), ScrapeInterval: 500 * time.Millisecond, Jobs: []prom.Job{job}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	pc, err := promapi.NewClient(promapi.Config{Address: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return promv1.NewAPI(pc)
}
