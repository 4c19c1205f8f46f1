package local_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dailydoco/ddp-verify/chaos"
	"github.com/dailydoco/ddp-verify/chaos/local"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// supervisor is a stand-in for the platform's local cluster supervisor: it implements the
// control API exactly as docs/control-api.md specifies, so that error paths and exact states
// can be driven here; the backend against the real supervisor is tested in package run
// (TestLocalChaosOnTheReferencePlatform). It changes node states at once and records every
// change.
type supervisor struct {
	mu      sync.Mutex
	token   string
	nodes   []local.Node
	changes []local.Change
	zoneOut map[string]string
}

func newSupervisor(t *testing.T) (*supervisor, *httptest.Server) {
	s := &supervisor{token: "s3cret", zoneOut: map[string]string{}}
	for _, z := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
		sfx := z[len(z)-2:]
		s.nodes = append(s.nodes,
			local.Node{Name: "general-" + sfx, Zone: z, Pool: "general", State: "Ready", Ready: true},
			local.Node{Name: "gpu-" + sfx + "-1", Zone: z, Pool: "gpu", State: "Ready", Ready: true})
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (s *supervisor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		writeErr(w, 401, "unauthorized", "missing or wrong bearer token")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == "GET" && r.URL.Path == "/v1/topology":
		json.NewEncoder(w).Encode(map[string]any{"zones": []string{"us-east-1a", "us-east-1b", "us-east-1c"}, "nodes": s.nodes})
	case r.Method == "GET" && r.URL.Path == "/v1/changes":
		json.NewEncoder(w).Encode(map[string]any{"changes": s.changes})
	case r.Method == "POST" && len(parts) == 4 && parts[1] == "nodes":
		i := s.node(parts[2])
		if i < 0 {
			writeErr(w, 404, "unknown_node", "no node "+parts[2])
			return
		}
		n := &s.nodes[i]
		switch parts[3] {
		case "kill", "partition":
			if n.State != "Ready" {
				writeErr(w, 409, "already_faulted", n.Name+" is "+n.State)
				return
			}
			n.State, n.Ready, n.Since = map[string]string{"kill": "Killed", "partition": "Partitioned"}[parts[3]], false, now
		case "restore":
			if n.State == "Ready" {
				writeErr(w, 409, "not_faulted", n.Name+" is healthy")
				return
			}
			n.State, n.Ready, n.Since = "Ready", true, now
		default:
			writeErr(w, 404, "not_found", r.URL.Path)
			return
		}
		s.change(w, parts[3], n.Name, []string{n.Name}, now)
	case r.Method == "POST" && len(parts) == 4 && parts[1] == "zones":
		zone, action := parts[2], parts[3]
		var targets []int
		for i, n := range s.nodes {
			if n.Zone == zone {
				targets = append(targets, i)
			}
		}
		if len(targets) == 0 {
			writeErr(w, 404, "unknown_zone", "no zone "+zone)
			return
		}
		state := map[string]string{"power-loss": "Killed", "partition": "Partitioned", "restore": "Ready"}[action]
		switch {
		case state == "":
			writeErr(w, 404, "not_found", r.URL.Path)
			return
		case action == "restore" && s.zoneOut[zone] == "":
			writeErr(w, 409, "not_faulted", zone+" is healthy")
			return
		case action != "restore" && s.zoneOut[zone] != "":
			writeErr(w, 409, "already_faulted", zone+" is "+s.zoneOut[zone])
			return
		}
		s.zoneOut[zone] = map[bool]string{true: "", false: action}[action == "restore"]
		var names []string
		for _, i := range targets {
			s.nodes[i].State, s.nodes[i].Ready, s.nodes[i].Since = state, state == "Ready", now
			names = append(names, s.nodes[i].Name)
		}
		s.change(w, action, zone, names, now)
	default:
		writeErr(w, 404, "not_found", r.URL.Path)
	}
}

func (s *supervisor) node(name string) int {
	for i, n := range s.nodes {
		if n.Name == name {
			return i
		}
	}
	return -1
}

func (s *supervisor) change(w http.ResponseWriter, action, target string, targets []string, at time.Time) {
	c := local.Change{ID: int64(len(s.changes) + 1), Action: action, Target: target, Targets: targets, At: at}
	s.changes = append(s.changes, c)
	json.NewEncoder(w).Encode(c)
}

func (s *supervisor) healthy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nodes {
		if !n.Ready {
			return false
		}
	}
	return true
}

func (s *supervisor) changeAt(action, target string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.changes {
		if c.Action == action && c.Target == target {
			return c.At
		}
	}
	return time.Time{}
}

