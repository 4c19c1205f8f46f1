package cluster

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dailydoco/ddp-verify/platform/cost"
	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/node"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// This file is the node lifecycle, as Kubernetes runs it on EKS: nodes heartbeat; a node
// without a heartbeat for the grace period is NotReady; after the eviction delay its API and
// dashboard replicas are rescheduled on Ready nodes of the same pool with room for them
// (workers hold the node's GPU or AI slots and never move); the cluster autoscaler adds a node
// after its provisioning delay when work is pending, and removes idle ones.

// costNodes lists every provisioned node for the cost exporter, whatever its state: a node
// costs from the moment it is provisioned until it is removed.
func (c *Cluster) costNodes() []cost.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]cost.Node, 0, len(c.nodes))
	for _, ns := range c.nodes {
		out = append(out, cost.Node{Name: ns.Name, InstanceType: ns.InstanceType, Zone: ns.Zone, Pool: ns.Pool})
	}
	return out
}

// heartbeat records a node's report.
func (c *Cluster) heartbeat(w http.ResponseWriter, r *http.Request) {
	var hb node.Heartbeat
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&hb); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	c.mu.Lock()
	if ns := c.node(hb.Node); ns != nil && ns.fault == "" {
		ns.lastHeartbeat, ns.provisioning, ns.busySlots, ns.registered = now, false, hb.BusySlots, true
		c.refresh(ns, now)
		for name, n := range hb.Served {
			c.hpa.served[name] = n
		}
	}
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (c *Cluster) node(name string) *nodeState {
	for _, ns := range c.nodes {
		if ns.Name == name {
			return ns
		}
	}
	return nil
}

// refresh recomputes a node's Ready condition and state at now; c.mu is held.
func (c *Cluster) refresh(ns *nodeState, now time.Time) {
	ready := !ns.provisioning && !ns.lastHeartbeat.IsZero() && now.Sub(ns.lastHeartbeat) <= c.topo.Timing.NodeGracePeriod.D()
	if ready != ns.ready {
		ns.ready = ready
		if ready {
			ns.notReadyAt = time.Time{}
		} else {
			ns.notReadyAt = now
		}
	}
	state := StateReady
	switch {
	case ns.fault == faultKill || ns.fault == faultPowerLoss:
		state = StateKilled
	case ns.fault == faultPartition:
		state = StatePartitioned
	case ns.provisioning:
		state = StateProvisioning
	case !ready:
		state = StateNotReady
	}
	if state != ns.state {
		c.log.Info("node state", "node", ns.Name, "from", ns.state, "to", state)
		ns.state, ns.since = state, now
	}
}

// monitor runs the lifecycle until ctx is done.
func (c *Cluster) monitor(ctx context.Context) {
	tick := max(c.topo.Timing.HeartbeatInterval.D()/2, 20*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.step(ctx, time.Now())
	}
}

// step is one pass of the lifecycle at now.
func (c *Cluster) step(ctx context.Context, now time.Time) {
	var waiting map[string]int
	if c.topo.Autoscaler.Enabled {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		if st, err := c.DataTier().Stats(sctx); err == nil {
			waiting = st.Waiting
		}
		cancel()
	}
	c.mu.Lock()
	var start []*nodeState
	var removed []*nodeState
	for _, ns := range c.nodes {
		c.refresh(ns, now)
		if !ns.ready && !ns.notReadyAt.IsZero() && now.Sub(ns.notReadyAt) >= c.topo.Timing.EvictionDelay.D() {
			c.evict(ns)
		}
		if ns.proc == nil && ns.fault == "" && !ns.starting && !ns.startAt.IsZero() && !now.Before(ns.startAt) {
			ns.starting = true
			start = append(start, ns)
		}
	}
	if now.Sub(c.hpa.at) >= c.topo.Autoscaler.HPASyncPeriod.D() {
		c.scaleReplicas(now)
	}
	c.schedulePending()
	if c.topo.Autoscaler.Enabled && waiting != nil {
		removed = c.autoscale(now, waiting)
	}
	push := c.gwDirty
	c.gwDirty = false
	backends := c.backendsLocked()
	c.mu.Unlock()

	for _, ns := range start {
		c.background.Add(1)
		go func() {
			defer c.background.Done()
			c.provision(ns)
		}()
	}
	for _, ns := range removed {
		if ns.proc != nil {
			c.background.Add(1)
			go func() {
				defer c.background.Done()
				ns.proc.stop(c.topo.Timing.StopGrace.D())
			}()
		}
	}
	if len(removed) > 0 {
		if err := c.writeFileSD(); err != nil {
			c.log.Warn("file_sd", "err", err)
		}
	}
	if push {
		c.pushBackends(ctx, backends)
	}
}

