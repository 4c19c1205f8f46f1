package slo

import (
	"bytes"
	"testing"

	"github.com/dailydoco/ddp-verify/internal/testenv"

	"go.yaml.in/yaml/v3"
)

// FuzzParse feeds the SLO loader arbitrary documents, seeded with the fixtures and the
// default set. It must never panic or hang; an accepted file must survive a round trip: its
// objectives written back as YAML load again, into the same YAML.
func FuzzParse(f *testing.F) {
	f.Add(defaultYAML)
	testenv.SeedCorpus(f, "testdata/*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			t.Skip("larger than any SLO file")
		}
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		once, err := yaml.Marshal(fileYAML{TotalScore: &s.TotalScore, Objectives: s.Objectives})
		if err != nil {
			t.Fatalf("accepted but cannot be written back: %v", err)
		}
		again, err := Parse("fuzz.yaml", once)
		if err != nil {
			t.Fatalf("accepted, written back, refused: %v\n%s", err, once)
		}
		twice, err := yaml.Marshal(fileYAML{TotalScore: &again.TotalScore, Objectives: again.Objectives})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("the round trip changed the spec:\n%s\nthen\n%s", once, twice)
		}
	})
}
