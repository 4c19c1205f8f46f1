// Package topology describes the reference platform's cluster: zones, node pools with their
// instance types, services and their replicas, the processing-time model and the timings of the
// local supervisor. Topologies are strict YAML; [Default] is the deployment plan's cluster,
// embedded from default.yaml.
//
// Topology files are read by internal/yamlfile, the harness's strict YAML loader. It is the one
// import from outside platform/: a leaf of the standard library and yaml.v3 only, so the
// system under test still depends on nothing of the harness's behaviour.
package topology

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dailydoco/ddp-verify/internal/yamlfile"
	"github.com/dailydoco/ddp-verify/platform/httpserver"
	"github.com/dailydoco/ddp-verify/platform/model"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default topology's text.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Service names the platform knows.
const (
	ServiceAPI         = "api"
	ServiceDashboard   = "dashboard"
	ServiceVideoWorker = "video-worker"
	ServiceAIWorker    = "ai-worker"
)

// Topology is a whole reference cluster. The zero value is not valid: build one with [Parse],
// [Load] or [Default].
type Topology struct {
	Name       string      `yaml:"name" json:"name"`
	Region     string      `yaml:"region" json:"region"`
	Zones      []string    `yaml:"zones" json:"zones"`
	Pools      []Pool      `yaml:"pools" json:"pools"`
	Services   []Service   `yaml:"services" json:"services"`
	Gateway    Gateway     `yaml:"gateway" json:"gateway"`
	API        API         `yaml:"api" json:"api"`
	Model      model.Model `yaml:"model" json:"model"`
	Timing     Timing      `yaml:"timing" json:"timing"`
	HTTP       HTTP        `yaml:"http" json:"http"`
	Autoscaler Autoscaler  `yaml:"autoscaler" json:"autoscaler"`
	Network    Network     `yaml:"network" json:"network"`
	DataTier   DataTier    `yaml:"data_tier" json:"data_tier"`
	// Prices overrides instance prices of the cost exporter's built-in dated table (for
	// another region, a discount, or newer prices); instance types it does not list keep theirs.
	Prices *Prices `yaml:"prices,omitempty" json:"prices,omitempty"`
	// Defects break the platform on purpose, for the gate-mutation suite only: never set
	// them in a real verification. The zero value is the healthy platform.
	Defects Defects `yaml:"defects,omitempty" json:"defects,omitzero"`
}

// Prices is a dated table of on-demand instance prices in USD per hour.
type Prices struct {
	Date      string                   `yaml:"date" json:"date"`     // YYYY-MM-DD the prices were taken
	Source    string                   `yaml:"source" json:"source"` // where they come from
	Instances map[string]InstancePrice `yaml:"instances" json:"instances"`
}

// InstancePrice is one instance type's price; GPUHourly is the share of it that is the GPU's.
type InstancePrice struct {
	Hourly    float64 `yaml:"hourly" json:"hourly"`
	GPUHourly float64 `yaml:"gpu_hourly,omitempty" json:"gpu_hourly,omitempty"`
}

// DataTier places the data tier (database, queue). By default it is a managed, multi-AZ service
// outside the zones, so zone faults leave it alone; with Zone set it runs in that zone and a
// power loss of the zone takes it down too, until the zone is restored.
type DataTier struct {
	Zone string `yaml:"zone,omitempty" json:"zone,omitempty"`
}

// Autoscaler configures the cluster autoscaler (nodes per pool between min and max).
type Autoscaler struct {
	// Enabled turns node autoscaling on.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// QueuePerSlot: a GPU pool scales up while more jobs than this per GPU slot of its ready
	// nodes wait for a worker.
	QueuePerSlot float64 `yaml:"queue_per_slot" json:"queue_per_slot"`
	// ScaleUpAfter is how long the pressure must last before a node is added.
	ScaleUpAfter Duration `yaml:"scale_up_after" json:"scale_up_after"`
	// ScaleDownIdle is how long a node above the pool's min must be idle before it is removed.
	ScaleDownIdle Duration `yaml:"scale_down_idle" json:"scale_down_idle"`
	// HPASyncPeriod is how often replica counts are recomputed from request rates;
	// HPAScaleDownAfter how long fewer replicas must suffice before they are removed.
	HPASyncPeriod     Duration `yaml:"hpa_sync_period" json:"hpa_sync_period"`
	HPAScaleDownAfter Duration `yaml:"hpa_scale_down_after" json:"hpa_scale_down_after"`
}

