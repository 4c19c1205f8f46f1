// Package cluster is the local supervisor of the reference platform: it starts the data tier,
// one process per node of the topology and the gateway, each on its own loopback address;
// serves the cost exporter; keeps a Prometheus file_sd JSON of every metrics target current;
// and stops it all. Processes are started through an [ExecFunc], so that production runs
// `ddp-verify platform <role>` and tests re-execute the test binary (see platformtest).
//
//	c, err := cluster.Start(ctx, cluster.Options{Exec: exec})
//	if err != nil { ... }
//	defer c.Stop()
//	fmt.Println(c.GatewayURL(), c.FileSDPath())
package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/dailydoco/ddp-verify/internal/atomicfile"

	"github.com/dailydoco/ddp-verify/platform/cost"
	"github.com/dailydoco/ddp-verify/platform/datatier"
	"github.com/dailydoco/ddp-verify/platform/gateway"
	"github.com/dailydoco/ddp-verify/platform/httpserver"
	"github.com/dailydoco/ddp-verify/platform/metrics"
	"github.com/dailydoco/ddp-verify/platform/node"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// ExecFunc returns an unstarted command that runs the platform process of role
// (`ddp-verify platform <role>` or an equivalent). The supervisor sets its standard streams.
type ExecFunc func(role string) *exec.Cmd

// SelfExec runs the current executable as `<exe> platform <role>`: the production ExecFunc.
func SelfExec() (ExecFunc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	return func(role string) *exec.Cmd { return exec.Command(exe, "platform", role) }, nil
}

// Options configures [Start].
type Options struct {
	// Topology to run; nil means topology.Default().
	Topology *topology.Topology
	// Exec starts platform processes; nil means SelfExec.
	Exec ExecFunc
	// Dir holds the database, the file_sd JSON and one log file per process. Empty means a new
	// temporary directory, removed by Stop.
	Dir string
	// Logger receives the supervisor's own log; nil discards it.
	Logger *slog.Logger
}

// Ports of the fixed-role processes (each has its own address, so they never collide).
const (
	GatewayPort  = 8080
	DataTierPort = 5432
	MetricsPort  = 9100 // every process's /metrics, /health and /ready
	ControlPort  = 7070 // the supervisor's control API
)

// Cluster is a running reference platform. Its methods are safe for concurrent use.
type Cluster struct {
	topo  *topology.Topology
	exec  ExecFunc
	log   *slog.Logger
	dir   string
	rmDir bool
	base  netip.Addr

	secret     []byte
	adminToken string
	// dataTierToken is the data tier's secret: only the supervisor and its children know it
	// (they get it in their spec on stdin, never on a command line or in the environment).
	dataTierToken string

	supervisorLn net.Listener
	supervisor   *http.Server
	controlLn    net.Listener
	control      *http.Server
	controlToken string
	gatewayAdmin string // http://host:port of the gateway's admin endpoint
	lifecycle    *lifecycleMetrics
	stopMonitor  context.CancelFunc
	monitorDone  chan struct{}

	dtSpec datatier.Spec   // to restart the data tier after a power loss of its zone
	prices cost.PriceTable // the built-in table with the topology's overrides (and price_factor)

	mu              sync.Mutex
	datatier        *proc
	datatierDown    bool // killed with its zone (topology data_tier.zone)
	gateway         *proc
	nodes           []*nodeState // in creation order
	nextIndex       int
	zoneDown        map[string]bool // power-loss: unschedulable until restored
	zonePartitioned map[string]bool
	pending         []topology.Replica
	changes         []Change
	pressure        map[string]time.Time // pool -> since when it has wanted another node
	gwDirty         bool                 // the gateway's backends need pushing
	hpa             hpaState

	background sync.WaitGroup // node starts and stops begun by the lifecycle

	stopOnce sync.Once
	stopErr  error
}

type nodeState struct {
	topology.Node
	ip       netip.Addr
	replicas []topology.Replica // placed here now
	proc     *proc
	ports    map[string]int // next port per service

	fault         string    // applied through the control API: "", kill, partition, power-loss
	zoneFault     bool      // the fault came with its zone's
	provisioning  bool      // no heartbeat since the process (re)started, or not started yet
	startAt       time.Time // when a node the autoscaler added gets its process
	lastHeartbeat time.Time
	// registered is set at the node's first heartbeat ever: from then on it is a Node of the
	// cluster (kube-state-metrics reports its conditions), Ready or not. A node the
	// autoscaler is still provisioning is an instance booting, not yet a Node.
	registered bool
	ready      bool // the Kubernetes Ready condition: a heartbeat within the grace period
	notReadyAt time.Time
	state      string
	since      time.Time
	busySlots  int
	idleSince  time.Time
	starting   bool // a goroutine is starting its process
}

