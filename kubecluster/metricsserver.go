package kubecluster

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// MetricsServerBinary is metrics-server's program in its assets directory
// (hack/metrics-server.sh builds it from the module proxy's source).
const MetricsServerBinary = "metrics-server"

// MetricsServerKey names the cache directory hack/metrics-server.sh builds metrics-server into
// (kept in step with the script's version; a test reads the script).
const MetricsServerKey = "metrics-server-v0.8.0"

// DefaultMetricsServerAssets is where metrics-server is: $METRICS_SERVER_ASSETS, else the
// script's cache directory.
func DefaultMetricsServerAssets() string { return assetsDir("METRICS_SERVER_ASSETS", MetricsServerKey) }

// The resource metrics API that metrics-server serves, and its Service in kube-system.
var metricsAPI = APIGroup{Group: "metrics.k8s.io", Version: "v1beta1", Service: "metrics-server"}

// MetricsServerPort is where metrics-server listens, on an address of its own in the pod
// network (its container port in the upstream manifests).
const MetricsServerPort = 10250

// MetricResolution is how often metrics-server scrapes the kubelets (its --metric-resolution;
// 15 s, the upstream manifests' value). Its first CPU values take two scrapes.
const MetricResolution = 15 * time.Second

// MetricsServer is the real metrics-server, serving the resource metrics API (metrics.k8s.io:
// the CPU and memory of nodes and pods that the HPA controller's Resource metrics and
// `kubectl top` read) from the node agents' kubelet endpoints.
type MetricsServer struct {
	// Addr is where it serves.
	Addr netip.AddrPort
	// Log is its log file.
	Log string

	proc   *process
	remove func(context.Context) error
}

// metricsServerAddr is the pod network's third address (the second is [Cluster.ServeAPI]'s).
func (c *Cluster) metricsServerAddr() netip.Addr { return c.aggregatedAPIAddr().Next() }

// StartMetricsServer runs metrics-server from assets (a directory holding
// [MetricsServerBinary]) as a process of the cluster and registers it as the resource metrics
// API through the aggregation layer, as its upstream manifests do on EKS: it authenticates
// and authorises the API server's proxied requests by delegation; it scrapes each node's
// kubelet endpoint at the node's InternalIP and the port of its status, checking the
// endpoint's certificate against the cluster CA and presenting a client certificate of it.
// It runs with the admin's credentials (a deployment gives it a service account with the
// system:metrics-server role). It returns once the API is Available; metrics-server stops
// with the cluster. The cluster needs its pod network: the API server refuses loopback
// endpoints.
func (c *Cluster) StartMetricsServer(ctx context.Context, assets string) (*MetricsServer, error) {
	if !c.podNetwork.IsValid() {
		return nil, errors.New("kubecluster: metrics-server needs the cluster's pod network (its Service's endpoint cannot be a loopback address)")
	}
	bin := filepath.Join(assets, MetricsServerBinary)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("kubecluster: metrics-server: %s missing; build it with hack/metrics-server.sh (it prints the directory)", bin)
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultStartTimeout)
	defer cancel()
	certs, err := c.metricsServerCerts()
	if err != nil {
		return nil, fmt.Errorf("kubecluster: metrics-server certificates: %w", err)
	}
	m := &MetricsServer{
		Addr: netip.AddrPortFrom(c.metricsServerAddr(), MetricsServerPort),
		Log:  filepath.Join(c.dir, "logs", MetricsServerBinary+".log"),
	}
	m.proc, err = startProcess(c.launch, MetricsServerBinary, bin, m.Log,
		"--kubeconfig="+c.Kubeconfig, "--authentication-kubeconfig="+c.Kubeconfig, "--authorization-kubeconfig="+c.Kubeconfig,
		"--bind-address="+m.Addr.Addr().String(), "--secure-port="+strconv.Itoa(int(m.Addr.Port())),
		"--tls-cert-file="+certs.path("tls.crt"), "--tls-private-key-file="+certs.path("tls.key"),
		"--kubelet-certificate-authority="+c.pki.path(caCertFile),
		"--kubelet-client-certificate="+certs.path("kubelet-client.crt"), "--kubelet-client-key="+certs.path("kubelet-client.key"),
		"--kubelet-use-node-status-port", "--kubelet-preferred-address-types=InternalIP",
		"--metric-resolution="+MetricResolution.String())
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, m.proc)
	c.log.Info("starting", "component", MetricsServerBinary, "pid", m.proc.cmd.Process.Pid)
	if err := c.awaitHealthy(ctx, m.proc, tlsDial(m.Addr.String())); err != nil {
		return nil, err
	}
	if m.remove, err = c.registerAPIService(ctx, metricsAPI, metricsAPI.Version+"."+metricsAPI.Group, m.Addr); err != nil {
		return nil, fmt.Errorf("kubecluster: metrics-server: %w; last lines of %s:\n%s", err, m.Log, tail(m.Log, 5))
	}
	return m, nil
}

// metricsServerCerts issues metrics-server's serving certificate (its Service's name and its
// address) and its client certificate for the kubelets, both of the cluster CA.
func (c *Cluster) metricsServerCerts() (*pki, error) {
	sub, err := c.pki.under(MetricsServerBinary)
	if err != nil {
		return nil, err
	}
	host := metricsAPI.Service + ".kube-system.svc"
	ip := net.IP(c.metricsServerAddr().AsSlice())
	if err := sub.issue("tls.crt", "tls.key", pkix.Name{CommonName: host}, x509.ExtKeyUsageServerAuth, []net.IP{ip}, []string{host}); err != nil {
		return nil, err
	}
	return sub, sub.issue("kubelet-client.crt", "kubelet-client.key", pkix.Name{CommonName: "system:metrics-server"}, x509.ExtKeyUsageClientAuth, nil, nil)
}

// Close unregisters the resource metrics API; the process stops with the cluster.
func (m *MetricsServer) Close() {
	if m.remove != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = m.remove(ctx)
		cancel()
	}
}
