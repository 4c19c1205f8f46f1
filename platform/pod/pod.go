// Package pod runs one service of the reference platform as a Kubernetes pod, configured by
// its environment as the Helm chart (deploy/helm/dailydoco) sets it, where the supervisor's
// processes get a spec on stdin. A pod serves on its pod IP:
//   - api, dashboard: the service on its port (DDP_HTTP_PORT, else the topology's base port)
//     with /health and /ready (an API pod is ready while the data tier answers), and the
//     pod's /metrics, /health and /ready on the node agent's port (9100);
//   - video-worker, ai-worker: the worker, and /metrics, /health and /ready on DDP_HTTP_PORT;
//   - datatier: the data tier on DDP_HTTP_PORT (else 5432), its database in DDP_DATA_DIR.
//
// The environment: POD_IP, POD_NAME and NODE_NAME (the downward API); DDP_DATATIER_URL (the
// data tier's Service, through the kubelet's service links); DDP_DATATIER_TOKEN and, for the
// API, DDP_SIGNING_SECRET (from a Secret); DDP_GPUS for the video worker (default 1: the pod's
// nvidia.com/gpu, each cut into the model's slots_per_gpu slots). The rest (API settings, processing model, lease, timeouts) is the
// embedded plan topology's.
package pod

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dailydoco/ddp-verify/platform/datatier"
	"github.com/dailydoco/ddp-verify/platform/node"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// Services are the services a pod can run: the topology's four and the data tier.
var Services = []string{topology.ServiceAPI, topology.ServiceDashboard, topology.ServiceVideoWorker, topology.ServiceAIWorker, ServiceDataTier}

// ServiceDataTier is the data tier's service name.
const ServiceDataTier = "datatier"

// DataTierPort is the data tier's default port, the plan's.
const DataTierPort = 5432

// Run runs service until ctx is done, configured by getenv; ready is called once it serves.
func Run(ctx context.Context, service string, getenv func(string) string, log *slog.Logger, ready func()) error {
	env := environment{get: getenv, errs: new([]string)}
	topo := topology.Default()
	ip := env.required("POD_IP")
	if service == ServiceDataTier {
		spec := datatier.Spec{
			Addr:   net.JoinHostPort(ip, strconv.Itoa(env.port(DataTierPort))),
			DBPath: filepath.Join(env.or("DDP_DATA_DIR", "."), "dailydoco.db"),
			Lease:  topo.Timing.Lease.D(), MaxAttempts: 5, Model: topo.Model,
			Token: env.required("DDP_DATATIER_TOKEN"), HTTP: topo.HTTP.Timeouts(),
		}
		if err := env.err(); err != nil {
			return err
		}
		return datatier.Run(ctx, spec, log, ready)
	}
	spec, err := nodeSpec(service, env, topo)
	if err != nil {
		return err
	}
	return node.New(spec, log).Run(ctx, ready)
}

// nodeSpec is a node of one replica: the pod's service, named after the pod.
func nodeSpec(service string, env environment, topo *topology.Topology) (node.Spec, error) {
	spec := node.Spec{
		Name: env.required("NODE_NAME"), IP: env.required("POD_IP"),
		DataTierURL: env.required("DDP_DATATIER_URL"), DataTierToken: env.required("DDP_DATATIER_TOKEN"),
		API: topo.API, Model: topo.Model, Lease: topo.Timing.Lease.D(), HTTP: topo.HTTP.Timeouts(),
		Incarnation: env.required("POD_NAME"),
	}
	replica := topology.Replica{Service: service, Name: env.required("POD_NAME"), Node: spec.Name}
	switch service {
	case topology.ServiceAPI:
		spec.Secret = []byte(env.required("DDP_SIGNING_SECRET"))
		replica.Port = env.port(topology.APIPort)
	case topology.ServiceDashboard:
		replica.Port = env.port(topology.DashboardPort)
	case topology.ServiceVideoWorker:
		spec.GPUSlots = env.int("DDP_GPUS", 1) * topo.Model.SlotsPerGPU
		spec.AgentPort = env.port(topology.AgentPort)
	case topology.ServiceAIWorker:
		spec.AgentPort = env.port(topology.AgentPort)
	default:
		return node.Spec{}, fmt.Errorf("pod: unknown service %q (want one of %s)", service, strings.Join(Services, ", "))
	}
	spec.Replicas = []topology.Replica{replica}
	return spec, env.err()
}

// environment reads variables and collects what is missing or malformed in errs.
type environment struct {
	get  func(string) string
	errs *[]string
}

func (e environment) fail(msg string) { *e.errs = append(*e.errs, msg) }

func (e environment) required(name string) string {
	v := e.get(name)
	if v == "" {
		e.fail("$" + name + " is not set")
	}
	return v
}

func (e environment) or(name, def string) string {
	if v := e.get(name); v != "" {
		return v
	}
	return def
}

func (e environment) int(name string, def int) int {
	v := e.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		e.fail(fmt.Sprintf("$%s is %q, want a positive whole number", name, v))
	}
	return n
}

func (e environment) port(def int) int {
	p := e.int("DDP_HTTP_PORT", def)
	if p > 65535 {
		e.fail(fmt.Sprintf("$DDP_HTTP_PORT is %d, not a port", p))
	}
	return p
}

func (e environment) err() error {
	if len(*e.errs) == 0 {
		return nil
	}
	return errors.New("pod environment: " + strings.Join(*e.errs, "; "))
}
