package cluster

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"syscall"
	"time"

	"github.com/dailydoco/ddp-verify/platform/jsonhttp"
	"github.com/dailydoco/ddp-verify/platform/topology"
)

// Faults a node can carry, applied through the control API.
const (
	faultKill      = "kill"
	faultPartition = "partition"
	faultPowerLoss = "power-loss"
)

// Change is one change the supervisor applied (docs/control-api.md).
type Change struct {
	ID     int64  `json:"id"`
	Action string `json:"action"` // kill, partition, restore, power-loss
	Target string `json:"target"` // the node or zone named in the request
	// Targets is the exact blast radius: every node affected.
	Targets []string  `json:"targets"`
	At      time.Time `json:"at"`
}

// ControlURL is the base URL of the control API (docs/control-api.md).
func (c *Cluster) ControlURL() string { return "http://" + hostPort(c.addr(3), ControlPort) }

// ControlToken is the control API's bearer token, new for every cluster.
func (c *Cluster) ControlToken() string { return c.controlToken }

// Changes returns every change so far, oldest first.
func (c *Cluster) Changes() []Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.changes)
}

// record appends a change; c.mu is held.
func (c *Cluster) record(action, target string, targets []string, at time.Time) Change {
	ch := Change{ID: int64(len(c.changes) + 1), Action: action, Target: target, Targets: targets, At: at.UTC()}
	if ch.Targets == nil {
		ch.Targets = []string{}
	}
	c.changes = append(c.changes, ch)
	c.lifecycle.changes.WithLabelValues(action).Inc()
	c.log.Info("change", "id", ch.ID, "action", action, "target", target, "targets", targets)
	return ch
}

func errUnknownNode(name string) error {
	return jsonhttp.Errorf(http.StatusNotFound, "unknown_node", "no node %q; GET /v1/topology lists them", name)
}

func errUnknownZone(zone string) error {
	return jsonhttp.Errorf(http.StatusNotFound, "unknown_zone", "no zone %q; GET /v1/topology lists them", zone)
}

func errAlreadyFaulted(what string, fault string) error {
	return jsonhttp.Errorf(http.StatusConflict, "already_faulted", "%s is already faulted (%s); restore it first", what, fault)
}

// Kill SIGKILLs the node's process, as a node dying does: connections reset, work in progress
// lost. The node stays down until restored. Errors are *jsonhttp.Error: 404 unknown_node,
// 409 already_faulted.
func (c *Cluster) Kill(name string) error {
	_, err := c.KillNode(name)
	return err
}

// KillNode is Kill, returning the change.
func (c *Cluster) KillNode(name string) (Change, error) {
	c.mu.Lock()
	ns := c.node(name)
	if ns == nil {
		c.mu.Unlock()
		return Change{}, errUnknownNode(name)
	}
	if ns.fault != "" {
		c.mu.Unlock()
		return Change{}, errAlreadyFaulted("node "+name, ns.fault)
	}
	ns.fault = faultKill
	p := ns.proc
	at := c.sigkill(ns)
	ch := c.record("kill", name, []string{name}, at)
	c.mu.Unlock()
	if p != nil {
		<-p.done
	}
	return ch, nil
}

// sigkill marks ns down and kills its process without waiting; c.mu is held.
func (c *Cluster) sigkill(ns *nodeState) time.Time {
	if ns.proc != nil {
		ns.proc.signal(syscall.SIGKILL)
	}
	now := time.Now()
	c.refresh(ns, now)
	return now
}

// PartitionNode cuts the node off: its process lives, but nothing reaches it and it reaches
// nothing (neither the data tier nor other zones nor the supervisor's heartbeat endpoint).
func (c *Cluster) PartitionNode(name string) (Change, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := c.node(name)
	if ns == nil {
		return Change{}, errUnknownNode(name)
	}
	if ns.fault != "" {
		return Change{}, errAlreadyFaulted("node "+name, ns.fault)
	}
	if ns.proc == nil || !ns.proc.alive() {
		return Change{}, jsonhttp.Errorf(http.StatusConflict, "not_running", "node %s has no running process to partition", name)
	}
	at := c.partition(ns)
	return c.record("partition", name, []string{name}, at), nil
}

// partition raises ns's fence; c.mu is held.
func (c *Cluster) partition(ns *nodeState) time.Time {
	ns.fault = faultPartition
	if ns.proc != nil {
		_ = ns.proc.send(cmdPartitionOn) // a dead process needs no fence
	}
	now := time.Now()
	c.refresh(ns, now)
	return now
}

