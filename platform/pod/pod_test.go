package pod

import (
	"context"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/platform/model"
	"github.com/dailydoco/ddp-verify/platform/topology"
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
			"DDP_GPUS": "two", "DDP_HTTP_PORT": "70000"}, []string{`$DDP_GPUS is "two", want a positive whole number`, "$DDP_HTTP_PORT is 70000, not a port"}},
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

// A GPU worker pod holds every slot of the GPUs the chart gives it (DDP_GPUS, its
// nvidia.com/gpu): one GPU is the model's four quarter-GPU slots, so that a 1080p (two slots)
// and a 4K job (four) can be leased. With one slot per GPU, only 720p jobs ever were.
func TestAGPUPodHoldsEveryQuarterOfItsGPUs(t *testing.T) {
	topo := topology.Default()
	for gpus, want := range map[string]int{"": topo.Model.SlotsPerGPU, "1": topo.Model.SlotsPerGPU, "2": 2 * topo.Model.SlotsPerGPU} {
		vars := map[string]string{"POD_IP": "10.244.1.2", "NODE_NAME": "n", "POD_NAME": "p", "DDP_DATATIER_URL": "http://x", "DDP_DATATIER_TOKEN": "t", "DDP_GPUS": gpus}
		if gpus == "" {
			delete(vars, "DDP_GPUS")
		}
		spec, err := nodeSpec(topology.ServiceVideoWorker, environment{get: env(vars), errs: new([]string)}, topo)
		if err != nil {
			t.Fatal(err)
		}
		if spec.GPUSlots != want {
			t.Errorf("DDP_GPUS=%q: %d slots, want %d", gpus, spec.GPUSlots, want)
		}
		if biggest := topo.Model.GPU[model.R4K].Slots; spec.GPUSlots < biggest {
			t.Errorf("DDP_GPUS=%q: %d slots cannot hold a 4K job's %d", gpus, spec.GPUSlots, biggest)
		}
	}
}