// Node states, as the control API reports them.
const (
	StateReady        = "Ready"
	StateNotReady     = "NotReady"
	StateKilled       = "Killed"
	StatePartitioned  = "Partitioned"
	StateProvisioning = "Provisioning"
)

// Start starts every process of the topology and returns once all serve. On error everything
// started is stopped. ctx bounds the start only; stop the cluster with Stop.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	topo := opts.Topology
	if topo == nil {
		topo = topology.Default()
	}
	if opts.Exec == nil {
		var err error
		if opts.Exec, err = SelfExec(); err != nil {
			return nil, err
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// A topology changed in Go skipped Parse's checks; a bad defect would silently break
	// the platform in some other way than the one asked for.
	if err := topo.CheckDefects(); err != nil {
		return nil, err
	}
	if topo.Defects.Any() {
		opts.Logger.Warn("DEFECTS SET: this platform is broken on purpose for the gate-mutation suite; never use it to verify a launch",
			"defects", topo.Defects.List())
	}
	var types []string
	for _, p := range topo.Pools {
		types = append(types, p.InstanceType)
	}
	prices := cost.TopologyPrices(topo).Scaled(topo.Defects.PriceFactor)
	if err := prices.Check(types...); err != nil {
		return nil, err
	}
	c := &Cluster{topo: topo, prices: prices, exec: opts.Exec, log: opts.Logger, dir: opts.Dir, secret: randomBytes(32),
		adminToken: hex.EncodeToString(randomBytes(16)), controlToken: hex.EncodeToString(randomBytes(16)),
		dataTierToken: hex.EncodeToString(randomBytes(32)),
		zoneDown:      map[string]bool{}, zonePartitioned: map[string]bool{}, pressure: map[string]time.Time{},
		hpa: hpaState{served: map[string]uint64{}, last: map[string]uint64{}, seq: map[string]int{}, lowSince: map[string]time.Time{}, desired: map[string]int{}}}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "ddp-platform-")
		if err != nil {
			return nil, fmt.Errorf("create cluster directory: %w", err)
		}
		c.dir, c.rmDir = d, true
	}
	if err := os.MkdirAll(filepath.Join(c.dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	if err := c.start(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return b
}

// addr returns base + host as a 127.x.y.host address.
func (c *Cluster) addr(host int) netip.Addr {
	b := c.base.As4()
	b[3] = byte(host)
	return netip.AddrFrom4(b)
}

func hostPort(a netip.Addr, port int) string { return netip.AddrPortFrom(a, uint16(port)).String() }

// bindSupervisor picks the cluster's network and binds the supervisor's own address in it, which
// also claims the network: a concurrent cluster that drew the same one fails here and draws again.
func (c *Cluster) bindSupervisor() error {
	for try := 0; ; try++ {
		if c.topo.Network.Base != "" {
			c.base = netip.MustParseAddr(c.topo.Network.Base)
		} else {
			x, _ := rand.Int(rand.Reader, big.NewInt(150))
			y, _ := rand.Int(rand.Reader, big.NewInt(256))
			c.base = netip.AddrFrom4([4]byte{127, byte(100 + x.Int64()), byte(y.Int64()), 0})
		}
		ln, err := net.Listen("tcp", hostPort(c.addr(3), MetricsPort))
		if err == nil {
			c.supervisorLn = ln
			return nil
		}
		if c.topo.Network.Base != "" || try == 5 {
			return fmt.Errorf("claim network %s: %w", c.base, err)
		}
	}
}

func (c *Cluster) start(ctx context.Context) error {
	if err := c.bindSupervisor(); err != nil {
		return err
	}
	reg, _ := metrics.NewRegistry(nil)
	reg.MustRegister(cost.New(c.prices, cost.PlanFixedCosts, c.costNodes))
	c.lifecycle = newLifecycleMetrics(c)
	reg.MustRegister(c.lifecycle)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(reg))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /heartbeat", c.heartbeat)
	c.supervisor = httpserver.New(mux, c.topo.HTTP.Timeouts())
	go func() { _ = c.supervisor.Serve(c.supervisorLn) }() // ends with Shutdown in Stop
	ln, err := net.Listen("tcp", hostPort(c.addr(3), ControlPort))
	if err != nil {
		return fmt.Errorf("control API listen: %w", err)
	}
	c.controlLn = ln
	c.control = httpserver.New(c.controlHandler(), c.topo.HTTP.Timeouts())
	go func() { _ = c.control.Serve(ln) }() // ends with Shutdown in Stop

	tm := c.topo.Timing
	c.dtSpec = datatier.Spec{
		Addr: hostPort(c.addr(2), DataTierPort), DBPath: filepath.Join(c.dir, "ddp.db"),
		Lease: tm.Lease.D(), MaxAttempts: 5, Model: c.topo.Model, Token: c.dataTierToken,
		HTTP: c.topo.HTTP.Timeouts(), LostHandoffShare: c.topo.Defects.LostHandoffShare,
	}
	dt, err := c.spawn(ctx, RoleDataTier, RoleDataTier, c.dtSpec)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.datatier = dt
	c.mu.Unlock()

	nodes := c.topo.Nodes()
	replicas := c.topo.Place(nodes)
	now := time.Now()
	for _, n := range nodes {
		ns := &nodeState{Node: n, ip: c.addr(10 + n.Index), state: StateProvisioning, since: now, provisioning: true, ports: map[string]int{}}
		for _, r := range replicas {
			if r.Node == n.Name {
				ns.replicas = append(ns.replicas, r)
				ns.ports[r.Service] = max(ns.ports[r.Service], r.Port+1)
			}
		}
		c.mu.Lock()
		c.nodes = append(c.nodes, ns)
		c.nextIndex = n.Index + 1
		c.mu.Unlock()
	}
	// Nodes start in parallel: each is a process start plus a few listeners.
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i, ns := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.startNode(ctx, ns)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.gatewayAdmin = "http://" + hostPort(c.addr(1), MetricsPort)
	gw, err := c.spawn(ctx, RoleGateway, RoleGateway, gateway.Spec{
		Addr: hostPort(c.addr(1), GatewayPort), AdminAddr: hostPort(c.addr(1), MetricsPort),
		AdminToken: c.adminToken, Backends: c.backends(), Gateway: c.topo.Gateway, HTTP: c.topo.HTTP.Timeouts(),
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.gateway = gw
	c.mu.Unlock()
	if err := c.writeFileSD(); err != nil {
		return err
	}
	mctx, cancel := context.WithCancel(context.Background())
	c.stopMonitor, c.monitorDone = cancel, make(chan struct{})
	go func() {
		defer close(c.monitorDone)
		c.monitor(mctx)
	}()
	// Return once every node has reported in: Nodes() then says Ready everywhere.
	deadline := time.Now().Add(c.topo.Timing.StartTimeout.D())
	for !c.allReady() {
		if time.Now().After(deadline) {
			return fmt.Errorf("nodes not Ready after %v", c.topo.Timing.StartTimeout.D())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func (c *Cluster) allReady() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ns := range c.nodes {
		if ns.state != StateReady {
			return false
		}
	}
	return true
}

func (c *Cluster) nodeSpec(ns *nodeState) node.Spec {
	return node.Spec{
		Name: ns.Name, Zone: ns.Zone, Pool: ns.Pool, InstanceType: ns.InstanceType, IP: ns.ip.String(),
		GPUSlots: c.topo.GPUSlots(ns.InstanceType), Replicas: ns.replicas,
		DataTierURL: c.DataTierURL(), DataTierToken: c.dataTierToken, Secret: c.secret, API: c.topo.API, Model: c.topo.Model, Lease: c.topo.Timing.Lease.D(),
		HeartbeatURL: "http://" + hostPort(c.addr(3), MetricsPort) + "/heartbeat", HeartbeatInterval: c.topo.Timing.HeartbeatInterval.D(),
		Incarnation: hex.EncodeToString(randomBytes(4)), Defects: c.topo.Defects, HTTP: c.topo.HTTP.Timeouts(),
	}
}

func (c *Cluster) startNode(ctx context.Context, ns *nodeState) error {
	c.mu.Lock()
	spec := c.nodeSpec(ns)
	c.mu.Unlock()
	p, err := c.spawn(ctx, ns.Name, RoleNode, spec)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		return err
	}
	ns.proc = p
	// It is Ready once its first heartbeat arrives, as a kubelet registers.
	ns.provisioning, ns.lastHeartbeat = true, time.Time{}
	c.refresh(ns, time.Now())
	return nil
}

// backends lists the API and dashboard replicas for the gateway.
func (c *Cluster) backends() []gateway.Backend {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backendsLocked()
}

func (c *Cluster) backendsLocked() []gateway.Backend {
	var out []gateway.Backend
	for _, ns := range c.nodes {
		for _, r := range ns.replicas {
			if r.Port == 0 {
				continue
			}
			out = append(out, gateway.Backend{Service: r.Service, Name: r.Name, Node: ns.Name, Zone: ns.Zone, URL: "http://" + hostPort(ns.ip, r.Port)})
		}
	}
	return out
}

// proc is one child process.
type proc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex // serialises writes to stdin
	done  chan struct{}
	err   error // the exit status, once done is closed
}

func (p *proc) send(line string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := io.WriteString(p.stdin, line+"\n")
	return err
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) signal(sig os.Signal) {
	if p.alive() {
		_ = p.cmd.Process.Signal(sig) // it may exit meanwhile; Wait reports how it ended
	}
}

// stop asks p to exit (SIGTERM), and kills it after grace.
func (p *proc) stop(grace time.Duration) {
	p.signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.signal(syscall.SIGKILL)
		<-p.done
	}
}

// spawn starts a platform process, sends it spec and waits until it reports ready.
func (c *Cluster) spawn(ctx context.Context, name, role string, spec any) (*proc, error) {
	line, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode %s spec: %w", name, err)
	}
	logPath := filepath.Join(c.dir, "logs", name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	defer logf.Close() // the child holds its own descriptor
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := c.exec(role)
	cmd.Stdout, cmd.Stderr = outW, logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	outW.Close()
	p := &proc{name: name, cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	readyc := make(chan struct{})
	go func() {
		defer outR.Close()
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			if sc.Text() == readyLine {
				close(readyc)
				break
			}
		}
		_, _ = io.Copy(io.Discard, outR) // until the child exits
	}()
	if err := p.send(string(line)); err != nil {
		p.signal(syscall.SIGKILL)
		<-p.done
		return nil, fmt.Errorf("send %s its spec: %w", name, err)
	}
	t := time.NewTimer(c.topo.Timing.StartTimeout.D())
	defer t.Stop()
	select {
	case <-readyc:
		c.log.Info("process ready", "name", name, "pid", cmd.Process.Pid)
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before it was ready (%v): %s", name, p.err, tail(logPath))
	case <-t.C:
		err = fmt.Errorf("%s not ready after %v: %s", name, c.topo.Timing.StartTimeout.D(), tail(logPath))
	case <-ctx.Done():
		err = fmt.Errorf("start %s: %w", name, ctx.Err())
	}
	p.signal(syscall.SIGKILL)
	<-p.done
	return nil, err
}

// tail returns the end of a log file for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(b) == 0 {
		return "(no output; see " + path + ")"
	}
	return string(bytes.TrimSpace(b))
}

