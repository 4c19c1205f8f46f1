package topology

import (
	"testing"

	"github.com/dailydoco/ddp-verify/internal/testenv"

	"go.yaml.in/yaml/v3"
)

// FuzzParse feeds the topology loader arbitrary documents, seeded with the fixtures and the
// default topology. It must never panic or hang; an accepted topology must survive a round
// trip: written back as YAML it loads again, into the same YAML.
func FuzzParse(f *testing.F) {
	f.Add(defaultYAML)
	testenv.SeedCorpus(f, "testdata/*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			t.Skip("larger than any topology")
		}
		topo, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		// The derived views must hold for anything accepted.
		topo.Place(topo.Nodes())
		testenv.RoundTrip(t, "topology", topo, func(b []byte) (*Topology, error) { return Parse("fuzz.yaml", b) },
			func(t *Topology) ([]byte, error) { return yaml.Marshal(t) })
	})
}
