package pod

import (
	"context"
	"strings"
	"testing"
)

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

// A pod whose environment lacks what its service needs does not start: the error names every
// missing or malformed variable at once.
func TestAPodSaysWhatItsEnvironmentLacks(t *testing.T) {
	for _, c := range []struct {
		service string
		vars    map[string]string
		want    []string
	}{
		{"api", map[string]string{"POD_IP": "10.244.1.2"}, []string{"$NODE_NAME is not set", "$DDP_DATATIER_URL is not set", "$DDP_DATATIER_TOKEN is not set", "$POD_NAME is not set", "$DDP_SIGNING_SECRET is not set"}},
		{"datatier", map[string]string{}, []string{"$POD_IP is not set", "$DDP_DATATIER_TOKEN is not set"}},
		{"video-worker", map[string]string{"POD_IP": "10.244.1.2", "NODE_NAME": "n", "POD_NAME": "p", "DDP_DATATIER_URL": "http://x", "DDP_DATATIER_TOKEN": "t",
			"DDP_GPU_SLOTS": "two", "DDP_HTTP_PORT": "70000"}, []string{`$DDP_GPU_SLOTS is "two", want a positive whole number`, "$DDP_HTTP_PORT is 70000, not a port"}},
		{"gateway", map[string]string{"POD_IP": "10.244.1.2", "NODE_NAME": "n", "POD_NAME": "p", "DDP_DATATIER_URL": "http://x", "DDP_DATATIER_TOKEN": "t"}, []string{`unknown service "gateway"`}},
	} {
		err := Run(context.Background(), c.service, env(c.vars), nil, func() { t.Errorf("%s: ready without its environment", c.service) })
		if err == nil {
			t.Fatalf("%s with %v: no error", c.service, c.vars)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.service, err, w)
			}
		}
	}
}
