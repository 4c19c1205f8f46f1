package cluster

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/platform/topology"
)

// hpaState is the horizontal autoscaler's memory.
type hpaState struct {
	at       time.Time            // last evaluation
	served   map[string]uint64    // requests served per replica, from heartbeats
	last     map[string]uint64    // the same at the last evaluation
	seq      map[string]int       // last replica number per service
	lowSince map[string]time.Time // since when fewer replicas would do
	desired  map[string]int
}

// replicaNumber is the n of "api-n".
func replicaNumber(name string) int {
	n, _ := strconv.Atoi(name[strings.LastIndexByte(name, '-')+1:])
	return n
}

// scaleReplicas sets each autoscaled service's replica count from its request rate since the
// last evaluation, as the Kubernetes HPA does from a metric: desired = ceil(rate / target),
// between the service's replicas and max_replicas, scaling down only after fewer replicas have
// sufficed for HPAScaleDownAfter. c.mu is held.
func (c *Cluster) scaleReplicas(now time.Time) {
	h := &c.hpa
	dt := now.Sub(h.at).Seconds()
	first := h.at.IsZero()
	h.at = now
	defer func() { h.last = cloneCounts(h.served) }()
	if first {
		return
	}
	for _, svc := range c.topo.Services {
		if svc.MaxReplicas == 0 {
			continue
		}
		var placed []topology.Replica
		owner := map[string]*nodeState{}
		for _, ns := range c.nodes {
			for _, r := range ns.replicas {
				if r.Service == svc.Name {
					placed = append(placed, r)
					owner[r.Name] = ns
				}
			}
		}
		var pending []topology.Replica
		for _, r := range c.pending {
			if r.Service == svc.Name {
				pending = append(pending, r)
			}
		}
		var served float64
		for _, r := range placed {
			now, last := h.served[r.Name], h.last[r.Name]
			if now < last { // the node restarted: its counter did too
				last = 0
			}
			served += float64(now - last)
		}
		current := len(placed) + len(pending)
		desired := int(math.Ceil(served / dt / svc.TargetRPS))
		desired = min(max(desired, svc.Replicas), svc.MaxReplicas)
		h.desired[svc.Name] = desired
		switch {
		case desired > current:
			delete(h.lowSince, svc.Name)
			h.seq[svc.Name] = max(h.seq[svc.Name], svc.Replicas)
			for _, r := range append(placed, pending...) {
				h.seq[svc.Name] = max(h.seq[svc.Name], replicaNumber(r.Name))
			}
			for i := current; i < desired; i++ {
				h.seq[svc.Name]++
				c.pending = append(c.pending, topology.Replica{Service: svc.Name, Name: svc.Name + "-" + strconv.Itoa(h.seq[svc.Name])})
			}
			c.log.Info("hpa scales up", "service", svc.Name, "from", current, "to", desired, "rps", served/dt)
		case desired < current:
			if h.lowSince[svc.Name].IsZero() {
				h.lowSince[svc.Name] = now
			}
			if now.Sub(h.lowSince[svc.Name]) < c.topo.Autoscaler.HPAScaleDownAfter.D() {
				continue
			}
			delete(h.lowSince, svc.Name)
			// Remove pending replicas first, then the newest placed ones.
			drop := current - desired
			for drop > 0 && len(pending) > 0 {
				last := pending[len(pending)-1]
				c.pending = slices.DeleteFunc(c.pending, func(r topology.Replica) bool { return r.Name == last.Name })
				pending = pending[:len(pending)-1]
				drop--
			}
			slices.SortFunc(placed, func(a, b topology.Replica) int { return replicaNumber(b.Name) - replicaNumber(a.Name) })
			for _, r := range placed[:drop] {
				ns := owner[r.Name]
				ns.replicas = slices.DeleteFunc(ns.replicas, func(x topology.Replica) bool { return x.Name == r.Name })
				c.gwDirty = true
				if ns.proc != nil && ns.proc.alive() {
					// Out of the gateway first (this step pushes it), then drained.
					p, name := ns.proc, r.Name
					time.AfterFunc(2*c.topo.Gateway.HealthInterval.D(), func() { _ = p.send(cmdReplicaRemove + name) })
				}
			}
			c.log.Info("hpa scales down", "service", svc.Name, "from", current, "to", desired, "rps", served/dt)
		default:
			delete(h.lowSince, svc.Name)
		}
	}
}

func cloneCounts(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