// RestoreNode undoes a kill (the process restarts) or a partition. Errors: 404 unknown_node,
// 409 not_faulted, 409 zone_faulted (restore the zone instead). Under the ignore_restores
// defect (topology.Defects) a restore it accepts is recorded and answered, and changes nothing.
func (c *Cluster) RestoreNode(name string) (Change, error) {
	c.mu.Lock()
	ns := c.node(name)
	if ns == nil {
		c.mu.Unlock()
		return Change{}, errUnknownNode(name)
	}
	switch {
	case ns.fault == "":
		c.mu.Unlock()
		return Change{}, jsonhttp.Errorf(http.StatusConflict, "not_faulted", "node %s is not faulted; nothing to restore", name)
	case ns.fault == faultPowerLoss || ns.zoneFault:
		c.mu.Unlock()
		return Change{}, jsonhttp.Errorf(http.StatusConflict, "zone_faulted", "node %s went down with zone %s; restore the zone", name, ns.Zone)
	case c.topo.Defects.IgnoreRestores:
		defer c.mu.Unlock()
		return c.ignoredRestore(name, []string{name}), nil
	}
	c.mu.Unlock()
	at, err := c.restore(ns)
	if err != nil {
		return Change{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.record("restore", name, []string{name}, at), nil
}

// ignoredRestore answers a valid restore of target under the ignore_restores defect: the
// change is recorded and returned as if applied, and nothing is restored. c.mu is held.
func (c *Cluster) ignoredRestore(target string, targets []string) Change {
	c.log.Warn("restore ignored (defect ignore_restores)", "target", target, "targets", targets)
	return c.record("restore", target, targets, time.Now())
}

// restore brings one faulted node back; c.mu is not held.
func (c *Cluster) restore(ns *nodeState) (time.Time, error) {
	c.mu.Lock()
	fault, p := ns.fault, ns.proc
	c.mu.Unlock()
	if fault == faultPartition {
		c.mu.Lock()
		defer c.mu.Unlock()
		if p != nil {
			_ = p.send(cmdPartitionOff)
		}
		ns.fault, ns.zoneFault = "", false
		now := time.Now()
		c.refresh(ns, now)
		return now, nil
	}
	// A killed node restarts with the replicas still placed on it (the evicted ones went
	// elsewhere); it is Provisioning until its first heartbeat.
	if p != nil {
		<-p.done
	}
	c.mu.Lock()
	ns.fault, ns.zoneFault, ns.proc = "", false, nil
	ns.provisioning, ns.lastHeartbeat = true, time.Time{}
	now := time.Now()
	if ns.startAt.After(now) {
		// The autoscaler was still provisioning it: it joins when that is done.
		c.refresh(ns, now)
		c.mu.Unlock()
		return now, nil
	}
	ns.starting = true
	c.refresh(ns, now)
	c.background.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.background.Done()
		c.provision(ns)
	}()
	return now, nil
}

// ZonePowerLoss kills every node of the zone and keeps the zone unschedulable until restored.
func (c *Cluster) ZonePowerLoss(zone string) (Change, error) {
	if !slices.Contains(c.topo.Zones, zone) {
		return Change{}, errUnknownZone(zone)
	}
	c.mu.Lock()
	if c.zoneDown[zone] || c.zonePartitioned[zone] {
		c.mu.Unlock()
		return Change{}, errAlreadyFaulted("zone "+zone, "restore it first")
	}
	c.zoneDown[zone] = true
	var targets []string
	var procs []*proc
	at := time.Now()
	for _, ns := range c.nodes {
		if ns.Zone != zone {
			continue
		}
		targets = append(targets, ns.Name)
		if ns.proc != nil {
			procs = append(procs, ns.proc)
		}
		ns.fault, ns.zoneFault = faultPowerLoss, true
		at = c.sigkill(ns)
	}
	if c.topo.DataTier.Zone == zone && c.datatier != nil {
		// The data tier runs in this zone (topology data_tier.zone): it loses power too. Its
		// database file is durable, so what it had committed is there when it restarts.
		targets = append(targets, RoleDataTier)
		procs = append(procs, c.datatier)
		c.datatier.signal(syscall.SIGKILL)
		c.datatierDown = true
		at = time.Now()
	}
	ch := c.record("power-loss", zone, targets, at)
	c.mu.Unlock()
	for _, p := range procs {
		<-p.done
	}
	return ch, nil
}

// restartDataTier brings the data tier back after a power loss of its zone, on the same
// address and database file.
func (c *Cluster) restartDataTier() (time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dt, err := c.spawn(ctx, RoleDataTier, RoleDataTier, c.dtSpec)
	if err != nil {
		return time.Time{}, fmt.Errorf("restart the data tier: %w", err)
	}
	c.mu.Lock()
	c.datatier, c.datatierDown = dt, false
	c.mu.Unlock()
	return time.Now(), nil
}

// PartitionZone isolates every node of the zone from the rest and from the data tier.
func (c *Cluster) PartitionZone(zone string) (Change, error) {
	if !slices.Contains(c.topo.Zones, zone) {
		return Change{}, errUnknownZone(zone)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.zoneDown[zone] || c.zonePartitioned[zone] {
		return Change{}, errAlreadyFaulted("zone "+zone, "restore it first")
	}
	c.zonePartitioned[zone] = true
	var targets []string
	at := time.Now()
	for _, ns := range c.nodes {
		if ns.Zone != zone || ns.fault != "" {
			continue // a node already down stays as it is
		}
		targets = append(targets, ns.Name)
		at = c.partition(ns)
		ns.zoneFault = true
	}
	return c.record("partition", zone, targets, at), nil
}

// RestoreZone undoes a power-loss (the zone's nodes restart and it is schedulable again) or a
// partition of the zone. Under the ignore_restores defect a restore it accepts is recorded and
// answered, and changes nothing: the zone and its nodes stay down.
func (c *Cluster) RestoreZone(zone string) (Change, error) {
	if !slices.Contains(c.topo.Zones, zone) {
		return Change{}, errUnknownZone(zone)
	}
	c.mu.Lock()
	if !c.zoneDown[zone] && !c.zonePartitioned[zone] {
		c.mu.Unlock()
		return Change{}, jsonhttp.Errorf(http.StatusConflict, "not_faulted", "zone %s is not faulted; nothing to restore", zone)
	}
	var nodes []*nodeState
	for _, ns := range c.nodes {
		if ns.Zone == zone && ns.zoneFault {
			nodes = append(nodes, ns)
		}
	}
	if c.topo.Defects.IgnoreRestores {
		defer c.mu.Unlock()
		var targets []string
		if c.datatierDown && c.topo.DataTier.Zone == zone {
			targets = append(targets, RoleDataTier)
		}
		for _, ns := range nodes {
			targets = append(targets, ns.Name)
		}
		return c.ignoredRestore(zone, targets), nil
	}
	delete(c.zoneDown, zone)
	delete(c.zonePartitioned, zone)
	dtDown := c.datatierDown && c.topo.DataTier.Zone == zone
	c.mu.Unlock()
	var targets []string
	at := time.Now()
	if dtDown {
		// The data tier first: the zone's nodes need it as they start.
		t, err := c.restartDataTier()
		if err != nil {
			return Change{}, err
		}
		targets, at = append(targets, RoleDataTier), t
	}
	for _, ns := range nodes {
		t, err := c.restore(ns)
		if err != nil {
			return Change{}, fmt.Errorf("restore %s: %w", ns.Name, err)
		}
		targets, at = append(targets, ns.Name), t
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.record("restore", zone, targets, at), nil
}

// controlHandler serves the control API.
func (c *Cluster) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/topology", func(w http.ResponseWriter, r *http.Request) {
		jsonhttp.Write(w, http.StatusOK, c.topologyView())
	})
	mux.HandleFunc("GET /v1/changes", func(w http.ResponseWriter, r *http.Request) {
		jsonhttp.Write(w, http.StatusOK, map[string][]Change{"changes": c.Changes()})
	})
	actions := map[string]func(string) (Change, error){
		"nodes/kill": c.KillNode, "nodes/partition": c.PartitionNode, "nodes/restore": c.RestoreNode,
		"zones/power-loss": c.ZonePowerLoss, "zones/partition": c.PartitionZone, "zones/restore": c.RestoreZone,
	}
	for _, kind := range []string{"nodes", "zones"} {
		mux.HandleFunc("POST /v1/"+kind+"/{target}/{action}", func(w http.ResponseWriter, r *http.Request) {
			act := actions[kind+"/"+r.PathValue("action")]
			if act == nil {
				jsonhttp.WriteError(w, jsonhttp.Errorf(http.StatusBadRequest, "unknown_action", "%s support no action %q", kind, r.PathValue("action")))
				return
			}
			ch, err := act(r.PathValue("target"))
			if err != nil {
				jsonhttp.WriteError(w, err)
				return
			}
			jsonhttp.Write(w, http.StatusOK, ch)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		jsonhttp.WriteError(w, jsonhttp.Errorf(http.StatusNotFound, "not_found", "no route %s %s (docs/control-api.md)", r.Method, r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !jsonhttp.Bearer(r, c.controlToken) {
			jsonhttp.WriteError(w, jsonhttp.Errorf(http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <token> with the token `platform up` printed"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// TopologyView is GET /v1/topology.
type TopologyView struct {
	Zones []string        `json:"zones"`
	Pools []topology.Pool `json:"pools"`
	Nodes []NodeInfo      `json:"nodes"`
	// Unschedulable zones (power-loss).
	ZonesDown []string `json:"zones_down"`
}

func (c *Cluster) topologyView() TopologyView {
	v := TopologyView{Zones: c.topo.Zones, Pools: c.topo.Pools, Nodes: c.Nodes(), ZonesDown: []string{}}
	c.mu.Lock()
	for _, z := range c.topo.Zones {
		if c.zoneDown[z] {
			v.ZonesDown = append(v.ZonesDown, z)
		}
	}
	c.mu.Unlock()
	return v
}
