// Package kubecluster runs a Kubernetes control plane on this machine from binaries built from
// source (hack/envtest-assets.sh): etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler, each its own process on loopback, with their own PKI and an admin
// kubeconfig. It is the local Kubernetes target's cluster: placement, NotReady detection,
// eviction and the workload controllers are the real ones. Every process dies with the harness
// (Linux's parent-death signal), also when the harness is killed.
package kubecluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Binaries are the control plane's programs, looked up in Options.Assets.
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// Defaults of [Options].
const (
	DefaultNodeMonitorGracePeriod = 40 * time.Second
	DefaultStartTimeout           = 2 * time.Minute
)

// Options configure [Start]. Assets and Dir are required.
type Options struct {
	// Assets is the directory holding [Binaries] (hack/envtest-assets.sh prints it).
	Assets string
	// Dir holds etcd's data, the PKI, the kubeconfig and one log per process.
	Dir string
	// NodeMonitorGracePeriod is how long the node lifecycle controller waits for a node's
	// heartbeat before it marks the node NotReady (the kube-controller-manager flag).
	NodeMonitorGracePeriod time.Duration
	// StartTimeout bounds the wait for every component to be healthy.
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// ControlPlane is a running control plane.
type ControlPlane struct {
	// Kubeconfig is the admin kubeconfig's path; Config the same as a client-go config.
	Kubeconfig string
	Config     *rest.Config
	// Server is the API server's URL.
	Server string

	dir    string
	log    *slog.Logger
	launch *launcher
	procs  []*process
	pki    *pki
}

// Start starts etcd, the API server, the controller manager and the scheduler, in that
// order, each once the one before is healthy. A component that exits or is not healthy in
// time is an error with the last lines of its log; what was started is stopped again.
func Start(ctx context.Context, o Options) (*ControlPlane, error) {
	if err := checkAssets(o.Assets); err != nil {
		return nil, err
	}
	if o.NodeMonitorGracePeriod <= 0 {
		o.NodeMonitorGracePeriod = DefaultNodeMonitorGracePeriod
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	c := &ControlPlane{dir: o.Dir, log: o.Logger, launch: newLauncher()}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	if err := c.start(ctx, o); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// checkAssets says which binaries are missing, and how to get them.
func checkAssets(dir string) error {
	var missing []string
	for _, b := range Binaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("kubecluster: %v missing in %q; build them with hack/envtest-assets.sh (it prints the directory)", missing, dir)
	}
	return nil
}

func (c *ControlPlane) start(ctx context.Context, o Options) error {
	for _, d := range []string{"logs", "etcd"} {
		if err := os.MkdirAll(filepath.Join(o.Dir, d), 0o755); err != nil {
			return err
		}
	}
	p, err := newPKI(filepath.Join(o.Dir, "pki"))
	if err != nil {
		return fmt.Errorf("kubecluster: certificates: %w", err)
	}
	c.pki = p
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	c.Server = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	if err := c.run(ctx, "etcd", o.Assets, httpCheck(etcdURL+"/health", nil),
		"--name=default", "--data-dir="+filepath.Join(o.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls=http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--initial-advertise-peer-urls=http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--initial-cluster=default=http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--unsafe-no-fsync=true", "--quota-backend-bytes=4294967296"); err != nil {
		return err
	}
	if c.Kubeconfig, err = writeKubeconfig(o.Dir, c.Server, p); err != nil {
		return err
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return err
	}
	// The node agents share this client: a heartbeat per node every few seconds, pod status.
	c.Config.QPS, c.Config.Burst = 200, 400
	admin, err := rest.TLSConfigFor(c.Config)
	if err != nil {
		return err
	}
	if err := c.run(ctx, "kube-apiserver", o.Assets, httpCheck(c.Server+"/readyz", admin),
		"--etcd-servers="+etcdURL, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]), "--cert-dir="+filepath.Join(o.Dir, "pki", "apiserver"),
		"--tls-cert-file="+p.path(serverCertFile), "--tls-private-key-file="+p.path(serverKeyFile),
		"--client-ca-file="+p.path(caCertFile), "--authorization-mode=RBAC",
		"--service-account-issuer="+c.Server, "--service-account-key-file="+p.path(saPubFile),
		"--service-account-signing-key-file="+p.path(saKeyFile), "--service-cluster-ip-range="+ServiceNetwork.String(),
		"--disable-admission-plugins=ServiceAccount", "--allow-privileged=true", "--endpoint-reconciler-type=none",
		// The aggregation layer, for API groups served beside the API server (external
		// metrics): it authenticates to them with the front-proxy client certificate and
		// dials their Services' endpoints, as there is no kube-proxy on the host.
		"--requestheader-client-ca-file="+p.path(frontProxyCAFile), "--requestheader-allowed-names="+frontProxyClientCommon,
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+p.path(frontProxyClientCert), "--proxy-client-key-file="+p.path(frontProxyClientKey),
		"--enable-aggregator-routing=true"); err != nil {
		return err
	}
	insecure := &tls.Config{InsecureSkipVerify: true} // their self-signed serving certificates; only /healthz is read
	if err := c.run(ctx, "kube-controller-manager", o.Assets, httpCheck("https://127.0.0.1:"+strconv.Itoa(ports[3])+"/healthz", insecure),
		"--kubeconfig="+c.Kubeconfig, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports[3]),
		"--cert-dir="+filepath.Join(o.Dir, "pki", "controller-manager"),
		"--service-account-private-key-file="+p.path(saKeyFile), "--root-ca-file="+p.path(caCertFile),
		"--use-service-account-credentials=false", "--node-monitor-period=2s",
		"--node-monitor-grace-period="+o.NodeMonitorGracePeriod.String()); err != nil {
		return err
	}
	return c.run(ctx, "kube-scheduler", o.Assets, httpCheck("https://127.0.0.1:"+strconv.Itoa(ports[4])+"/healthz", insecure),
		"--kubeconfig="+c.Kubeconfig, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports[4]),
		"--cert-dir="+filepath.Join(o.Dir, "pki", "scheduler"))
}

