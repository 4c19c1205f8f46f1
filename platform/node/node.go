// Package node is one node of the reference platform: a process on its own loopback address
// that runs the replicas the supervisor placed on it (API and dashboard servers, the GPU video
// worker, the AI worker) and serves the node's /metrics, /health and /ready on its agent port.
// Everything it sends and receives passes its [Fence], which the supervisor raises to partition
// the node.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/platform/api"
	"github.com/dailydoco/ddp-verify/platform/dashboard"
	"github.com/dailydoco/ddp-verify/platform/datatier"
	"github.com/dailydoco/ddp-verify/platform/hostmetrics"
	"github.com/dailydoco/ddp-verify/platform/httpserver"
	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/metrics"
	"github.com/dailydoco/ddp-verify/platform/model"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/platform/worker"
)

// Spec is everything a node process needs; the supervisor sends it as JSON.
type Spec struct {
	Name string `json:"name"`
	Zone string `json:"zone"`
	Pool string `json:"pool"`
	// InstanceType is the machine the node stands for, whose node_exporter series it exports;
	// empty for a pod of the local cluster (platform/pod), which is not a machine: there its
	// node's agent exports them.
	InstanceType string             `json:"instance_type"`
	IP           string             `json:"ip"` // the node's loopback address
	GPUSlots     int                `json:"gpu_slots"`
	Replicas     []topology.Replica `json:"replicas"`
	DataTierURL  string             `json:"datatier_url"`
	// DataTierToken is the data tier's secret (datatier.Config.Token), sent with every call.
	DataTierToken string        `json:"datatier_token"`
	Secret        []byte        `json:"secret"`
	API           topology.API  `json:"api"`
	Model         model.Model   `json:"model"`
	Lease         time.Duration `json:"lease"`
	// HTTP are the timeouts of the agent's and the replicas' servers.
	HTTP httpserver.Timeouts `json:"http"`
	// Heartbeats go to HeartbeatURL every HeartbeatInterval; empty disables them.
	HeartbeatURL      string        `json:"heartbeat_url,omitempty"`
	HeartbeatInterval time.Duration `json:"heartbeat_interval,omitempty"`
	// Incarnation distinguishes restarts of the node, so that a restarted worker never
	// completes a lease its previous life held.
	Incarnation string `json:"incarnation"`
	// AgentPort is the agent's port; 0 is topology.AgentPort (a pod's worker serves it on its
	// container port).
	AgentPort int `json:"agent_port,omitempty"`
	// Defects break the node's API replicas and workers on purpose, for the gate-mutation
	// suite only; the zero value is a healthy node.
	Defects topology.Defects `json:"defects,omitzero"`
}

// AgentAddr is the node's own endpoint.
func (s Spec) AgentAddr() string {
	port := s.AgentPort
	if port == 0 {
		port = topology.AgentPort
	}
	return net.JoinHostPort(s.IP, strconv.Itoa(port))
}

// Node is a running node. Create it with [New] and run it with [Node.Run].
type Node struct {
	spec  Spec
	log   *slog.Logger
	fence Fence

	reg     *prometheus.Registry
	wrapped prometheus.Registerer
	http    *metrics.HTTP
	client  *http.Client // every outbound call, through the fence

	mu      sync.Mutex
	ready   map[string]bool // replica name -> ready
	servers map[string]*http.Server
	stops   map[string]context.CancelFunc // worker replicas
	workers map[string]*worker.Worker
	served  map[string]*atomic.Uint64 // requests per API or dashboard replica, for the HPA
	rt      *runtime                  // set while Run runs
}

// runtime is what replicas started after Run began need.
type runtime struct {
	ctx  context.Context
	db   *datatier.Client
	errc chan error
	wg   *sync.WaitGroup
}

// New prepares a node; nothing listens until Run.
func New(spec Spec, log *slog.Logger) *Node {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{spec: spec, log: log.With("node", spec.Name), ready: map[string]bool{},
		servers: map[string]*http.Server{}, stops: map[string]context.CancelFunc{}, workers: map[string]*worker.Worker{},
		served: map[string]*atomic.Uint64{}}
	n.reg, n.wrapped = metrics.NewRegistry(prometheus.Labels{"node": spec.Name, "zone": spec.Zone, "pool": spec.Pool})
	n.http = metrics.NewHTTP(n.wrapped, metrics.ServerDuration)
	n.client = &http.Client{Transport: &http.Transport{
		DialContext:         n.fence.DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}}
	if spec.InstanceType != "" {
		dir, err := os.Getwd()
		if err != nil {
			dir = "."
		}
		n.wrapped.MustRegister(hostmetrics.New(spec.InstanceType, dir, hostmetrics.Self))
	}
	n.wrapped.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dailydoco_node_partitioned", Help: "1 while the node is partitioned (its fence is up).",
	}, func() float64 {
		if n.fence.Up() {
			return 1
		}
		return 0
	}))
	return n
}

