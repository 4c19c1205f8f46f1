package profile

import (
	"testing"

	"github.com/dailydoco/ddp-verify/internal/testenv"

	"go.yaml.in/yaml/v3"

	"github.com/dailydoco/ddp-verify/load"
)

// maxFuzzInput bounds the inputs the fuzz targets try: loaders read files people write, and
// the property under test is that no input panics or hangs, not that huge ones are fast.
const maxFuzzInput = 64 << 10

// fuzzCapacity is a fixed machine, so that the outcome of an input does not depend on the
// machine that fuzzes it.
var fuzzCapacity = load.CapacityFor(8<<30, "memory", 4)

// FuzzParse feeds the profile loader arbitrary documents, seeded with the good and bad
// fixtures and the built-in profiles. It must never panic or hang; an accepted profile must
// survive a round trip: written back as YAML it loads again, into the same YAML.
func FuzzParse(f *testing.F) {
	testenv.SeedCorpus(f, "testdata/*.yaml", "profiles/*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			t.Skip("larger than any profile")
		}
		p, err := Parse("fuzz.yaml", data, WithCapacity(fuzzCapacity))
		if err != nil {
			return
		}
		if _, err := p.Plan(); err != nil {
			t.Fatalf("accepted without a plan: %v", err)
		}
		testenv.RoundTrip(t, "profile", p, func(b []byte) (*Profile, error) { return Parse("fuzz.yaml", b, WithCapacity(fuzzCapacity)) },
			func(p *Profile) ([]byte, error) { return yaml.Marshal(p) })
	})
}
