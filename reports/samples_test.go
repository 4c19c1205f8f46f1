package reports

import "testing"

func TestSamplesText(t *testing.T) {
	v := 0.97
	tests := []struct {
		name string
		s    SLOResult
		want string
	}{
		{"value without a sample query", SLOResult{Value: &v}, "—"},
		{"no value and no samples", SLOResult{}, "0"},
		{"counted samples", SLOResult{Value: &v, SampleCount: 12}, "12"},
	}
	for _, tc := range tests {
		if got := samplesText(tc.s); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
