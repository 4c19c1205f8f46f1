package kubecluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/dailydoco/ddp-verify/platform/hostmetrics"
)

// This file is what a node serves besides running pods: the kubelet's resource metrics
// endpoint (GET /metrics/resource over TLS on the port the Node's status names, as
// metrics-server scrapes it) and node_exporter's series of the machine (GET /metrics over
// HTTP, as the node-exporter DaemonSet of a cluster's monitoring stack serves them). Both
// count the node's pods' processes: a node agent is not a machine of its own, so what its
// pods use is what its machine uses.

// Annotations of a Node whose agent serves node_exporter's series, the kubernetes-pods
// scrape convention applied to nodes: scraped at the node's InternalIP and this port.
const (
	ScrapeAnnotation = "prometheus.io/scrape"
	PortAnnotation   = "prometheus.io/port"
)

// nodeServers are a powered-on node's endpoints.
type nodeServers struct {
	kubelet, exporter *http.Server
	// kubeletPort is 0 when the agent has no certificate authority to serve TLS with.
	kubeletPort, exporterPort int32
}

// startServers serves the node's endpoints on its address, at ports of the system's choosing
// (several clusters may run on one host): node_exporter's series always, the kubelet's
// resource metrics when the agent has the cluster's certificate authority. Both count what
// usage reads: the containers of the node's pod runtime.
func (a *NodeAgent) startServers(usage *nodeUsage) (*nodeServers, error) {
	s := &nodeServers{}
	exp := prometheus.NewRegistry()
	exp.MustRegister(hostmetrics.New(a.Node.InstanceType, a.workDir(), usage.machine))
	var err error
	if s.exporter, s.exporterPort, err = a.serve(promhttp.HandlerFor(exp, promhttp.HandlerOpts{}), nil); err != nil {
		return nil, err
	}
	if a.pki == nil {
		return s, nil
	}
	cfg, err := a.kubeletTLS()
	if err != nil {
		s.close()
		return nil, fmt.Errorf("node %s: kubelet certificate: %w", a.Node.Name, err)
	}
	res := prometheus.NewRegistry()
	res.MustRegister(&resourceCollector{usage: usage})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics/resource", promhttp.HandlerFor(res, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	if s.kubelet, s.kubeletPort, err = a.serve(mux, cfg); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// serve serves h on the node's address (over TLS when cfg is set) and returns its port.
func (a *NodeAgent) serve(h http.Handler, cfg *tls.Config) (*http.Server, int32, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(NodeIP(a.Node), "0"))
	if err != nil {
		return nil, 0, fmt.Errorf("node %s: %w", a.Node.Name, err)
	}
	srv := &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	go func() { _ = srv.Serve(ln) }()
	return srv, int32(ln.Addr().(*net.TCPAddr).Port), nil
}

// close stops the servers, as the machine's power going does.
func (s *nodeServers) close() {
	for _, srv := range []*http.Server{s.exporter, s.kubelet} {
		if srv != nil {
			_ = srv.Close()
		}
	}
}

// workDir is the directory whose filesystem the node's machine reports: its pods'.
func (a *NodeAgent) workDir() string {
	if a.podsDir != "" {
		if err := os.MkdirAll(a.podsDir, 0o755); err == nil {
			return a.podsDir
		}
	}
	return os.TempDir()
}