func newBackend(t *testing.T, url, token string) *local.Backend {
	b, err := local.New(url, token, local.Options{PollInterval: time.Millisecond})
	require.NoError(t, err)
	return b
}

func TestNodeFailureAndZoneOutageAreInjectedAndRecovered(t *testing.T) {
	sup, srv := newSupervisor(t)
	b := newBackend(t, srv.URL, "s3cret")
	faults := []chaos.Fault{
		{ID: "gpu-node", Kind: chaos.NodeFailure, Duration: 5 * time.Millisecond, Target: chaos.Target{Pool: "gpu", Count: 1}},
		{ID: "az-b", Kind: chaos.ZoneOutage, Duration: 5 * time.Millisecond, Target: chaos.Target{Zone: "us-east-1b", Mode: chaos.PowerLoss}},
	}
	res, err := chaos.NewScheduler(b, faults).Run(t.Context())
	require.NoError(t, err)

	node, zone := res[0], res[1]
	assert.Equal(t, chaos.Recovered, node.Phase)
	assert.Equal(t, []string{"gpu-1a-1"}, node.Targets)
	assert.Equal(t, sup.changeAt("kill", "gpu-1a-1"), node.Injected.Backend)
	assert.Equal(t, sup.changeAt("restore", "gpu-1a-1"), node.RecoveryRequested.Backend)
	assert.Equal(t, sup.changeAt("restore", "gpu-1a-1"), node.Recovered.Backend, "the node's since when it became Ready")

	assert.Equal(t, chaos.Recovered, zone.Phase)
	assert.Equal(t, []string{"general-1b", "gpu-1b-1"}, zone.Targets)
	assert.Equal(t, sup.changeAt("power-loss", "us-east-1b"), zone.Injected.Backend)
	assert.Equal(t, sup.changeAt("restore", "us-east-1b"), zone.Recovered.Backend)
	for _, r := range res {
		assert.False(t, r.Injected.Tool.IsZero() || r.Recovered.Tool.IsZero(), r.Fault.ID)
	}
	assert.True(t, sup.healthy(), "the platform is back to full health")
}

func TestControlAPIErrorsAreReported(t *testing.T) {
	_, srv := newSupervisor(t)
	bad := newBackend(t, srv.URL, "wrong")
	_, err := bad.Select(t.Context(), chaos.Fault{ID: "n", Kind: chaos.NodeFailure, Duration: time.Second, Target: chaos.Target{Node: "general-1a"}})
	var ae *local.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "unauthorized", ae.Code)
	assert.Equal(t, 401, ae.Status)

	b := newBackend(t, srv.URL, "s3cret")
	_, err = b.Select(t.Context(), chaos.Fault{ID: "n", Kind: chaos.NodeFailure, Duration: time.Second, Target: chaos.Target{Node: "nope"}})
	assert.ErrorContains(t, err, `node "nope" not found`)
	_, err = b.Select(t.Context(), chaos.Fault{ID: "k", Kind: chaos.PodKill, Duration: time.Second, Target: chaos.Target{Service: "api"}})
	assert.ErrorIs(t, err, chaos.ErrUnsupported)
	_, err = b.Select(t.Context(), chaos.Fault{ID: "z", Kind: chaos.ZoneOutage, Duration: time.Second, Target: chaos.Target{Zone: "mars-1a", Mode: chaos.Partition}})
	assert.ErrorContains(t, err, `zone "mars-1a" has no nodes (zones: us-east-1a, us-east-1b, us-east-1c)`)
}

// TestCleanupRestoresWhatADeadRunLeft faults a zone and a node as a run that died would
// leave them, then restores both.
func TestCleanupRestoresWhatADeadRunLeft(t *testing.T) {
	sup, srv := newSupervisor(t)
	b := newBackend(t, srv.URL, "s3cret")
	ctx := t.Context()
	for _, f := range []chaos.Fault{
		{ID: "az", Kind: chaos.ZoneOutage, Duration: time.Hour, Target: chaos.Target{Zone: "us-east-1c", Mode: chaos.Partition}},
		{ID: "n", Kind: chaos.NodeFailure, Duration: time.Hour, Target: chaos.Target{Node: "general-1a"}},
	} {
		im, err := b.Select(ctx, f)
		require.NoError(t, err)
		inj, err := b.Inject(ctx, f, im)
		require.NoError(t, err)
		_, err = b.WaitInjected(ctx, inj)
		require.NoError(t, err)
	}
	require.False(t, sup.healthy())
	rep, err := b.Cleanup(ctx, "")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"zone us-east-1c ([general-1c gpu-1c-1])", "node general-1a"}, rep.Restored)
	assert.True(t, sup.healthy())
}
