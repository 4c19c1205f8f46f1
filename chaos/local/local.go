// Package local is the chaos backend for the embedded reference platform: it kills and
// isolates the platform's node processes through the local cluster supervisor's control API
// (docs/control-api.md). Zone outages map to the zone endpoints (power-loss, partition) and
// node failures to node kills; pod-kill and network-delay have no local equivalent and
// return [chaos.ErrUnsupported]. The supervisor's change times are the backend times.
package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dailydoco/ddp-verify/chaos"
)

// Node is a node as the control API reports it.
type Node struct {
	Name         string    `json:"name"`
	Zone         string    `json:"zone"`
	Pool         string    `json:"pool"`
	InstanceType string    `json:"instance_type"`
	Addr         string    `json:"addr"`
	State        string    `json:"state"`
	Ready        bool      `json:"ready"`
	Since        time.Time `json:"since"`
}

// Topology is the answer of GET /v1/topology.
type Topology struct {
	Zones []string `json:"zones"`
	Nodes []Node   `json:"nodes"`
}

// Change is one change the supervisor applied.
type Change struct {
	ID      int64     `json:"id"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Targets []string  `json:"targets"`
	At      time.Time `json:"at"`
}

// APIError is an error answer of the control API.
type APIError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("control API: %d %s: %s", e.Status, e.Code, e.Message)
}

// Backend acts through the control API. The zero value is not usable; use [New].
type Backend struct {
	base  *url.URL
	token string
	http  *http.Client
	poll  time.Duration
	log   *slog.Logger
}

var _ chaos.Backend = (*Backend)(nil)

// Options configure a [Backend].
type Options struct {
	// HTTPClient defaults to one with a 10s timeout per request.
	HTTPClient *http.Client
	// PollInterval is how often the topology is read while waiting; default 200ms.
	PollInterval time.Duration
	Logger       *slog.Logger
}

// New returns a backend for the control API at baseURL, authenticating with token.
func New(baseURL, token string, opts Options) (*Backend, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("control API base URL %q: want http://HOST:PORT", baseURL)
	}
	if token == "" {
		return nil, errors.New("control API: empty bearer token")
	}
	b := &Backend{base: u, token: token, http: opts.HTTPClient, poll: opts.PollInterval, log: opts.Logger}
	if b.http == nil {
		b.http = &http.Client{Timeout: 10 * time.Second}
	}
	if b.poll <= 0 {
		b.poll = 200 * time.Millisecond
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	return b, nil
}

func (b *Backend) do(ctx context.Context, method, path string, out any) error {
	u := b.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := b.http.Do(req)
	if err != nil {
		return fmt.Errorf("control API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("control API %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error APIError `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
			return fmt.Errorf("control API %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(body))
		}
		e.Error.Status = resp.StatusCode
		return fmt.Errorf("%s %s: %w", method, path, &e.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("control API %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Topology reads the platform's zones and nodes.
func (b *Backend) Topology(ctx context.Context) (Topology, error) {
	var t Topology
	err := b.do(ctx, http.MethodGet, "/v1/topology", &t)
	return t, err
}

func (b *Backend) post(ctx context.Context, path string) (Change, error) {
	var c Change
	err := b.do(ctx, http.MethodPost, path, &c)
	return c, err
}

// Select resolves the nodes a fault hits from the topology.
func (b *Backend) Select(ctx context.Context, f chaos.Fault) (chaos.Impact, error) {
	switch f.Kind {
	case chaos.ZoneOutage, chaos.NodeFailure:
	default:
		return chaos.Impact{}, fmt.Errorf("fault %s: %w: %s on the local platform", f.ID, chaos.ErrUnsupported, f.Kind)
	}
	topo, err := b.Topology(ctx)
	if err != nil {
		return chaos.Impact{}, err
	}
	im := chaos.Impact{TotalNodes: len(topo.Nodes)}
	t := f.Target
	switch {
	case f.Kind == chaos.ZoneOutage:
		for _, n := range topo.Nodes {
			if n.Zone == t.Zone {
				im.Nodes = append(im.Nodes, n.Name)
			}
		}
		if len(im.Nodes) == 0 {
			return chaos.Impact{}, fmt.Errorf("fault %s: zone %q has no nodes (zones: %s)", f.ID, t.Zone, strings.Join(topo.Zones, ", "))
		}
	case t.Node != "":
		if !slices.ContainsFunc(topo.Nodes, func(n Node) bool { return n.Name == t.Node }) {
			return chaos.Impact{}, fmt.Errorf("fault %s: node %q not found", f.ID, t.Node)
		}
		im.Nodes = []string{t.Node}
	default:
		var pool []string
		for _, n := range topo.Nodes {
			if n.Pool == t.Pool && n.Ready {
				pool = append(pool, n.Name)
			}
		}
		sort.Strings(pool)
		if len(pool) < t.Count {
			return chaos.Impact{}, fmt.Errorf("fault %s: pool %q has %d Ready nodes, fault needs %d", f.ID, t.Pool, len(pool), t.Count)
		}
		im.Nodes = pool[:t.Count]
	}
	slices.Sort(im.Nodes)
	return im, nil
}

// state is the handle on one local injection.
type state struct {
	zone    string   // restored as a zone when set
	nodes   []string // restored node by node otherwise
	applied []Change
	want    string // the node state that confirms injection
	targets []string
}

// Inject posts the zone or node changes.
func (b *Backend) Inject(ctx context.Context, f chaos.Fault, im chaos.Impact) (*chaos.Injection, error) {
	st := &state{}
	inj := &chaos.Injection{Fault: f, Impact: im, State: st}
	if f.Kind == chaos.ZoneOutage {
		action := string(f.Target.Mode)
		st.want = map[chaos.ZoneMode]string{chaos.PowerLoss: "Killed", chaos.Partition: "Partitioned"}[f.Target.Mode]
		c, err := b.post(ctx, "/v1/zones/"+url.PathEscape(f.Target.Zone)+"/"+action)
		if err != nil {
			return nil, fmt.Errorf("fault %s: %w", f.ID, err)
		}
		st.zone = f.Target.Zone
		st.applied = append(st.applied, c)
		// A zone's blast radius may include processes that are not nodes (the data tier, when
		// the topology places it in the zone); the supervisor changes those before it answers,
		// so only the nodes' states are waited for.
		topo, err := b.Topology(ctx)
		if err != nil {
			return inj, fmt.Errorf("fault %s: %w", f.ID, err)
		}
		for _, n := range topo.Nodes {
			if slices.Contains(c.Targets, n.Name) {
				st.targets = append(st.targets, n.Name)
			}
		}
		inj.SubmittedAt = c.At
		inj.Objects = []string{fmt.Sprintf("change %d %s zone %s", c.ID, c.Action, f.Target.Zone)}
		return inj, nil
	}
	st.want = "Killed"
	for _, n := range im.Nodes {
		c, err := b.post(ctx, "/v1/nodes/"+url.PathEscape(n)+"/kill")
		if err != nil {
			return inj, fmt.Errorf("fault %s: %w", f.ID, err)
		}
		st.nodes = append(st.nodes, n)
		st.applied = append(st.applied, c)
		st.targets = append(st.targets, c.Targets...)
		if inj.SubmittedAt.IsZero() {
			inj.SubmittedAt = c.At
		}
		inj.Objects = append(inj.Objects, fmt.Sprintf("change %d %s node %s", c.ID, c.Action, n))
	}
	return inj, nil
}

// WaitInjected waits until every target node is in the faulted state; its time is the
// supervisor's time of the last change applied.
func (b *Backend) WaitInjected(ctx context.Context, inj *chaos.Injection) (time.Time, error) {
	st := inj.State.(*state)
	var at time.Time
	for _, c := range st.applied {
		if c.At.After(at) {
			at = c.At
		}
	}
	_, err := b.waitNodes(ctx, st.targets, func(n Node) bool { return n.State == st.want })
	if err != nil {
		return time.Time{}, fmt.Errorf("wait for nodes %v to be %s: %w", st.targets, st.want, err)
	}
	for _, c := range st.applied {
		inj.TargetTimes = append(inj.TargetTimes, chaos.TargetTime{Target: c.Target, Injected: c.At})
	}
	return at, nil
}

// Recover restores the zone or each node. A 409 not_faulted means it is already healthy.
func (b *Backend) Recover(ctx context.Context, inj *chaos.Injection) (time.Time, error) {
	st := inj.State.(*state)
	var at time.Time
	restore := func(path string) error {
		c, err := b.post(ctx, path)
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == "not_faulted" {
			return nil
		}
		if c.At.After(at) {
			at = c.At
		}
		return err
	}
	var errs []error
	if st.zone != "" {
		errs = append(errs, restore("/v1/zones/"+url.PathEscape(st.zone)+"/restore"))
	}
	for _, n := range st.nodes {
		errs = append(errs, restore("/v1/nodes/"+url.PathEscape(n)+"/restore"))
	}
	return at, errors.Join(errs...)
}

// WaitRecovered waits until every target node is Ready again; its time is the latest
// "since" of those nodes (when the last one became Ready).
func (b *Backend) WaitRecovered(ctx context.Context, inj *chaos.Injection) (time.Time, error) {
	st := inj.State.(*state)
	nodes, err := b.waitNodes(ctx, st.targets, func(n Node) bool { return n.Ready && n.State == "Ready" })
	if err != nil {
		return time.Time{}, fmt.Errorf("wait for nodes %v to be Ready: %w", st.targets, err)
	}
	var at time.Time
	for i := range inj.TargetTimes {
		for _, n := range nodes {
			if n.Name == inj.TargetTimes[i].Target {
				inj.TargetTimes[i].Recovered = n.Since
			}
		}
	}
	for _, n := range nodes {
		if n.Since.After(at) {
			at = n.Since
		}
	}
	return at, nil
}

// waitNodes polls the topology until ok holds for every named node.
func (b *Backend) waitNodes(ctx context.Context, names []string, ok func(Node) bool) ([]Node, error) {
	for {
		topo, err := b.Topology(ctx)
		if err != nil {
			return nil, err
		}
		var hit []Node
		all := true
		for _, n := range topo.Nodes {
			if slices.Contains(names, n.Name) {
				hit = append(hit, n)
				all = all && ok(n)
			}
		}
		if all && len(hit) == len(names) {
			return hit, nil
		}
		t := time.NewTimer(b.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// Cleanup restores every faulted zone and node. The local platform lives for one run, so
// runID is not needed to tell runs apart.
func (b *Backend) Cleanup(ctx context.Context, _ string) (chaos.CleanupReport, error) {
	var rep chaos.CleanupReport
	topo, err := b.Topology(ctx)
	if err != nil {
		return rep, err
	}
	var errs []error
	zones := map[string]bool{}
	for _, n := range topo.Nodes {
		if n.State != "Killed" && n.State != "Partitioned" {
			continue
		}
		if !zones[n.Zone] {
			zones[n.Zone] = true
			c, err := b.post(ctx, "/v1/zones/"+url.PathEscape(n.Zone)+"/restore")
			var ae *APIError
			switch {
			case err == nil:
				rep.Restored = append(rep.Restored, fmt.Sprintf("zone %s (%v)", n.Zone, c.Targets))
			case errors.As(err, &ae) && ae.Code == "not_faulted":
			default:
				errs = append(errs, err)
			}
		}
	}
	// Nodes faulted one by one are not restored by their zone's restore.
	topo, err = b.Topology(ctx)
	if err != nil {
		return rep, errors.Join(append(errs, err)...)
	}
	for _, n := range topo.Nodes {
		if n.State != "Killed" && n.State != "Partitioned" {
			continue
		}
		if _, err := b.post(ctx, "/v1/nodes/"+url.PathEscape(n.Name)+"/restore"); err != nil {
			errs = append(errs, err)
			rep.Left = append(rep.Left, fmt.Sprintf("node %s: %s: %v", n.Name, n.State, err))
			continue
		}
		rep.Restored = append(rep.Restored, "node "+n.Name)
	}
	return rep, errors.Join(errs...)
}