// Stop stops every process (gateway first, data tier last), the cost exporter, and removes
// the cluster directory if Start created it. It is idempotent and safe from any goroutine.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		grace := c.topo.Timing.StopGrace.D()
		if c.stopMonitor != nil {
			c.stopMonitor()
			<-c.monitorDone
		}
		c.background.Wait() // a node being provisioned now is stopped with the others
		if c.control != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = c.control.Shutdown(ctx)
			cancel()
		} else if c.controlLn != nil {
			c.controlLn.Close()
		}
		c.mu.Lock()
		gw, dt := c.gateway, c.datatier
		var nodes []*proc
		for _, ns := range c.nodes {
			if ns.proc != nil {
				nodes = append(nodes, ns.proc)
			}
		}
		c.mu.Unlock()
		if gw != nil {
			gw.stop(grace)
		}
		var wg sync.WaitGroup
		for _, p := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.stop(grace)
			}()
		}
		wg.Wait()
		if dt != nil {
			dt.stop(grace)
		}
		if c.supervisor != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = c.supervisor.Shutdown(ctx)
			cancel()
		} else if c.supervisorLn != nil {
			c.supervisorLn.Close()
		}
		if c.rmDir {
			c.stopErr = os.RemoveAll(c.dir)
		}
	})
	return c.stopErr
}

