package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/run"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ddp-verify.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The file's settings reach the run, and flags given on the command line win over them; both
// are checked through the errors they lead to, before anything starts.
func TestRunConfigFile(t *testing.T) {
	cfg := writeConfig(t, "profile: smoke\ntarget: http://127.0.0.1:9\nprometheus_url: http://127.0.0.1:9\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"URL target from the file, faults need a backend", []string{"run", "--config", cfg}, "has faults, and a URL target injects them through Chaos Mesh"},
		{"flag wins over the file", []string{"run", "--config", cfg, "--target", "local"}, "--prometheus-url is for a URL target"},
		{"bad file", []string{"run", "--config", writeConfig(t, "profile: smoke\nchaos: {backend: litmus}\n")}, `ddp-verify.yaml:2: chaos.backend: unknown backend "litmus"`},
		{"no profile anywhere", []string{"run", "--config", writeConfig(t, "target: local\n")}, "--profile is required"},
		{"missing file", []string{"run", "--config", "/nonexistent/ddp-verify.yaml"}, "read config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := execute(t, tc.args...)
			if code != exitcode.BadInput || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, errOut, tc.want)
			}
		})
	}
}

func TestRunAuthTokenFromEnvironment(t *testing.T) {
	t.Setenv("DDP_TEST_EMPTY_TOKEN", "")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unset variable", []string{"run", "--profile", "smoke", "--auth-header", "X-Api-Key", "--auth-token-env", "DDP_TEST_EMPTY_TOKEN"}, "DDP_TEST_EMPTY_TOKEN: the environment variable is empty or unset"},
		{"header without variable", []string{"run", "--profile", "smoke", "--auth-header", "X-Api-Key"}, "--auth-header and --auth-token-env go together"},
		{"from the file", []string{"run", "--config", writeConfig(t, "profile: smoke\nauth: {header: X-Api-Key, token_env: DDP_TEST_EMPTY_TOKEN}\n")}, "DDP_TEST_EMPTY_TOKEN: the environment variable is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := execute(t, tc.args...)
			if code != exitcode.BadInput || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, errOut, tc.want)
			}
		})
	}
	t.Setenv("DDP_TEST_TOKEN", "s3cret")
	h, err := run.HeaderFromEnv("x-api-key", "DDP_TEST_TOKEN")
	if err != nil || h.Get("X-Api-Key") != "s3cret" {
		t.Errorf("headers %v, err %v", h, err)
	}
}
