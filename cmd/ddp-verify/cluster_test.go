package main

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/dailydoco/ddp-verify/kubecluster/kubeclustertest"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// `cluster up --chaos-mesh --install-chart --metrics-server` runs, in a network namespace of
// its own (it re-executes itself there), a cluster whose Nodes are the topology's, Ready, with
// the real Chaos Mesh controller, the cloud's EC2 endpoint, metrics-server and the plan's chart
// installed, its pods running the platform, Ready, behind a gateway that answers; killed with
// SIGKILL, it leaves no process behind (etcd, the API server, the controller manager, the
// scheduler, Chaos Mesh, metrics-server, the pods and the process in the namespace die with
// it). The test reaches into the namespace
// as `nsenter --net` does (dialer.go).
func TestClusterUpAndKilled(t *testing.T) {
	assets := kubeclustertest.Assets(t)
	chaosMesh := kubeclustertest.ChaosMeshAssets(t)
	metricsServer := kubeclustertest.MetricsServerAssets(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "cluster", "up", "--dir", dir, "--assets", assets, "--chaos-mesh", chaosMesh, "--install-chart", "--metrics-server", metricsServer)
	cmd.Env = append(os.Environ(), envActAsCLI+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	kubeconfig, started := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var printed []string
		for sc.Scan() {
			printed = append(printed, sc.Text())
			if p, ok := strings.CutPrefix(sc.Text(), "kubeconfig: "); ok {
				kubeconfig <- p
			}
			if strings.HasPrefix(sc.Text(), "started in ") {
				started <- strings.Join(printed, "\n")
			}
		}
	}()
	var path, printed string
	for _, ch := range []chan string{kubeconfig, started} {
		select {
		case v := <-ch:
			if ch == kubeconfig {
				path = v
			} else {
				printed = v
			}
		case <-time.After(3 * time.Minute):
			t.Fatalf("cluster up did not start in 3 minutes:\n%s", stderr.String())
		}
	}
	for _, want := range []string{"chaos mesh: chaos-controller-manager pid ", "ec2 endpoint: http://127.0.0.1:", "--aws-secret aws-local --aws-endpoint http://127.0.0.1:",
		"network namespace: pods on 10.244.0.0/16, services on 10.0.0.0/24; enter it with: nsenter --net=/proc/",
		"metrics-server: the resource metrics API (metrics.k8s.io) at 10.244.0.3:10250",
		"chart: release dailydoco of dailydoco 0.1.0 deployed in namespace dailydoco-prod", "platform: 11 pods Ready in ", "gateway: http://127.0.0.1:"} {
		if !strings.Contains(printed, want) {
			t.Errorf("cluster up printed no %q:\n%s", want, printed)
		}
	}
	pid := regexp.MustCompile(`nsenter --net=/proc/(\d+)/ns/net`).FindStringSubmatch(printed)
	gatewayURL := regexp.MustCompile(`gateway: (http://\S+)`).FindStringSubmatch(printed)
	if pid == nil || gatewayURL == nil {
		t.Fatalf("no namespace pid or gateway URL in:\n%s", printed)
	}
	dial := dialerIn(t, "/proc/"+pid[1]+"/ns/net")
	web := &http.Client{Transport: &http.Transport{DialContext: dial}, Timeout: 10 * time.Second}
	for path, want := range map[string]int{"/": http.StatusOK, "/api/v1/me": http.StatusUnauthorized} {
		resp, err := web.Get(gatewayURL[1] + path)
		if err != nil {
			t.Fatalf("GET %s through the gateway: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s through the gateway: %s, want %d (the dashboard and API pods answer)", path, resp.Status, want)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dial = dial
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	deps, err := client.AppsV1().Deployments("dailydoco-prod").List(t.Context(), metav1.ListOptions{})
	if err != nil || len(deps.Items) != 4 {
		t.Errorf("the chart's Deployments in dailydoco-prod: %d (%v), want 4", len(deps.Items), err)
	}
	nodes, err := client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(topology.Default().Nodes()); len(nodes.Items) != want {
		t.Fatalf("%d nodes, the topology has %d", len(nodes.Items), want)
	}
	for _, n := range nodes.Items {
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		if !ready {
			t.Errorf("node %s is not Ready: %+v", n.Name, n.Status.Conditions)
		}
	}
	if left := processesUsing(dir, cmd.Process.Pid); len(left) < 6+11 {
		t.Fatalf("found %d processes of the cluster and its pods before the kill (%v); the check below would prove nothing", len(left), left)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := processesUsing(dir, cmd.Process.Pid)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind after cluster up was killed: %v", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// processesUsing lists the processes whose command line, environment (Chaos Mesh's controller
// is configured through its environment) or working directory (the pods') names dir, but the
// process skip.
func processesUsing(dir string, skip int) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if e.Name() == strconv.Itoa(skip) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || !(bytes.Contains(b, []byte(dir)) || bytes.Contains(env, []byte(dir)) || strings.HasPrefix(cwd, dir)) {
			continue
		}
		out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " ")[:min(80, len(b))])
	}
	return out
}
