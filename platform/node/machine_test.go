package node

import (
	"strings"
	"testing"
)

// A node standing for a machine exports the machine under node_exporter's names; a node
// without an instance type (a pod of the local cluster) is not a machine and exports none,
// so the plan's node alerts see each machine once, from its node agent.
func TestOnlyAMachineExportsNodeSeries(t *testing.T) {
	for _, tc := range []struct {
		instanceType string
		want         bool
	}{{"m5.2xlarge", true}, {"", false}} {
		families, err := New(Spec{Name: "n", InstanceType: tc.instanceType}, nil).reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range families {
			if strings.HasPrefix(f.GetName(), "node_") {
				got = append(got, f.GetName())
			}
		}
		if has := len(got) > 0; has != tc.want {
			t.Errorf("instance type %q: node_exporter series %v, want them: %v", tc.instanceType, got, tc.want)
		}
	}
}
