package kubecluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	srv, err := prom.New(ctx, prom.Options{Dir: t.TempDir(), ScrapeInterval: 500 * time.Millisecond,
		Jobs: []prom.Job{{Name: "pods", Kubernetes: &prom.KubernetesSD{Kubeconfig: c.Kubeconfig, Namespaces: []string{"default"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	pc, err := promapi.NewClient(promapi.Config{Address: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(pc)

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