// Pool is a group of identical nodes.
type Pool struct {
	Name         string `yaml:"name" json:"name"`
	InstanceType string `yaml:"instance_type" json:"instance_type"`
	// Nodes is how many nodes the pool starts with, spread round-robin over Zones.
	Nodes int `yaml:"nodes" json:"nodes"`
	// Zones the pool's nodes are placed in; empty means every zone of the topology.
	Zones []string `yaml:"zones,omitempty" json:"zones,omitempty"`
	// Min and Max bound the autoscaler; zero means Nodes.
	Min int `yaml:"min,omitempty" json:"min,omitempty"`
	Max int `yaml:"max,omitempty" json:"max,omitempty"`
	// ProvisioningDelay is how long a node the autoscaler adds takes to join; zero means
	// the instance type's (InstanceType.ProvisioningDelay).
	ProvisioningDelay Duration `yaml:"provisioning_delay,omitempty" json:"provisioning_delay,omitempty"`
}

// Service is a deployment: Replicas copies spread round-robin over the nodes of Pool. A worker
// service owns its node's accelerator and slots, so it runs at most one replica per node.
type Service struct {
	Name     string `yaml:"name" json:"name"`
	Pool     string `yaml:"pool" json:"pool"`
	Replicas int    `yaml:"replicas" json:"replicas"`
	// MaxReplicas and TargetRPS configure horizontal autoscaling of the API and dashboard
	// (HPA-like): replicas = ceil(requests per second / TargetRPS), between Replicas and
	// MaxReplicas. Zero MaxReplicas (or TargetRPS) turns it off.
	MaxReplicas int     `yaml:"max_replicas,omitempty" json:"max_replicas,omitempty"`
	TargetRPS   float64 `yaml:"target_rps,omitempty" json:"target_rps,omitempty"`
}

// Gateway is the ingress configuration.
type Gateway struct {
	// RateLimits are per client IP per minute (token buckets of that size refilled per minute).
	RateLimits RateLimits `yaml:"rate_limits" json:"rate_limits"`
	// TrustedProxies are the networks whose X-Forwarded-For the gateway believes.
	TrustedProxies []string `yaml:"trusted_proxies" json:"trusted_proxies"`
	// HealthInterval is how often each replica's /ready is probed.
	HealthInterval Duration `yaml:"health_interval" json:"health_interval"`
	// Retries is how many other replicas an idempotent request is retried on.
	Retries int `yaml:"retries" json:"retries"`
	// UpstreamTimeout bounds one attempt against a replica.
	UpstreamTimeout Duration `yaml:"upstream_timeout" json:"upstream_timeout"`
}

// RateLimits are requests per minute per client IP for each class of route.
type RateLimits struct {
	API   int `yaml:"api" json:"api"`
	Web   int `yaml:"web" json:"web"`
	Video int `yaml:"video" json:"video"`
}

// API holds the API service's limits.
type API struct {
	MaxChunkBytes int64    `yaml:"max_chunk_bytes" json:"max_chunk_bytes"`
	TokenTTL      Duration `yaml:"token_ttl" json:"token_ttl"`
	DownloadTTL   Duration `yaml:"download_ttl" json:"download_ttl"`
}

// Timing holds the supervisor's and the workers' timeouts. Tests shorten them.
type Timing struct {
	// Lease is how long a worker holds a job without renewing it; a job whose worker
	// disappeared is leased again after it.
	Lease Duration `yaml:"lease" json:"lease"`
	// StartTimeout bounds the start of one process.
	StartTimeout Duration `yaml:"start_timeout" json:"start_timeout"`
	// StopGrace is how long a process may take to stop after SIGTERM before SIGKILL.
	StopGrace Duration `yaml:"stop_grace" json:"stop_grace"`
	// HeartbeatInterval is how often nodes report to the supervisor.
	HeartbeatInterval Duration `yaml:"heartbeat_interval" json:"heartbeat_interval"`
	// NodeGracePeriod is how long a node may miss heartbeats before it is NotReady
	// (Kubernetes' node-monitor-grace-period).
	NodeGracePeriod Duration `yaml:"node_grace_period" json:"node_grace_period"`
	// EvictionDelay is how long a NotReady node keeps its replicas before they are rescheduled.
	EvictionDelay Duration `yaml:"eviction_delay" json:"eviction_delay"`
}