// GatewayURL is the platform's public entry point.
func (c *Cluster) GatewayURL() string { return "http://" + hostPort(c.addr(1), GatewayPort) }

// DataTierURL is the data tier's internal API.
func (c *Cluster) DataTierURL() string { return "http://" + hostPort(c.addr(2), DataTierPort) }

// SupervisorURL serves the supervisor's own /metrics (the cost exporter).
func (c *Cluster) SupervisorURL() string { return "http://" + hostPort(c.addr(3), MetricsPort) }

// Dir is the cluster's directory (database, logs, file_sd JSON).
func (c *Cluster) Dir() string { return c.dir }

// Topology is the topology the cluster runs; do not modify it.
func (c *Cluster) Topology() *topology.Topology { return c.topo }

// DataTier returns a client of the data tier, for checks such as "no accepted video lost". It
// carries the data tier's token, which nothing outside the platform's processes has: requests
// without it are answered 401.
func (c *Cluster) DataTier() *datatier.Client {
	return datatier.NewClient(c.DataTierURL(), c.dataTierToken, nil)
}

// Target is one metrics endpoint.
type Target struct {
	Name string `json:"name"` // process: gateway, datatier, supervisor or a node name
	Role string `json:"role"` // gateway, datatier, supervisor, node
	Addr string `json:"addr"` // host:port serving /metrics
	// Zone and Pool of a node.
	Zone string `json:"zone,omitempty"`
	Pool string `json:"pool,omitempty"`
}