// kubeletTLS is the kubelet endpoint's side of TLS: a serving certificate of the cluster CA
// for the node's name and address, and client certificates of the cluster CA required (a
// kubelet's x509 client authentication; it would also ask the API server whether the caller
// may get nodes/metrics, which this endpoint does not).
func (a *NodeAgent) kubeletTLS() (*tls.Config, error) {
	sub, err := a.pki.under(filepath.Join("kubelet", a.Node.Name))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(sub.path("kubelet.crt")); err != nil {
		ip := net.ParseIP(NodeIP(a.Node))
		if err := sub.issue("kubelet.crt", "kubelet.key", pkix.Name{CommonName: "system:node:" + a.Node.Name, Organization: []string{"system:nodes"}},
			x509.ExtKeyUsageServerAuth, []net.IP{ip}, []string{a.Node.Name}); err != nil {
			return nil, err
		}
	}
	cert, err := tls.LoadX509KeyPair(sub.path("kubelet.crt"), sub.path("kubelet.key"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(a.pki.ca)
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// publishEndpoints tells the API what the node serves where: the kubelet's port in the Node's
// status (daemonEndpoints, where metrics-server and Prometheus's node discovery look) and
// node_exporter's in its scrape annotations. The ports change with every power-on.
func (a *NodeAgent) publishEndpoints(ctx context.Context, s *nodeServers) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"true",%q:%q}}}`, ScrapeAnnotation, PortAnnotation, strconv.Itoa(int(s.exporterPort)))
	_, err := a.client.CoreV1().Nodes().Patch(ctx, a.Node.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// containerUsage is one running container's usage.
type containerUsage struct {
	namespace, pod, container string
	started                   time.Time
	hostmetrics.Usage
}

// nodeUsage reads what the node's pods use. The machine's CPU time is a counter: the time of
// a container process that has ended stays counted, as a machine's does.
type nodeUsage struct {
	pods atomic.Pointer[podRuntime] // nil until the node's pods start

	mu    sync.Mutex                // one reading at a time: each sees the last one's processes
	last  map[int]hostmetrics.Usage // usage of each container process last read, by pid
	ended hostmetrics.Usage         // CPU time of the processes that have ended since
}

// read reads every running container's usage (a process that ends between the listing and
// the reading is left out) and the machine's: the containers' together, with the CPU time of
// those that have ended.
func (u *nodeUsage) read() ([]containerUsage, hostmetrics.Usage) {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []containerUsage
	seen := map[int]hostmetrics.Usage{}
	if rt := u.pods.Load(); rt != nil {
		for _, c := range rt.running() {
			use, err := hostmetrics.ProcessUsage(c.pid)
			if err != nil {
				continue
			}
			seen[c.pid] = use
			out = append(out, containerUsage{namespace: c.namespace, pod: c.pod, container: c.container, started: c.started, Usage: use})
		}
	}
	for pid, use := range u.last {
		if _, ok := seen[pid]; !ok {
			u.ended = u.ended.Add(hostmetrics.Usage{User: use.User, System: use.System})
		}
	}
	u.last = seen
	total := u.ended
	for _, c := range out {
		total = total.Add(c.Usage)
	}
	return out, total
}

// machine is the node's machine's usage, for its node_exporter.
func (u *nodeUsage) machine() (hostmetrics.Usage, error) {
	_, total := u.read()
	return total, nil
}

// resourceCollector is the kubelet's resource metrics (the names and labels metrics-server
// reads): the node's CPU time and working set, and each container's with its start time.
// Working sets are resident memory here.
type resourceCollector struct {
	usage *nodeUsage
}

var (
	nodeCPUDesc      = prometheus.NewDesc("node_cpu_usage_seconds_total", "Cumulative CPU time of the node's containers, in core-seconds.", nil, nil)
	nodeMemoryDesc   = prometheus.NewDesc("node_memory_working_set_bytes", "Resident memory of the node's containers, in bytes.", nil, nil)
	containerLabels  = []string{"container", "namespace", "pod"}
	containerCPUDesc = prometheus.NewDesc("container_cpu_usage_seconds_total", "Cumulative CPU time of the container's process, in core-seconds.", containerLabels, nil)
	containerMemDesc = prometheus.NewDesc("container_memory_working_set_bytes", "Resident memory of the container's process, in bytes.", containerLabels, nil)
	containerStart   = prometheus.NewDesc("container_start_time_seconds", "When the container's process started, in seconds since the epoch.", containerLabels, nil)
	scrapeErrorDesc  = prometheus.NewDesc("scrape_error", "1 when the node could not read its containers' usage (never, here: a process that cannot be read has ended).", nil, nil)
)

// Describe implements prometheus.Collector.
func (r *resourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nodeCPUDesc, nodeMemoryDesc, containerCPUDesc, containerMemDesc, containerStart, scrapeErrorDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: every sample carries the time it was read, as
// the kubelet's do.
func (r *resourceCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	stamp := func(m prometheus.Metric) { ch <- prometheus.NewMetricWithTimestamp(now, m) }
	containers, node := r.usage.read()
	for _, c := range containers {
		l := []string{c.container, c.namespace, c.pod}
		stamp(prometheus.MustNewConstMetric(containerCPUDesc, prometheus.CounterValue, c.CPU().Seconds(), l...))
		stamp(prometheus.MustNewConstMetric(containerMemDesc, prometheus.GaugeValue, c.Resident, l...))
		stamp(prometheus.MustNewConstMetric(containerStart, prometheus.GaugeValue, float64(c.started.UnixNano())/1e9, l...))
	}
	stamp(prometheus.MustNewConstMetric(nodeCPUDesc, prometheus.CounterValue, node.CPU().Seconds()))
	stamp(prometheus.MustNewConstMetric(nodeMemoryDesc, prometheus.GaugeValue, node.Resident))
	ch <- prometheus.MustNewConstMetric(scrapeErrorDesc, prometheus.GaugeValue, 0)
}

// errNoKubelet is returned for a node whose agent serves no kubelet endpoint.
var errNoKubelet = errors.New("the node agent serves no kubelet endpoint (powered off, or without the cluster's certificate authority)")

// KubeletEndpoint is where the node's kubelet endpoint is, or an error when it serves none
// (powered off, or an agent without the cluster's certificate authority).
func (a *NodeAgent) KubeletEndpoint() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.servers == nil || a.servers.kubeletPort == 0 {
		return "", errNoKubelet
	}
	return net.JoinHostPort(NodeIP(a.Node), strconv.Itoa(int(a.servers.kubeletPort))), nil
}

// daemonEndpoints is the Node status's daemonEndpoints: the kubelet's port (0: none).
func (a *NodeAgent) daemonEndpoints() corev1.NodeDaemonEndpoints {
	if a.servers == nil {
		return corev1.NodeDaemonEndpoints{}
	}
	return corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: a.servers.kubeletPort}}
}
