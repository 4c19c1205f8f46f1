package slo

import (
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
		testenv.RoundTrip(t, "spec", s, func(b []byte) (*Spec, error) { return Parse("fuzz.yaml", b) },
			func(s *Spec) ([]byte, error) {
				return yaml.Marshal(fileYAML{TotalScore: &s.TotalScore, Objectives: s.Objectives})
			})
	})
}
