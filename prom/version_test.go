package prom

import (
	"os"
	"strings"
	"testing"
)

// The version run.json records is the one go.mod pins.
func TestVersionIsTheModuleVersion(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/prometheus/prometheus" {
			want = f[1]
		}
	}
	if want == "" || Version != want {
		t.Errorf("Version = %q, go.mod pins %q", Version, want)
	}
}