// HTTP holds the timeouts of every server of the platform (gateway, data tier, node agents and
// replicas, the supervisor's cost exporter and control API): how long one client may take to
// send its headers, its whole request (body included), to read the answer, and how long a
// keep-alive connection may idle.
type HTTP struct {
	ReadHeaderTimeout Duration `yaml:"read_header_timeout" json:"read_header_timeout"`
	// ReadTimeout is the body read deadline: the whole request must have arrived within it.
	ReadTimeout Duration `yaml:"read_timeout" json:"read_timeout"`
	// WriteTimeout runs from the end of the request's headers to the end of the answer, so it
	// must leave room for ReadTimeout and the slowest answer (see [Topology.SlowestAnswer]).
	// Absent (0), it is derived: ReadTimeout + SlowestAnswer + 30 s, at least 90 s.
	WriteTimeout Duration `yaml:"write_timeout" json:"write_timeout"`
	IdleTimeout  Duration `yaml:"idle_timeout" json:"idle_timeout"`
}

// Timeouts returns h in the form the servers take.
func (h HTTP) Timeouts() httpserver.Timeouts {
	return httpserver.Timeouts{ReadHeader: h.ReadHeaderTimeout.D(), Read: h.ReadTimeout.D(), Write: h.WriteTimeout.D(), Idle: h.IdleTimeout.D()}
}

// InternalAnswer is the longest a server of the platform other than the gateway takes to
// answer by design: the data tier's longest job-lease long poll, and the control API's zone
// restore, which restarts a data tier within it.
const InternalAnswer = 30 * time.Second

// SlowestAnswer is the longest any server of t takes to answer once it has the request: the
// gateway's attempts (1 + retries, each up to upstream_timeout) or [InternalAnswer].
func (t *Topology) SlowestAnswer() time.Duration {
	return max(time.Duration(t.Gateway.Retries+1)*t.Gateway.UpstreamTimeout.D(), InternalAnswer)
}

// Network places the processes on loopback addresses.
type Network struct {
	// Base is a 127.x.y.0 address: the gateway gets .1, the data tier .2, the supervisor .3 and
	// node i .(10+i). Empty picks a random 127.x.y.0 per run, so clusters never collide.
	Base string `yaml:"base,omitempty" json:"base,omitempty"`
}

// InstanceType is what a node of a pool has.
type InstanceType struct {
	VCPUs     int
	MemoryGiB int
	GPUs      int
	GPUModel  string
	// ProvisioningDelay is how long a new node of this type takes to join the cluster
	// (boot, kubelet registration, device plugin); GPU nodes are slower.
	ProvisioningDelay time.Duration
}

// MaxReplicas is how many API or dashboard replicas a node of type t holds: one per 2 vCPUs
// (each requests 1 vCPU with a limit of 2, as in the plan's manifests).
func (t InstanceType) MaxReplicas() int { return t.VCPUs / 2 }

// InstanceTypes are the instance types a topology may use (AWS specifications).
var InstanceTypes = map[string]InstanceType{
	"m5.xlarge":    {VCPUs: 4, MemoryGiB: 16},
	"m5.2xlarge":   {VCPUs: 8, MemoryGiB: 32},
	"m5.4xlarge":   {VCPUs: 16, MemoryGiB: 64},
	"g4dn.xlarge":  {VCPUs: 4, MemoryGiB: 16, GPUs: 1, GPUModel: "NVIDIA T4"},
	"g4dn.2xlarge": {VCPUs: 8, MemoryGiB: 32, GPUs: 1, GPUModel: "NVIDIA T4"},
	"r5.xlarge":    {VCPUs: 4, MemoryGiB: 32},
	"r5.2xlarge":   {VCPUs: 8, MemoryGiB: 64},
}