// provision starts the process of a node the autoscaler added.
func (c *Cluster) provision(ns *nodeState) {
	ctx, cancel := context.WithTimeout(context.Background(), c.topo.Timing.StartTimeout.D())
	defer cancel()
	err := c.startNode(ctx, ns)
	c.mu.Lock()
	ns.starting = false
	if err != nil {
		c.log.Warn("provision node", "node", ns.Name, "err", err)
		ns.startAt = time.Now().Add(time.Second) // try again
	}
	c.gwDirty = true
	c.mu.Unlock()
}

// evict takes a NotReady node's API and dashboard replicas off it and queues them for
// rescheduling; c.mu is held.
func (c *Cluster) evict(ns *nodeState) {
	var keep []topology.Replica
	for _, r := range ns.replicas {
		if topology.IsWorker(r.Service) {
			keep = append(keep, r)
			continue
		}
		c.log.Info("evict replica", "replica", r.Name, "node", ns.Name)
		if ns.proc != nil && ns.proc.alive() {
			// A partitioned node still hears the supervisor on stdin, as a kubelet that comes
			// back learns that its pods were deleted.
			_ = ns.proc.send(cmdReplicaRemove + r.Name)
		}
		r.Node, r.Port = "", 0
		c.pending = append(c.pending, r)
		c.gwDirty = true
	}
	ns.replicas = keep
}

// schedulable reports whether replicas may be placed on ns; c.mu is held.
func (c *Cluster) schedulable(ns *nodeState) bool {
	return ns.ready && ns.state == StateReady && !c.zoneDown[ns.Zone] && ns.proc != nil && ns.proc.alive()
}

func stateless(rs []topology.Replica) int {
	n := 0
	for _, r := range rs {
		if !topology.IsWorker(r.Service) {
			n++
		}
	}
	return n
}

// schedulePending places pending replicas on the schedulable node of their service's pool with
// the fewest replicas and room for one more; the rest stay pending. c.mu is held.
func (c *Cluster) schedulePending() {
	var still []topology.Replica
	for _, r := range c.pending {
		svc := c.topo.Service(r.Service)
		var best *nodeState
		for _, ns := range c.nodes {
			if ns.Pool != svc.Pool || !c.schedulable(ns) {
				continue
			}
			if stateless(ns.replicas) >= topology.InstanceTypes[ns.InstanceType].MaxReplicas() {
				continue
			}
			if best == nil || stateless(ns.replicas) < stateless(best.replicas) {
				best = ns
			}
		}
		if best == nil {
			still = append(still, r)
			continue
		}
		r.Node = best.Name
		r.Port = max(best.ports[r.Service], topology.ServicePort(r.Service))
		best.ports[r.Service] = r.Port + 1
		b, _ := json.Marshal(r)
		if err := best.proc.send(cmdReplicaAdd + string(b)); err != nil {
			still = append(still, topology.Replica{Service: r.Service, Name: r.Name})
			continue
		}
		c.log.Info("schedule replica", "replica", r.Name, "node", best.Name, "port", r.Port)
		best.replicas = append(best.replicas, r)
		c.gwDirty = true
	}
	c.pending = still
}

// pushBackends tells the gateway where the API and dashboard replicas are now.
func (c *Cluster) pushBackends(ctx context.Context, backends any) {
	cl := jsonhttp.Client{BaseURL: c.gatewayAdmin, Header: http.Header{"Authorization": {"Bearer " + c.adminToken}}}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := cl.Do(pctx, http.MethodPut, "/backends", backends, nil); err != nil {
		c.log.Warn("update gateway backends", "err", err)
		c.mu.Lock()
		c.gwDirty = true // try again next step
		c.mu.Unlock()
	}
}

