package reports

import (
	"testing"

	"github.com/dailydoco/ddp-verify/verdict"
)

func TestSamplesText(t *testing.T) {
	v := 0.97
	tests := []struct {
		name string
		s    verdict.Objective
		want string
	}{
		{"value without a sample query", verdict.Objective{Value: &v}, "—"},
		{"no value and no samples", verdict.Objective{}, "0"},
		{"counted samples", verdict.Objective{Value: &v, SampleCount: 12}, "12"},
	}
	for _, tc := range tests {
		if got := samplesText(tc.s); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
