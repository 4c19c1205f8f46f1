package run

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dailydoco/ddp-verify/alerting"
	"github.com/dailydoco/ddp-verify/chaos/mesh"
	"github.com/dailydoco/ddp-verify/kubecluster"
	"github.com/dailydoco/ddp-verify/kubeplatform"
	"github.com/dailydoco/ddp-verify/platform/topology"
	"github.com/dailydoco/ddp-verify/profile"
	"github.com/dailydoco/ddp-verify/slo"
)

// Node labels the reference topology's nodes carry in the rendered plan, as on EKS.
const (
	ZoneLabel         = "topology.kubernetes.io/zone"
	PoolLabel         = "eks.amazonaws.com/nodegroup"
	InstanceTypeLabel = "node.kubernetes.io/instance-type"
)

// DefaultNamespaces are the namespaces of the platform in the deployment plan.
var DefaultNamespaces = []string{kubeplatform.DefaultNamespace}

// WritePlan prints the profile's timeline, the SLOs evaluated in each window and the Chaos
// Mesh manifests its faults would create against a cluster shaped like topo (with aws, node
// failures and zone power losses as AWSChaos ec2-stop objects). It touches nothing.
func WritePlan(w io.Writer, plan *profile.Plan, spec *slo.Spec, topo *topology.Topology, namespaces []string, aws *mesh.AWSOptions) error {
	p := plan.Profile
	if err := p.WritePlan(w); err != nil {
		return err
	}
	tl := plan.Timeline
	fmt.Fprintf(w, "\nSLOS (%s)\n", spec.File)
	var notEvaluated []string
	for i := range spec.Objectives {
		if _, skip := spec.Objectives[i].NotEvaluatedAt(p.TimeScale()); skip {
			notEvaluated = append(notEvaluated, spec.Objectives[i].ID)
		}
	}
	for _, win := range tl.Windows {
		var ids []string
		for _, o := range spec.Objectives {
			if slices.Contains(notEvaluated, o.ID) {
				continue
			}
			for _, pat := range o.Windows {
				if ok, _ := filepath.Match(pat, win.Name); ok {
					ids = append(ids, o.ID)
					break
				}
			}
		}
		if len(ids) > 0 {
			sort.Strings(ids)
			fmt.Fprintf(w, "  %-24s %s\n", win.Name, strings.Join(ids, ", "))
		}
	}
	if len(notEvaluated) > 0 {
		fmt.Fprintf(w, "  not evaluated at time scale x%g (they need full-length windows): %s\n", p.TimeScale(), strings.Join(notEvaluated, ", "))
	}
	writeAlertPlan(w, p)
	if len(plan.Faults) == 0 {
		return nil
	}
	if len(namespaces) == 0 {
		namespaces = DefaultNamespaces
	}
	manifests, err := mesh.Manifests(plan.Faults, mesh.Options{RunID: "plan", Namespaces: namespaces, PoolLabel: PoolLabel, AWS: aws}, clusterNodes(topo))
	if err != nil {
		return fmt.Errorf("render Chaos Mesh manifests: %w", err)
	}
	fmt.Fprintf(w, "\nCHAOS MESH MANIFESTS (topology %s, namespaces %s; kubectl apply --dry-run=client -f - accepts them)\n", topo.Name, strings.Join(namespaces, ","))
	_, err = w.Write(manifests)
	return err
}

// writeAlertPlan lists the alert objectives of a profile with an alerts section: each fault's
// expected alerts and the run's unexpected critical alerts.
func writeAlertPlan(w io.Writer, p *profile.Profile) {
	if p.Alerts == nil {
		return
	}
	fmt.Fprintf(w, "\nALERTS (key objectives; the local target runs the plan's rules with their for clauses x%g)\n", p.AlertForScale())
	n := 0
	for _, f := range p.Chaos {
		for _, e := range f.Alerts {
			a := alerting.Expectation{Alert: e.Alert, Labels: e.Labels}
			fmt.Fprintf(w, "  %-24s %s fires within %s of the injection, resolves within %s of the recovery\n", f.Name, a, e.FireWithin, e.ResolveWithin)
			n++
		}
	}
	fmt.Fprintf(w, "  %-24s no critical alert that no fault expects\n", profile.WindowRun)
	if r := p.Alerts.PageReceiver; r != "" {
		fmt.Fprintf(w, "  %-24s every critical rule and alert is routed to %s\n", profile.WindowRun, r)
	}
	if n > 0 && p.TimeScale() < 1 {
		fmt.Fprintf(w, "  not evaluated at time scale x%g (the faults are shorter than the platform's detection): the faults' expected alerts\n", p.TimeScale())
	}
}

// clusterNodes stands the topology's nodes in for a cluster's Node objects.
func clusterNodes(topo *topology.Topology) []corev1.Node {
	var out []corev1.Node
	for _, n := range topo.Nodes() {
		out = append(out, corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: map[string]string{
				ZoneLabel: n.Zone, corev1.LabelTopologyRegion: kubecluster.Region(n.Zone), PoolLabel: n.Pool, InstanceTypeLabel: n.InstanceType,
			}},
			Spec: corev1.NodeSpec{ProviderID: "aws:///" + n.Zone + "/" + kubecluster.InstanceID(n.Name)},
		})
	}
	return out
}