// SetPartitioned raises or lowers the node's fence.
func (n *Node) SetPartitioned(up bool) {
	n.fence.Set(up)
	if up {
		n.client.CloseIdleConnections()
	}
	n.log.Info("partition", "up", up)
}

// Run starts the agent and every replica, calls ready once they all listen, and serves until
// ctx is done.
func (n *Node) Run(ctx context.Context, ready func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	db := datatier.NewClient(n.spec.DataTierURL, n.spec.DataTierToken, n.client)
	agent := http.NewServeMux()
	agent.Handle("GET /metrics", metrics.Handler(n.reg))
	agent.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	agent.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		jsonhttp.Write(w, http.StatusOK, map[string]any{"node": n.spec.Name, "replicas": n.replicaStates()})
	})
	errc := make(chan error, 16)
	if err := n.serve("", n.spec.AgentAddr(), agent, errc); err != nil {
		return err
	}
	var workers sync.WaitGroup
	defer workers.Wait()
	n.mu.Lock()
	n.rt = &runtime{ctx: ctx, db: db, errc: errc, wg: &workers}
	n.mu.Unlock()
	for _, r := range n.spec.Replicas {
		if err := n.AddReplica(r); err != nil {
			n.shutdown()
			return err
		}
	}
	if n.spec.HeartbeatURL != "" {
		workers.Add(1)
		go func() {
			defer workers.Done()
			n.heartbeat(ctx)
		}()
	}
	n.log.Info("node ready", "addr", n.spec.AgentAddr(), "replicas", len(n.spec.Replicas))
	ready()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	cancel()
	n.shutdown()
	return err
}

func (n *Node) serve(replica, addr string, h http.Handler, errc chan<- error) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("node %s listen: %w", n.spec.Name, err)
	}
	hs := httpserver.New(h, n.spec.HTTP)
	n.mu.Lock()
	n.servers[replica] = hs
	n.mu.Unlock()
	go func() {
		if err := hs.Serve(n.fence.Listener(ln)); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("node %s serve %s: %w", n.spec.Name, addr, err)
		}
	}()
	return nil
}

func (n *Node) shutdown() {
	n.mu.Lock()
	var servers []*http.Server
	for _, s := range n.servers {
		servers = append(servers, s)
	}
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(ctx) // past the deadline, connections are simply dropped
	}
}

// RemoveReplica stops a replica (an eviction or a scale-down): its server drains, a worker
// abandons its jobs to lease expiry.
func (n *Node) RemoveReplica(name string) error {
	n.mu.Lock()
	srv, stop := n.servers[name], n.stops[name]
	delete(n.servers, name)
	delete(n.stops, name)
	delete(n.workers, name)
	delete(n.ready, name)
	delete(n.served, name)
	n.mu.Unlock()
	switch {
	case srv != nil:
		// Drain: requests in flight finish, new connections are refused.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if srv.Shutdown(ctx) != nil {
				srv.Close()
			}
		}()
		return nil
	case stop != nil:
		stop()
		return nil
	}
	return fmt.Errorf("node %s has no replica %q", n.spec.Name, name)
}

func (n *Node) setReady(replica string, ok bool) {
	n.mu.Lock()
	n.ready[replica] = ok
	n.mu.Unlock()
}

func (n *Node) replicaStates() map[string]bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]bool, len(n.ready))
	for k, v := range n.ready {
		out[k] = v
	}
	return out
}