// run starts one component and waits until healthy says so.
func (c *ControlPlane) run(ctx context.Context, name, assets string, healthy func(context.Context) error, args ...string) error {
	p, err := startProcess(c.launch, name, filepath.Join(assets, name), filepath.Join(c.dir, "logs", name+".log"), args...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	c.log.Info("starting", "component", name, "pid", p.cmd.Process.Pid)
	return c.awaitHealthy(ctx, p, healthy)
}

// httpCheck is a health check: GET url answers 200.
func httpCheck(url string, tlsConfig *tls.Config) func(context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}

// writeKubeconfig writes the admin kubeconfig.
func writeKubeconfig(dir, server string, p *pki) (string, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: p.path(caCertFile)}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificate: p.path(adminCertFile), ClientKey: p.path(adminKeyFile)}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "admin"}
	cfg.CurrentContext = "local"
	path := filepath.Join(dir, "kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

// freePorts returns n ports free on 127.0.0.1 now.
func freePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// Client returns a clientset for the admin.
func (c *ControlPlane) Client() (*kubernetes.Clientset, error) {
	return kubernetes.NewForConfig(c.Config)
}

// Exited returns the first component that has exited, as an error; nil while all run.
func (c *ControlPlane) Exited() error {
	for _, p := range c.procs {
		if p.exited() {
			return p.failure()
		}
	}
	return nil
}

// Stop stops the components in reverse order (the scheduler first, etcd last).
func (c *ControlPlane) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(10 * time.Second)
	}
	c.procs = nil
	if c.launch != nil {
		c.launch.close()
		c.launch = nil
	}
}

// AssetsKey names the cache directory hack/envtest-assets.sh builds the binaries into (kept in
// step with the script's versions; a test reads the script).
const AssetsKey = "envtest-k8s1.37.2-etcd3.7.3-cg0.23.0"

// DefaultAssets is where the binaries are: $KUBEBUILDER_ASSETS, else the script's cache
// directory ($XDG_CACHE_HOME or ~/.cache, /ddp-verify/AssetsKey).
func DefaultAssets() string { return assetsDir("KUBEBUILDER_ASSETS", AssetsKey) }

// assetsDir is the directory of a build script's binaries: $env, else the script's cache
// directory ($XDG_CACHE_HOME or ~/.cache, /ddp-verify/key).
func assetsDir(env, key string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "ddp-verify", key)
}