// autoscale adds a node to a pool with pending work, or removes one idle node above the pool's
// min; it returns the removed nodes. c.mu is held.
func (c *Cluster) autoscale(now time.Time, waiting map[string]int) []*nodeState {
	as := c.topo.Autoscaler
	var removed []*nodeState
	for i := range c.topo.Pools {
		p := &c.topo.Pools[i]
		var members []*nodeState
		readySlots, provisioning := 0, false
		for _, ns := range c.nodes {
			if ns.Pool != p.Name {
				continue
			}
			members = append(members, ns)
			if ns.ready {
				readySlots += c.topo.GPUSlots(ns.InstanceType)
			}
			if ns.provisioning && ns.fault == "" {
				provisioning = true
			}
		}
		gpu := topology.InstanceTypes[p.InstanceType].GPUs > 0
		pendingHere := slices.ContainsFunc(c.pending, func(r topology.Replica) bool { return c.topo.Service(r.Service).Pool == p.Name })
		wantMore := pendingHere || (gpu && float64(waiting["gpu"]) > as.QueuePerSlot*float64(max(readySlots, 1)))
		switch {
		case !wantMore:
			delete(c.pressure, p.Name)
		case c.pressure[p.Name].IsZero():
			c.pressure[p.Name] = now
		}
		if wantMore && !provisioning && len(members) < p.Max && now.Sub(c.pressure[p.Name]) >= as.ScaleUpAfter.D() {
			if ns := c.addNode(p, now); ns != nil {
				delete(c.pressure, p.Name)
				c.lifecycle.actions.WithLabelValues(p.Name, "scale_up").Inc()
				c.log.Info("autoscaler adds a node", "pool", p.Name, "node", ns.Name, "ready_at", ns.startAt)
			}
			continue
		}
		// Scale down the newest idle node above min.
		if wantMore || len(members) <= p.Min {
			continue
		}
		for _, ns := range members {
			idle := ns.ready && ns.state == StateReady && ns.busySlots == 0 && stateless(ns.replicas) == 0 && (!gpu || waiting["gpu"] == 0)
			switch {
			case !idle:
				ns.idleSince = time.Time{}
			case ns.idleSince.IsZero():
				ns.idleSince = now
			}
		}
		for k := len(members) - 1; k >= 0; k-- {
			ns := members[k]
			if !ns.idleSince.IsZero() && now.Sub(ns.idleSince) >= as.ScaleDownIdle.D() {
				c.removeNode(ns)
				removed = append(removed, ns)
				c.lifecycle.actions.WithLabelValues(p.Name, "scale_down").Inc()
				c.log.Info("autoscaler removes a node", "pool", p.Name, "node", ns.Name)
				break
			}
		}
	}
	return removed
}

// addNode provisions a node in pool p, in the schedulable zone with the fewest of its nodes;
// its process starts after the provisioning delay. c.mu is held.
func (c *Cluster) addNode(p *topology.Pool, now time.Time) *nodeState {
	if 10+c.nextIndex > 254 {
		return nil
	}
	perZone := map[string]int{}
	maxN := map[string]int{}
	for _, ns := range c.nodes {
		if ns.Pool == p.Name {
			perZone[ns.Zone]++
			n, _ := strconv.Atoi(ns.Name[strings.LastIndexByte(ns.Name, '-')+1:])
			maxN[ns.Zone] = max(maxN[ns.Zone], n)
		}
	}
	var zones []string
	for _, z := range c.topo.PoolZones(p) {
		if !c.zoneDown[z] {
			zones = append(zones, z)
		}
	}
	if len(zones) == 0 {
		return nil
	}
	sort.SliceStable(zones, func(i, j int) bool { return perZone[zones[i]] < perZone[zones[j]] })
	z := zones[0]
	n := topology.Node{Name: topology.NodeName(p.Name, z, maxN[z]+1), Pool: p.Name, Zone: z, InstanceType: p.InstanceType, Index: c.nextIndex}
	c.nextIndex++
	ns := &nodeState{Node: n, ip: c.addr(10 + n.Index), provisioning: true, startAt: now.Add(p.Provisioning()), ports: map[string]int{}}
	// Workers run on every node of their pool, as DaemonSets do.
	for _, s := range c.topo.Services {
		if s.Pool == p.Name && topology.IsWorker(s.Name) {
			ns.replicas = append(ns.replicas, topology.Replica{Service: s.Name, Name: s.Name + "-" + n.Name, Node: n.Name})
		}
	}
	c.nodes = append(c.nodes, ns)
	c.refresh(ns, now)
	go func() {
		if err := c.writeFileSD(); err != nil {
			c.log.Warn("file_sd", "err", err)
		}
	}()
	return ns
}

// removeNode deprovisions ns (its process is stopped by the caller); c.mu is held.
func (c *Cluster) removeNode(ns *nodeState) {
	c.nodes = slices.DeleteFunc(c.nodes, func(x *nodeState) bool { return x == ns })
	for _, r := range ns.replicas {
		if !topology.IsWorker(r.Service) {
			c.pending = append(c.pending, topology.Replica{Service: r.Service, Name: r.Name})
			c.gwDirty = true
		}
	}
}

