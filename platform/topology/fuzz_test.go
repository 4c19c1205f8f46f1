package topology

import (
	"bytes"
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
		once, err := yaml.Marshal(topo)
		if err != nil {
			t.Fatalf("accepted but cannot be written back: %v", err)
		}
		again, err := Parse("fuzz.yaml", once)
		if err != nil {
			t.Fatalf("accepted, written back, refused: %v\n%s", err, once)
		}
		twice, err := yaml.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("the round trip changed the topology:\n%s\nthen\n%s", once, twice)
		}
	})
}
