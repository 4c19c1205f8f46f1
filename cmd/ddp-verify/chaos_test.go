package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/exitcode"
	"github.com/dailydoco/ddp-verify/internal/testenv"
)

func TestChaosCleanupBadKubeconfigIsBadInput(t *testing.T) {
	out, code := executeCombined(t, "chaos", "cleanup", "--kubeconfig", filepath.Join(t.TempDir(), "missing"))
	if code != exitcode.BadInput || !strings.Contains(out, "kubeconfig:") {
		t.Fatalf("exit %d, output %q; want exit %d naming the kubeconfig", code, out, exitcode.BadInput)
	}
}

// An unreachable API server is an infrastructure failure (exit 3). The address is a
// loopback port that was just released, so nothing listens on it.
func TestChaosCleanupUnreachableClusterIsInfra(t *testing.T) {
	addr := testenv.RefusedAddr(t)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://` + addr + `"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {}}]
current-context: c
`
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := executeCombined(t, "chaos", "cleanup", "--kubeconfig", kc, "--run-id", "r1", "--wait", "1s")
	if code != exitcode.Infra || !strings.Contains(out, "chaos cleanup:") {
		t.Fatalf("exit %d, output %q; want exit %d", code, out, exitcode.Infra)
	}
}

func TestChaosCleanupRejectsArguments(t *testing.T) {
	if _, code := executeCombined(t, "chaos", "cleanup", "extra"); code != exitcode.BadInput {
		t.Fatalf("exit %d; want %d", code, exitcode.BadInput)
	}
}