// Duration is a time.Duration written as "30s" in YAML.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		// A ValueError joins the decoder's own list, so it is reported with the others.
		return yamlfile.ValueError(n, "%q is not a duration like 30s or 1m30s", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Default returns the plan's topology (default.yaml).
func Default() *Topology {
	t, err := Parse("default.yaml", defaultYAML)
	if err != nil {
		panic("embedded default topology: " + err.Error())
	}
	return t
}

// Load reads and validates the topology in file.
func Load(file string) (*Topology, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	return Parse(file, b)
}

// withDefaults returns a topology whose optional sections hold their defaults, for YAML to
// decode over.
func withDefaults() Topology {
	return Topology{
		Region: "us-east-1",
		Gateway: Gateway{
			RateLimits:      RateLimits{API: 10000, Web: 1000, Video: 100},
			TrustedProxies:  []string{"127.0.0.0/8", "::1/128"},
			HealthInterval:  Duration(2 * time.Second),
			Retries:         2,
			UpstreamTimeout: Duration(10 * time.Second),
		},
		API: API{
			MaxChunkBytes: 1 << 20,
			TokenTTL:      Duration(24 * time.Hour),
			DownloadTTL:   Duration(5 * time.Minute),
		},
		Model: model.Default(),
		Timing: Timing{
			Lease:             Duration(30 * time.Second),
			StartTimeout:      Duration(30 * time.Second),
			StopGrace:         Duration(5 * time.Second),
			HeartbeatInterval: Duration(2 * time.Second),
			NodeGracePeriod:   Duration(40 * time.Second),
			EvictionDelay:     Duration(5 * time.Second),
		},
		HTTP: HTTP{
			ReadHeaderTimeout: Duration(httpserver.Default.ReadHeader),
			ReadTimeout:       Duration(httpserver.Default.Read),
			// WriteTimeout stays 0 (absent) until validate derives it from the rest.
			IdleTimeout: Duration(httpserver.Default.Idle),
		},
		Autoscaler: Autoscaler{
			Enabled:           true,
			QueuePerSlot:      1,
			ScaleUpAfter:      Duration(10 * time.Second),
			ScaleDownIdle:     Duration(60 * time.Second),
			HPASyncPeriod:     Duration(15 * time.Second),
			HPAScaleDownAfter: Duration(60 * time.Second),
		},
	}
}

// Parse decodes and validates a topology. name is used in error messages, which read
// "name:line: field: problem", one per problem.
func Parse(name string, data []byte) (*Topology, error) {
	t := withDefaults()
	doc, err := yamlfile.Decode(name, data, &t)
	if err != nil {
		return nil, err
	}
	v := yamlfile.Validator{Doc: doc}
	t.validate(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return &t, nil
}

// validate records every problem of t in v, and fills in the pools' autoscaling bounds.
func (t *Topology) validate(v *yamlfile.Validator) {
	bad := func(path, msg string) { v.Fail(path, "%s", msg) }
	if t.Name == "" {
		bad("name", "required")
	}
	if len(t.Zones) == 0 {
		bad("zones", "at least one zone is required")
	}
	zones := map[string]bool{}
	for i, z := range t.Zones {
		if z == "" || zones[z] {
			bad(fmt.Sprintf("zones[%d]", i), fmt.Sprintf("zone %q is empty or repeated", z))
		}
		zones[z] = true
	}
	if p := t.Prices; p != nil {
		if _, err := time.Parse(time.DateOnly, p.Date); err != nil {
			bad("prices.date", fmt.Sprintf("date %q is not YYYY-MM-DD: a price table must say when its prices were taken", p.Date))
		}
		if len(p.Instances) == 0 {
			bad("prices.instances", "at least one instance price is required")
		}
		for name, ip := range p.Instances {
			if !(ip.Hourly > 0) || ip.GPUHourly < 0 || ip.GPUHourly > ip.Hourly {
				bad(yamlfile.Join("prices.instances", name), fmt.Sprintf("want hourly > 0 and 0 <= gpu_hourly <= hourly (got %v, %v)", ip.Hourly, ip.GPUHourly))
			}
		}
	}
	if z := t.DataTier.Zone; z != "" && !zones[z] {
		bad("data_tier.zone", fmt.Sprintf("zone %q is not one of the topology's zones", z))
	}
	pools := map[string]*Pool{}
	maxNodes := 0
	if len(t.Pools) == 0 {
		bad("pools", "at least one pool is required")
	}
	for i := range t.Pools {
		p := &t.Pools[i]
		if p.Name == "" || pools[p.Name] != nil {
			bad(fmt.Sprintf("pools[%d].name", i), fmt.Sprintf("pool name %q is empty or repeated", p.Name))
		}
		pools[p.Name] = p
		if _, ok := InstanceTypes[p.InstanceType]; !ok {
			bad(fmt.Sprintf("pools[%d].instance_type", i), fmt.Sprintf("unknown instance type %q (known: %s)", p.InstanceType, knownTypes()))
		}
		if p.Nodes < 1 {
			bad(fmt.Sprintf("pools[%d].nodes", i), "must be >= 1")
		}
		for j, z := range p.Zones {
			if !zones[z] {
				bad(fmt.Sprintf("pools[%d].zones[%d]", i, j), fmt.Sprintf("zone %q is not among the topology's zones", z))
			}
		}
		if p.Min == 0 {
			p.Min = p.Nodes
		}
		if p.Max == 0 {
			p.Max = max(p.Nodes, p.Min)
		}
		if p.Min > p.Nodes || p.Max < p.Nodes || p.Min < 0 {
			bad(fmt.Sprintf("pools[%d].max", i), fmt.Sprintf("min %d and max %d must bracket nodes %d", p.Min, p.Max, p.Nodes))
		}
		maxNodes += p.Max
	}
	if 10+maxNodes > 254 {
		bad("pools", fmt.Sprintf("the pools' max add up to %d nodes; one 127.x.y.0/24 network holds 244", maxNodes))
	}
	seen := map[string]bool{}
	for i, s := range t.Services {
		switch s.Name {
		case ServiceAPI, ServiceDashboard, ServiceVideoWorker, ServiceAIWorker:
		default:
			bad(fmt.Sprintf("services[%d].name", i), fmt.Sprintf("unknown service %q (known: api, dashboard, video-worker, ai-worker)", s.Name))
		}
		if seen[s.Name] {
			bad(fmt.Sprintf("services[%d].name", i), fmt.Sprintf("service %q is repeated", s.Name))
		}
		seen[s.Name] = true
		p := pools[s.Pool]
		if p == nil {
			bad(fmt.Sprintf("services[%d].pool", i), fmt.Sprintf("unknown pool %q", s.Pool))
			continue
		}
		if s.Replicas < 1 {
			bad(fmt.Sprintf("services[%d].replicas", i), "must be >= 1")
		}
		if s.Name == ServiceVideoWorker && InstanceTypes[p.InstanceType].GPUs == 0 {
			bad(fmt.Sprintf("services[%d].pool", i), fmt.Sprintf("pool %q has no GPU (instance type %s)", s.Pool, p.InstanceType))
		}
		if s.MaxReplicas != 0 && (isWorker(s.Name) || s.MaxReplicas < s.Replicas || s.TargetRPS <= 0) {
			bad(fmt.Sprintf("services[%d].max_replicas", i), "only api and dashboard autoscale, with max_replicas >= replicas and target_rps > 0")
		}
		if isWorker(s.Name) && s.Replicas > p.Nodes {
			bad(fmt.Sprintf("services[%d].replicas", i), fmt.Sprintf("a worker runs at most one replica per node; pool %q has %d nodes", s.Pool, p.Nodes))
		}
	}
	for _, need := range []string{ServiceAPI, ServiceDashboard, ServiceVideoWorker, ServiceAIWorker} {
		if !seen[need] {
			bad("services", fmt.Sprintf("service %q is required", need))
		}
	}
	g := t.Gateway
	if g.RateLimits.API < 1 || g.RateLimits.Web < 1 || g.RateLimits.Video < 1 {
		bad("gateway.rate_limits", "every limit must be >= 1 request per minute")
	}
	for i, c := range g.TrustedProxies {
		if _, err := netip.ParsePrefix(c); err != nil {
			bad(fmt.Sprintf("gateway.trusted_proxies[%d]", i), fmt.Sprintf("%q is not a CIDR network", c))
		}
	}
	if g.HealthInterval <= 0 || g.UpstreamTimeout <= 0 {
		bad("gateway", "health_interval and upstream_timeout must be > 0")
	}
	if g.Retries < 0 {
		bad("gateway.retries", "must be >= 0")
	}
	if t.API.MaxChunkBytes < 1 || t.API.TokenTTL <= 0 || t.API.DownloadTTL <= 0 {
		bad("api", "max_chunk_bytes, token_ttl and download_ttl must be > 0")
	}
	for _, e := range t.Model.Validate() {
		field, msg, _ := strings.Cut(e, ": ")
		bad("model."+field, msg)
	}
	tm := t.Timing
	for name, d := range map[string]Duration{"lease": tm.Lease, "start_timeout": tm.StartTimeout, "stop_grace": tm.StopGrace, "heartbeat_interval": tm.HeartbeatInterval, "node_grace_period": tm.NodeGracePeriod} {
		if d <= 0 {
			bad(yamlfile.Join("timing", name), "must be > 0")
		}
	}
	if t.HTTP.WriteTimeout == 0 {
		// Absent: room for a whole body, the slowest answer and 30 s for the client to read
		// it; the default topology's 30 s + 3 x 10 s + 30 s is httpserver.Default's 90 s.
		t.HTTP.WriteTimeout = Duration(max(httpserver.Default.Write, t.HTTP.ReadTimeout.D()+t.SlowestAnswer()+30*time.Second))
	}
	h := t.HTTP
	for name, d := range map[string]Duration{"read_header_timeout": h.ReadHeaderTimeout, "read_timeout": h.ReadTimeout, "write_timeout": h.WriteTimeout, "idle_timeout": h.IdleTimeout} {
		if d <= 0 {
			bad(yamlfile.Join("http", name), "must be > 0: a server without it lets one client hold a connection open")
		}
	}
	if h.ReadHeaderTimeout > h.ReadTimeout {
		bad("http.read_header_timeout", fmt.Sprintf("%v is longer than read_timeout %v, which bounds the whole request", h.ReadHeaderTimeout.D(), h.ReadTimeout.D()))
	}
	if need := h.ReadTimeout.D() + t.SlowestAnswer(); h.WriteTimeout > 0 && h.WriteTimeout.D() < need {
		bad("http.write_timeout", fmt.Sprintf("%v cuts answers short: it runs from the end of the headers, so it needs read_timeout %v plus the slowest answer %v (the gateway's %d attempts of upstream_timeout, or the data tier's %v long poll): at least %v",
			h.WriteTimeout.D(), h.ReadTimeout.D(), t.SlowestAnswer(), t.Gateway.Retries+1, InternalAnswer, need))
	}
	if t.Autoscaler.QueuePerSlot <= 0 || t.Autoscaler.ScaleDownIdle <= 0 || t.Autoscaler.HPASyncPeriod <= 0 {
		bad("autoscaler", "queue_per_slot, scale_down_idle and hpa_sync_period must be > 0")
	}
	for i, p := range t.Pools {
		if (t.Service(ServiceAPI) != nil && t.Service(ServiceAPI).Pool == p.Name) || (t.Service(ServiceDashboard) != nil && t.Service(ServiceDashboard).Pool == p.Name) {
			need := 0
			for _, s := range t.Services {
				if s.Pool == p.Name && !isWorker(s.Name) {
					need += s.Replicas
				}
			}
			if it, ok := InstanceTypes[p.InstanceType]; ok && need > p.Nodes*it.MaxReplicas() {
				bad(fmt.Sprintf("pools[%d].nodes", i), fmt.Sprintf("%d API and dashboard replicas do not fit %d nodes of %d replicas each", need, p.Nodes, it.MaxReplicas()))
			}
		}
	}
	t.validateDefects(bad)
	if t.Network.Base != "" {
		if a, err := netip.ParseAddr(t.Network.Base); err != nil || !a.Is4() || a.As4()[0] != 127 || a.As4()[3] != 0 {
			bad("network.base", fmt.Sprintf("%q must be a 127.x.y.0 address", t.Network.Base))
		}
	}
}

func isWorker(service string) bool {
	return service == ServiceVideoWorker || service == ServiceAIWorker
}

func knownTypes() string {
	var s []string
	for k := range InstanceTypes {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// Pool returns the pool called name, or nil.
func (t *Topology) Pool(name string) *Pool {
	for i := range t.Pools {
		if t.Pools[i].Name == name {
			return &t.Pools[i]
		}
	}
	return nil
}

// Service returns the service called name, or nil.
func (t *Topology) Service(name string) *Service {
	for i := range t.Services {
		if t.Services[i].Name == name {
			return &t.Services[i]
		}
	}
	return nil
}

// Node is one machine of a pool.
type Node struct {
	Name         string `json:"name"`
	Pool         string `json:"pool"`
	Zone         string `json:"zone"`
	InstanceType string `json:"instance_type"`
	// Index numbers nodes across the topology from 0; the node's address is Base + 10 + Index.
	Index int `json:"index"`
}

// ZoneSuffix is the short zone name used in node names: us-east-1a -> 1a.
func ZoneSuffix(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i >= 0 {
		return zone[i+1:]
	}
	return zone
}

// PoolZones returns the zones p's nodes are placed in.
func (t *Topology) PoolZones(p *Pool) []string {
	if len(p.Zones) > 0 {
		return p.Zones
	}
	return t.Zones
}

// NodeName names the n-th node (from 1) of pool in zone: gpu-1a-1.
func NodeName(pool, zone string, n int) string {
	return pool + "-" + ZoneSuffix(zone) + "-" + strconv.Itoa(n)
}

// Nodes lists the initial nodes, pool by pool, each pool spread round-robin over its zones.
func (t *Topology) Nodes() []Node {
	var nodes []Node
	for i := range t.Pools {
		p := &t.Pools[i]
		zones := t.PoolZones(p)
		perZone := map[string]int{}
		for k := 0; k < p.Nodes; k++ {
			z := zones[k%len(zones)]
			perZone[z]++
			nodes = append(nodes, Node{Name: NodeName(p.Name, z, perZone[z]), Pool: p.Name, Zone: z, InstanceType: p.InstanceType, Index: len(nodes)})
		}
	}
	return nodes
}

// Replica is one copy of a service placed on a node.
type Replica struct {
	Service string `json:"service"`
	Name    string `json:"name"` // api-1
	Node    string `json:"node"`
	// Port on the node's address; 0 for workers, which serve nothing.
	Port int `json:"port,omitempty"`
}

// Base ports of the services on a node; a node's k-th replica of a service gets base+k.
const (
	AgentPort     = 9100 // the node's own endpoint: /metrics, /health, /ready
	APIPort       = 8080
	DashboardPort = 3000
)

// ServicePort returns the base port of service, 0 for workers.
func ServicePort(service string) int {
	switch service {
	case ServiceAPI:
		return APIPort
	case ServiceDashboard:
		return DashboardPort
	}
	return 0
}

// Place spreads each service's replicas round-robin over its pool's nodes, in node order. A worker
// (video or AI) gets at most one replica per node: it owns the node's slots.
func (t *Topology) Place(nodes []Node) []Replica {
	var out []Replica
	for _, s := range t.Services {
		var pool []Node
		for _, n := range nodes {
			if n.Pool == s.Pool {
				pool = append(pool, n)
			}
		}
		perNode := map[string]int{}
		n := s.Replicas
		if isWorker(s.Name) {
			// A worker owns its node's accelerator or AI slots, as a DaemonSet pod does: two
			// on one node would count the node's GPU twice.
			n = min(n, len(pool))
		}
		for k := 0; k < n && len(pool) > 0; k++ {
			n := pool[k%len(pool)]
			r := Replica{Service: s.Name, Name: s.Name + "-" + strconv.Itoa(k+1), Node: n.Name}
			if base := ServicePort(s.Name); base > 0 {
				r.Port = base + perNode[n.Name]
			}
			perNode[n.Name]++
			out = append(out, r)
		}
	}
	return out
}

// Provisioning is how long a new node of pool p takes to join.
func (p *Pool) Provisioning() time.Duration {
	if p.ProvisioningDelay > 0 {
		return p.ProvisioningDelay.D()
	}
	return InstanceTypes[p.InstanceType].ProvisioningDelay
}

// IsWorker reports whether service runs one replica per node holding the node's slots.
func IsWorker(service string) bool { return isWorker(service) }

// GPUSlots is how many quarter-GPU slots a node of instanceType has.
func (t *Topology) GPUSlots(instanceType string) int {
	return InstanceTypes[instanceType].GPUs * t.Model.SlotsPerGPU
}
