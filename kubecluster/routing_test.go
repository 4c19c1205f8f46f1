package kubecluster_test

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
	"github.com/dailydoco/ddp-verify/platform/gateway"
)

// readyEndpointIPs lists the ready addresses of the Service web's EndpointSlices.
func readyEndpointIPs(t *testing.T, client *kubernetes.Clientset) map[string]bool {
	t.Helper()
	slices, err := client.DiscoveryV1().EndpointSlices("default").List(t.Context(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				for _, a := range e.Addresses {
					out[a] = true
				}
			}
		}
	}
	return out
}

// gatewayHits sends n requests through the gateway and counts them by the pod that answered;
// any answer but 200 fails the test.
func gatewayHits(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	hits := map[string]int{}
	for range n {
		resp, err := http.Get(url + "/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/me through the gateway: %s: %s", resp.Status, b)
		}
		hits[strings.TrimSpace(string(b))]++
	}
	return hits
}

// In its own network namespace the cluster gives pods addresses from the pod network, which
// the API server accepts in EndpointSlices (it refuses loopback ones), so the real
// EndpointSlice controller publishes each Service's ready pods; and the gateway, routing from
// those slices as an ingress controller does, sends requests only to them: a pod that fails its
// readiness probe, and a deleted one, leave the rotation when the slices say so, its
// replacement joins it, and no request fails on the way.
func TestTheGatewayRoutesByEndpointSlices(t *testing.T) {
	if !kubeclustertest.InPodNetwork(t) {
		return
	}
	client, pods := webAppInPodNetwork(t, 3)

	g, err := gateway.New(gateway.Config{Retries: 2, UpstreamTimeout: 5 * time.Second, HealthInterval: time.Hour}, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	routing := gateway.KubernetesRouting{Namespace: "default", Services: map[string]string{"api": "web"}}
	if err := gateway.FollowEndpointSlices(t.Context(), client, routing, g); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	if hits := gatewayHits(t, srv.URL, 30); len(hits) != 3 {
		t.Fatalf("30 requests reached %v, want the 3 pods %v", hits, names(pods))
	}

	var a, b corev1.Pod
	for _, p := range pods {
		if a.Name == "" {
			a = p
		} else if b.Name == "" {
			b = p
		}
	}
	podPost(t, a.Status.PodIP, "/unready")
	eventually(t, 30*time.Second, "pod "+a.Name+" (not ready) out of the rotation", func() bool {
		return gatewayHits(t, srv.URL, 20)[a.Name] == 0
	})

	if err := client.CoreV1().Pods("default").Delete(t.Context(), b.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "pod "+b.Name+" (deleted) out of the rotation and its replacement in", func() bool {
		hits := gatewayHits(t, srv.URL, 20)
		return hits[a.Name] == 0 && hits[b.Name] == 0 && len(hits) == 2
	})
}

func names(pods map[string]corev1.Pod) []string { return slices.Sorted(maps.Keys(pods)) }

// webAppInPodNetwork starts a cluster with the pod network and the web app of n pods on it,
// and waits until the pods are Ready, with addresses in the pod network that the Service's
// EndpointSlices carry ready.
func webAppInPodNetwork(t *testing.T, n int) (*kubernetes.Clientset, map[string]corev1.Pod) {
	t.Helper()
	c := kubeclustertest.StartWith(t, kubecluster.ClusterOptions{PodNetwork: kubecluster.PodNetwork})
	client, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	webApp(t, client, int32(n), map[string]string{kubecluster.PoolLabel: "general"}, nil)
	eventually(t, 2*time.Minute, "the pods Running and Ready", func() bool { return len(readyPods(t, client)) == n })
	pods := readyPods(t, client)
	for _, p := range pods {
		if ip, err := netip.ParseAddr(p.Status.PodIP); err != nil || !kubecluster.PodNetwork.Contains(ip) {
			t.Fatalf("pod %s's IP %q is not in the pod network %s", p.Name, p.Status.PodIP, kubecluster.PodNetwork)
		}
	}
	eventually(t, 30*time.Second, "the pods' addresses ready in the Service's EndpointSlices", func() bool {
		ips := readyEndpointIPs(t, client)
		for _, p := range pods {
			if !ips[p.Status.PodIP] {
				return false
			}
		}
		return len(ips) == n
	})
	return client, pods
}

// In the cluster's own network namespace Services are routed at their cluster IPs, as
// kube-proxy routes them: each connection goes to one of the Service's ready endpoints, a pod
// that is not ready gets none, and a pod reaches a Service through the service links in its
// environment.
func TestServicesAreRoutedAtTheirClusterIPs(t *testing.T) {
	if !kubeclustertest.InPodNetwork(t) {
		return
	}
	client, pods := webAppInPodNetwork(t, 2)
	ctx := t.Context()
	svc, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + svc.Spec.ClusterIP + ":8080"
	byPod := func(n int) map[string]int {
		hits := map[string]int{}
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		for range n {
			resp, err := c.Get(url + "/")
			if err != nil {
				t.Fatalf("GET %s/: %v", url, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			hits[strings.TrimSpace(string(b))]++
		}
		return hits
	}
	if hits := byPod(20); len(hits) != 2 {
		t.Fatalf("20 connections to the cluster IP reached %v, want both pods %v", hits, names(pods))
	}

	p := pod("client", nil, 0)
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "WEB_URL", Value: "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)/"}}
	if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got string
	eventually(t, time.Minute, "pod client reaching Service web by its service links", func() bool {
		cp, err := client.CoreV1().Pods("default").Get(ctx, "client", metav1.GetOptions{})
		if err != nil || cp.Status.PodIP == "" {
			return false
		}
		got, err = podGet(t, cp.Status.PodIP, "/fetch/WEB_URL")
		return err == nil
	})
	if _, ok := pods[got]; !ok {
		t.Fatalf("pod client's GET of $WEB_URL answered %q, want one of the Service's pods %v", got, names(pods))
	}

	var a string
	for name := range pods {
		a = name
		break
	}
	podPost(t, pods[a].Status.PodIP, "/unready")
	eventually(t, 30*time.Second, "pod "+a+" (not ready) no longer behind the cluster IP", func() bool { return byPod(10)[a] == 0 })
}