// lifecycleMetrics exposes node states, replicas and autoscaler actions from the supervisor.
type lifecycleMetrics struct {
	c                                      *Cluster
	ready, state, replicas, pending, nodes *prometheus.Desc
	desired                                *prometheus.Desc
	// condition is node readiness under kube-state-metrics' name, for the alert rules.
	condition *prometheus.Desc
	actions   *prometheus.CounterVec
	changes   *prometheus.CounterVec
}

func newLifecycleMetrics(c *Cluster) *lifecycleMetrics {
	nl := []string{"node", "zone", "pool"}
	return &lifecycleMetrics{
		c:        c,
		ready:    prometheus.NewDesc("ddp_platform_node_ready", "1 if the node is Ready (heartbeats within the grace period).", nl, nil),
		state:    prometheus.NewDesc("ddp_platform_node_state", "1 for the node's current state.", append(nl, "state"), nil),
		replicas: prometheus.NewDesc("ddp_platform_replicas", "Replicas placed per service and node.", []string{"service", "node", "zone", "pool"}, nil),
		pending:  prometheus.NewDesc("ddp_platform_pending_replicas", "Replicas waiting for a node with room (unschedulable).", []string{"service"}, nil),
		nodes:    prometheus.NewDesc("ddp_platform_nodes", "Provisioned nodes per pool.", []string{"pool"}, nil),
		desired:  prometheus.NewDesc("ddp_platform_hpa_desired_replicas", "Replicas the horizontal autoscaler wants per service.", []string{"service"}, nil),
		condition: prometheus.NewDesc("kube_node_status_condition", "The node's Ready condition, 1 for its status (kube-state-metrics' name).",
			append(nl, "condition", "status"), nil),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddp_platform_autoscaler_actions_total", Help: "Nodes the autoscaler added (scale_up) or removed (scale_down).",
		}, []string{"pool", "action"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ddp_platform_changes_total", Help: "Changes applied through the control API, by action.",
		}, []string{"action"}),
	}
}

func (m *lifecycleMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.ready, m.state, m.replicas, m.pending, m.nodes, m.desired, m.condition} {
		ch <- d
	}
	m.actions.Describe(ch)
	m.changes.Describe(ch)
}

func (m *lifecycleMetrics) Collect(ch chan<- prometheus.Metric) {
	c := m.c
	c.mu.Lock()
	pools := map[string]int{}
	for _, p := range c.topo.Pools {
		pools[p.Name] = 0
	}
	pending := map[string]int{}
	for _, s := range c.topo.Services {
		if !topology.IsWorker(s.Name) {
			pending[s.Name] = 0
		}
	}
	for _, r := range c.pending {
		pending[r.Service]++
	}
	for svc, n := range c.hpa.desired {
		ch <- prometheus.MustNewConstMetric(m.desired, prometheus.GaugeValue, float64(n), svc)
	}
	for _, ns := range c.nodes {
		pools[ns.Pool]++
		v := 0.0
		if ns.ready {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(m.ready, prometheus.GaugeValue, v, ns.Name, ns.Zone, ns.Pool)
		if ns.registered {
			ch <- prometheus.MustNewConstMetric(m.condition, prometheus.GaugeValue, v, ns.Name, ns.Zone, ns.Pool, "Ready", "true")
			ch <- prometheus.MustNewConstMetric(m.condition, prometheus.GaugeValue, 1-v, ns.Name, ns.Zone, ns.Pool, "Ready", "false")
		}
		ch <- prometheus.MustNewConstMetric(m.state, prometheus.GaugeValue, 1, ns.Name, ns.Zone, ns.Pool, ns.state)
		per := map[string]int{}
		for _, r := range ns.replicas {
			per[r.Service]++
		}
		for svc, n := range per {
			ch <- prometheus.MustNewConstMetric(m.replicas, prometheus.GaugeValue, float64(n), svc, ns.Name, ns.Zone, ns.Pool)
		}
	}
	c.mu.Unlock()
	for svc, n := range pending {
		ch <- prometheus.MustNewConstMetric(m.pending, prometheus.GaugeValue, float64(n), svc)
	}
	for p, n := range pools {
		ch <- prometheus.MustNewConstMetric(m.nodes, prometheus.GaugeValue, float64(n), p)
	}
	m.actions.Collect(ch)
	m.changes.Collect(ch)
}
