package mesh

import (
	"bytes"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/dailydoco/ddp-verify/chaos"
)

// Manifests renders the Chaos Mesh objects faults would create as YAML documents separated
// by "---", for `ddp-verify plan` and for `kubectl apply --dry-run=client`. It touches no
// cluster, so nodes stands in for the cluster's Node objects (a profile's reference
// topology): zone partitions and pool node failures are resolved from them as at
// injection. Pods are selected by label here (at injection the exact pods are named).
// Cordons are not objects and do not appear; the comment before each document says which
// nodes would be cordoned.
func Manifests(faults []chaos.Fault, opts Options, nodes []corev1.Node) ([]byte, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := chaos.ValidateAll(faults); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	var errs []error
	for _, f := range faults {
		objs, err := build(f, opts, nodes, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("fault %s: %w", f.ID, err))
			continue
		}
		for _, obj := range objs {
			u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				return nil, fmt.Errorf("fault %s: %w", f.ID, err)
			}
			// The controller owns status, and the server sets the creation time.
			delete(u, "status")
			if m, ok := u["metadata"].(map[string]any); ok {
				delete(m, "creationTimestamp")
			}
			out, err := yaml.Marshal(u)
			if err != nil {
				return nil, fmt.Errorf("fault %s: %w", f.ID, err)
			}
			fmt.Fprintf(&buf, "---\n# fault %s at %s for %s", f.ID, f.At, f.Duration)
			if c := plannedCordons(f, opts, nodes); len(c) > 0 {
				fmt.Fprintf(&buf, "; cordons nodes %v for the window", c)
			}
			buf.WriteString("\n")
			buf.Write(out)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return buf.Bytes(), nil
}

func plannedCordons(f chaos.Fault, o Options, nodes []corev1.Node) []string {
	switch {
	case o.AWS != nil: // stopped instances need no cordon
		return nil
	case f.Kind == chaos.ZoneOutage && f.Target.Mode == chaos.PowerLoss:
		in, _ := splitZone(nodes, f.Target.Zone)
		return names(in)
	case f.Kind == chaos.NodeFailure:
		t, _ := nodeTargets(f, o, nodes)
		return names(t)
	}
	return nil
}
