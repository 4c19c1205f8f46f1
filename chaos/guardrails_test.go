package chaos_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dailydoco/ddp-verify/chaos"
)

func TestGuardrailsCheck(t *testing.T) {
	t.Parallel()
	g := chaos.Guardrails{Namespaces: []string{"dailydoco", "kube-system", "chaos-mesh"}, MaxNodeShare: 0.34, MaxPodShare: 0.5}
	zone := chaos.Fault{ID: "az", Kind: chaos.ZoneOutage, Duration: time.Minute, Target: chaos.Target{Zone: "a", Mode: chaos.PowerLoss}}
	kill := chaos.Fault{ID: "k", Kind: chaos.PodKill, Duration: time.Minute, Target: chaos.Target{Namespace: "dailydoco", Selector: map[string]string{"app": "api"}}}
	pod := func(ns, name string) chaos.Pod { return chaos.Pod{Namespace: ns, Name: name} }
	ok := chaos.Impact{Nodes: []string{"n1"}, TotalNodes: 3, Pods: []chaos.Pod{pod("dailydoco", "api-1")}, TotalPods: 3, Namespaces: []string{"dailydoco"}}
	with := func(fn func(*chaos.Impact)) chaos.Impact { im := ok; fn(&im); return im }

	cases := []struct {
		name  string
		fault chaos.Fault
		im    chaos.Impact
		want  string // "" means allowed
	}{
		{"allowed", kill, ok, ""},
		{"namespace not allowed", kill, with(func(im *chaos.Impact) { im.Pods = []chaos.Pod{pod("billing", "x")} }), `namespace "billing" is not in the allow-list`},
		{"kube-system even when allow-listed", kill, with(func(im *chaos.Impact) { im.Namespaces = []string{"kube-system"} }), `namespace "kube-system" is never a target`},
		{"chaos-mesh even when allow-listed", kill, with(func(im *chaos.Impact) { im.Pods = []chaos.Pod{pod("chaos-mesh", "controller")} }), `namespace "chaos-mesh" is never a target`},
		{"daemonset pod", kill, with(func(im *chaos.Impact) {
			im.Pods = []chaos.Pod{{Namespace: "dailydoco", Name: "agent", DaemonSet: true}}
		}), "dailydoco/agent belongs to a DaemonSet"},
		{"hostNetwork pod", kill, with(func(im *chaos.Impact) {
			im.Pods = []chaos.Pod{{Namespace: "dailydoco", Name: "proxy", HostNetwork: true}}
		}), "dailydoco/proxy uses the host network"},
		{"too many nodes", zone, with(func(im *chaos.Impact) { im.Nodes = []string{"n1", "n2"} }), "hits 2 of 3 nodes"},
		{"too many pods", kill, with(func(im *chaos.Impact) {
			im.Pods = []chaos.Pod{pod("dailydoco", "a"), pod("dailydoco", "b")}
		}), "hits 2 of 3 pods"},
		{"power-loss of the only zone of a service", zone, with(func(im *chaos.Impact) { im.SoleZoneServices = []string{"dailydoco/redis"} }), "zone a holds every replica of dailydoco/redis"},
		{"forced power-loss of the only zone", func() chaos.Fault { f := zone; f.Force = true; return f }(), with(func(im *chaos.Impact) { im.SoleZoneServices = []string{"dailydoco/redis"} }), ""},
		{"partition of the only zone is not a power-loss", func() chaos.Fault { f := zone; f.Target.Mode = chaos.Partition; return f }(), with(func(im *chaos.Impact) { im.SoleZoneServices = []string{"dailydoco/redis"} }), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := g.Check(c.fault, c.im)
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.True(t, errors.Is(err, chaos.ErrRefused))
			assert.ErrorContains(t, err, c.want)
		})
	}
}

func TestGuardrailsZeroValueAllowsNoNamespace(t *testing.T) {
	t.Parallel()
	err := chaos.Guardrails{}.Check(chaos.Fault{ID: "n"}, chaos.Impact{Pods: []chaos.Pod{{Namespace: "dailydoco", Name: "a"}}})
	require.ErrorIs(t, err, chaos.ErrRefused)
}

func TestFaultValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault chaos.Fault
		want  []string
	}{
		{"zone needs zone and mode", chaos.Fault{ID: "z", Kind: chaos.ZoneOutage, Duration: time.Minute},
			[]string{"target.zone: required", "target.mode: zone-outage needs mode power-loss or partition"}},
		{"node and pool", chaos.Fault{ID: "n", Kind: chaos.NodeFailure, Duration: time.Minute, Target: chaos.Target{Node: "x", Pool: "gpu", Count: 1}},
			[]string{"target.node: give either node, or pool and count"}},
		{"pool without count", chaos.Fault{ID: "n", Kind: chaos.NodeFailure, Duration: time.Minute, Target: chaos.Target{Pool: "gpu"}},
			[]string{"target.count: must be at least 1"}},
		{"delay without latency or target", chaos.Fault{ID: "d", Kind: chaos.NetworkDelay, Duration: time.Minute, Target: chaos.Target{Namespace: "x"}},
			[]string{"target: network-delay needs a service, selector, zone or node", "target.latency: must be positive"}},
		{"pod-kill without service", chaos.Fault{ID: "p", Kind: chaos.PodKill, Duration: time.Minute},
			[]string{"target.service: required for pod-kill"}},
		{"bad id, negative at, unknown kind", chaos.Fault{ID: "Big_ID", Kind: "meteor", At: -time.Second, Duration: time.Minute},
			[]string{"id: \"Big_ID\" must be a DNS label", "at: must not be negative", `fault: unknown kind "meteor"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.fault.Validate()
			require.Error(t, err)
			for _, w := range c.want {
				assert.ErrorContains(t, err, w)
			}
			var fe *chaos.FieldError
			assert.True(t, errors.As(err, &fe))
		})
	}
	require.NoError(t, chaos.Fault{ID: "ok", Kind: chaos.PodKill, Duration: time.Minute,
		Target: chaos.Target{Namespace: "dailydoco", Selector: map[string]string{"app": "api"}}}.Validate())
}
