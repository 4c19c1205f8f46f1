package mesh

import (
	"regexp"
	"strings"
	"testing"
)

var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Run ids carry an upper-case UTC time; object names must still be DNS labels.
func TestObjectNameIsADNSLabel(t *testing.T) {
	tests := []struct{ run, fault, suffix, want string }{
		{"20260314T090000Z-launch-7f3a01", "gpu-node", "", "ddpv-gpu-node-20260314t090000z-launch-7f3a01"},
		{"r1", "Zone_A", "0", "ddpv-zone-a-r1-0"},
		{"20260314T090000Z-launch-7f3a01", strings.Repeat("x", 40), "1", ""},
	}
	for _, tc := range tests {
		got := objectName(tc.run, tc.fault, tc.suffix)
		if !dnsName.MatchString(got) || len(got) > 63 || (tc.want != "" && got != tc.want) {
			t.Errorf("objectName(%q, %q, %q) = %q", tc.run, tc.fault, tc.suffix, got)
		}
	}
}