// Targets lists every process's metrics endpoint, nodes in topology order.
func (c *Cluster) Targets() []Target {
	out := []Target{
		{Name: "gateway", Role: RoleGateway, Addr: hostPort(c.addr(1), MetricsPort)},
		{Name: "datatier", Role: RoleDataTier, Addr: hostPort(c.addr(2), DataTierPort)},
		{Name: "supervisor", Role: "supervisor", Addr: hostPort(c.addr(3), MetricsPort)},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ns := range c.nodes {
		out = append(out, Target{Name: ns.Name, Role: RoleNode, Addr: hostPort(ns.ip, topology.AgentPort), Zone: ns.Zone, Pool: ns.Pool})
	}
	return out
}

// FileSDPath is the Prometheus file_sd JSON of Targets, rewritten whenever they change.
func (c *Cluster) FileSDPath() string { return filepath.Join(c.dir, "file_sd.json") }

// writeFileSD writes the targets atomically. Its labels are prefixed ddp_ so that they never
// collide with the node, zone and pool labels the metrics carry themselves.
func (c *Cluster) writeFileSD() error {
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	var groups []group
	for _, t := range c.Targets() {
		groups = append(groups, group{Targets: []string{t.Addr}, Labels: map[string]string{"ddp_process": t.Name, "ddp_role": t.Role}})
	}
	return atomicfile.WriteJSON(c.FileSDPath(), groups)
}

// NodeInfo describes one node.
type NodeInfo struct {
	Name         string             `json:"name"`
	Zone         string             `json:"zone"`
	Pool         string             `json:"pool"`
	InstanceType string             `json:"instance_type"`
	IP           string             `json:"ip"`
	Addr         string             `json:"addr"` // the agent: /metrics, /health, /ready
	PID          int                `json:"pid,omitempty"`
	State        string             `json:"state"` // Ready, NotReady, Killed, Partitioned, Provisioning
	Ready        bool               `json:"ready"` // heartbeats arrive (the Kubernetes Ready condition)
	Since        time.Time          `json:"since"` // last change of State
	Replicas     []topology.Replica `json:"replicas"`
}

// Nodes lists the nodes in topology order.
func (c *Cluster) Nodes() []NodeInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]NodeInfo, 0, len(c.nodes))
	for _, ns := range c.nodes {
		ni := NodeInfo{Name: ns.Name, Zone: ns.Zone, Pool: ns.Pool, InstanceType: ns.InstanceType, IP: ns.ip.String(),
			Addr: hostPort(ns.ip, topology.AgentPort), State: ns.state, Ready: ns.ready, Since: ns.since.UTC(),
			Replicas: append([]topology.Replica(nil), ns.replicas...)}
		if ns.proc != nil && ns.proc.alive() {
			ni.PID = ns.proc.cmd.Process.Pid
		}
		out = append(out, ni)
	}
	return out
}