// AddReplica starts a replica on the running node (at start, or when the supervisor
// reschedules one here).
func (n *Node) AddReplica(r topology.Replica) error {
	n.mu.Lock()
	rt := n.rt
	_, dup := n.ready[r.Name]
	n.mu.Unlock()
	if rt == nil {
		return fmt.Errorf("node %s is not running", n.spec.Name)
	}
	if dup {
		return fmt.Errorf("node %s already runs %s", n.spec.Name, r.Name)
	}
	ctx, db := rt.ctx, rt.db
	addr := net.JoinHostPort(n.spec.IP, strconv.Itoa(r.Port))
	switch r.Service {
	case topology.ServiceAPI:
		svc := api.New(db, api.Config{
			Secret: n.spec.Secret, MaxChunkBytes: n.spec.API.MaxChunkBytes, TokenTTL: n.spec.API.TokenTTL.D(),
			DownloadTTL: n.spec.API.DownloadTTL.D(), Model: n.spec.Model,
			AddedLatency: n.spec.Defects.APIAddedLatency.D(), ErrorShare: n.spec.Defects.APIErrorShare,
		})
		mux := svc.Handler()
		// Ready while the data tier answers: an API replica cut off from it serves only errors.
		probe := func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.spec.DataTierURL+"/health", nil)
			resp, err := n.client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("data tier health: %s", resp.Status)
			}
			return nil
		}
		n.setReady(r.Name, true)
		return n.serve(r.Name, addr, n.replicaHandler(r, "api", mux, probe), rt.errc)
	case topology.ServiceDashboard:
		n.setReady(r.Name, true)
		return n.serve(r.Name, addr, n.replicaHandler(r, "dashboard", dashboard.Handler(), nil), rt.errc)
	case topology.ServiceVideoWorker, topology.ServiceAIWorker:
		cfg := worker.Config{
			Stage: datatier.StageGPU, ID: n.spec.Name + "/" + r.Name + "/" + n.spec.Incarnation, Node: n.spec.Name,
			Slots: n.spec.GPUSlots, Lease: n.spec.Lease, Model: n.spec.Model, Logger: n.log,
			GPUSlowdown: n.spec.Defects.GPUSlowdown, HungResolution: n.spec.Defects.HungResolution,
			SkipResolution: n.spec.Defects.UnclaimedResolution, AIFailureShare: n.spec.Defects.AIFailureShare,
		}
		if r.Service == topology.ServiceAIWorker {
			cfg.Stage, cfg.Slots = datatier.StageAI, n.spec.Model.AISlotsPerNode
		}
		if cfg.Slots < 1 {
			return fmt.Errorf("node %s: %s needs slots, the node has none", n.spec.Name, r.Service)
		}
		w := worker.New(db, cfg, prometheus.WrapRegistererWith(prometheus.Labels{"replica": r.Name}, n.wrapped))
		wctx, stop := context.WithCancel(ctx)
		n.mu.Lock()
		n.stops[r.Name], n.workers[r.Name] = stop, w
		n.mu.Unlock()
		n.setReady(r.Name, true)
		rt.wg.Add(1)
		go func() {
			defer rt.wg.Done()
			_ = w.Run(wctx) // returns when wctx ends
		}()
		return nil
	}
	return fmt.Errorf("node %s: unknown service %q", n.spec.Name, r.Service)
}

// replicaHandler adds the probes and /metrics to a service: /health always answers while the
// process lives, /ready also runs probe (if any). Probes stay out of the request metrics, which
// measure what users get.
func (n *Node) replicaHandler(r topology.Replica, service string, svc *http.ServeMux, probe func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	// The node's metrics on the replica's port too, where a pod's scrape finds them (the
	// gateway routes only the public routes, so users do not).
	mux.Handle("GET /metrics", metrics.Handler(n.reg))
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, req *http.Request) {
		if probe != nil {
			ctx, cancel := context.WithTimeout(req.Context(), time.Second)
			defer cancel()
			if err := probe(ctx); err != nil {
				n.setReady(r.Name, false)
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		n.setReady(r.Name, true)
		w.Write([]byte("ok\n"))
	})
	// The service's own mux sets the request's pattern, which the middleware reads after it.
	served := new(atomic.Uint64)
	n.mu.Lock()
	n.served[r.Name] = served
	n.mu.Unlock()
	counted := n.http.Middleware(service, svc)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		served.Add(1)
		counted.ServeHTTP(w, req)
	}))
	return mux
}

// Heartbeat is what a node reports to the supervisor.
type Heartbeat struct {
	Node        string          `json:"node"`
	Incarnation string          `json:"incarnation"`
	Replicas    map[string]bool `json:"replicas"`
	// BusySlots are the worker slots in use (GPU or AI), for the autoscaler.
	BusySlots int `json:"busy_slots"`
	// Served counts the requests each API or dashboard replica served since it started.
	Served map[string]uint64 `json:"served,omitempty"`
}

func (n *Node) servedCounts() map[string]uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]uint64, len(n.served))
	for name, c := range n.served {
		if _, live := n.servers[name]; live {
			out[name] = c.Load()
		}
	}
	return out
}

func (n *Node) busySlots() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	busy := 0
	for _, w := range n.workers {
		busy += w.Busy()
	}
	return busy
}

func (n *Node) heartbeat(ctx context.Context) {
	c := jsonhttp.Client{BaseURL: n.spec.HeartbeatURL, HTTP: n.client}
	t := time.NewTicker(n.spec.HeartbeatInterval)
	defer t.Stop()
	for {
		hctx, cancel := context.WithTimeout(ctx, n.spec.HeartbeatInterval)
		err := c.Do(hctx, http.MethodPost, "", Heartbeat{Node: n.spec.Name, Incarnation: n.spec.Incarnation, Replicas: n.replicaStates(), BusySlots: n.busySlots(), Served: n.servedCounts()}, nil)
		cancel()
		if err != nil && ctx.Err() == nil {
			n.log.Debug("heartbeat failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
