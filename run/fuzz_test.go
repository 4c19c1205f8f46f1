package run

import (
	"os"
	"slices"
	"testing"

	"github.com/dailydoco/ddp-verify/internal/testenv"

	"go.yaml.in/yaml/v3"
)

// FuzzParseConfig feeds the run configuration loader arbitrary documents, seeded with the
// good and bad fixtures. It must never panic or hang; an accepted configuration must survive a
// round trip: written back as YAML it loads again, setting the same flags.
func FuzzParseConfig(f *testing.F) {
	testenv.SeedCorpus(f, "testdata/config/*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			t.Skip("larger than any configuration")
		}
		c, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			return
		}
		back, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("accepted but cannot be written back: %v", err)
		}
		again, err := ParseConfig("fuzz.yaml", back)
		if err != nil {
			t.Fatalf("accepted, written back, refused: %v\n%s", err, back)
		}
		if !slices.Equal(c.Flags(), again.Flags()) {
			t.Fatalf("the round trip changed the flags: %q, then %q", c.Flags(), again.Flags())
		}
		for _, kv := range c.Flags() {
			_ = c.FieldError(kv[0], os.ErrInvalid) // every flag the file sets has a field
		}
	})
}
