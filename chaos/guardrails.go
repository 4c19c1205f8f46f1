package chaos

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrRefused is wrapped by every guardrail refusal.
var ErrRefused = errors.New("refused by chaos guardrails")

// Namespaces no fault ever touches, whatever the allow-list says.
var forbiddenNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// Guardrails bound what a fault may hit. The zero value allows no namespace, so a fault that
// touches pods is refused until an allow-list is given.
type Guardrails struct {
	// Namespaces is the allow-list of namespaces whose pods faults may hit.
	Namespaces []string
	// MaxNodeShare is the largest share (0-1] of the cluster's nodes one fault may hit;
	// 0 means 0.5.
	MaxNodeShare float64
	// MaxPodShare is the largest share (0-1] of the pods in the allowed namespaces one fault
	// may hit; 0 means 0.5.
	MaxPodShare float64
	// ChaosNamespace is where the chaos tooling runs (never a target); "" means chaos-mesh.
	ChaosNamespace string
}

// Check returns nil when the fault may hit im, and otherwise an error wrapping [ErrRefused]
// that lists every reason.
func (g Guardrails) Check(f Fault, im Impact) error {
	var why []string
	chaosNS := g.ChaosNamespace
	if chaosNS == "" {
		chaosNS = "chaos-mesh"
	}
	forbidden := append(slices.Clone(forbiddenNamespaces), chaosNS)
	nsSeen := map[string]bool{}
	checkNS := func(ns string) {
		if ns == "" || nsSeen[ns] {
			return
		}
		nsSeen[ns] = true
		switch {
		case slices.Contains(forbidden, ns):
			why = append(why, fmt.Sprintf("namespace %q is never a target", ns))
		case !slices.Contains(g.Namespaces, ns):
			why = append(why, fmt.Sprintf("namespace %q is not in the allow-list %v", ns, g.Namespaces))
		}
	}
	checkNS(f.Target.Namespace)
	for _, ns := range im.Namespaces {
		checkNS(ns)
	}
	for _, p := range im.Pods {
		checkNS(p.Namespace)
		if p.DaemonSet {
			why = append(why, fmt.Sprintf("pod %s/%s belongs to a DaemonSet", p.Namespace, p.Name))
		}
		if p.HostNetwork {
			why = append(why, fmt.Sprintf("pod %s/%s uses the host network", p.Namespace, p.Name))
		}
	}
	if share := orDefault(g.MaxNodeShare, 0.5); im.TotalNodes > 0 && float64(len(im.Nodes)) > share*float64(im.TotalNodes) {
		why = append(why, fmt.Sprintf("hits %d of %d nodes, more than the maximum share %.2f", len(im.Nodes), im.TotalNodes, share))
	}
	if share := orDefault(g.MaxPodShare, 0.5); im.TotalPods > 0 && float64(len(im.Pods)) > share*float64(im.TotalPods) {
		why = append(why, fmt.Sprintf("hits %d of %d pods, more than the maximum share %.2f", len(im.Pods), im.TotalPods, share))
	}
	if f.Kind == ZoneOutage && f.Target.Mode == PowerLoss && len(im.SoleZoneServices) > 0 && !f.Force {
		why = append(why, fmt.Sprintf("zone %s holds every replica of %s (set force: true to allow)",
			f.Target.Zone, strings.Join(im.SoleZoneServices, ", ")))
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("fault %s: %w: %s", f.ID, ErrRefused, strings.Join(why, "; "))
}

func orDefault(v, d float64) float64 {
	if v <= 0 {
		return d
	}
	return v
}
