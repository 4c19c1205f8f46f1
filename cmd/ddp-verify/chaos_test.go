package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dailydoco/ddp-verify/internal/testenv"
)

func runChaosCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCmd(&out, &out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return out.String(), exitGo
	}
	var ec *exitError
	if errors.As(err, &ec) {
		return out.String() + err.Error(), ec.code
	}
	return out.String() + err.Error(), exitBadInput
}

func TestChaosCleanupBadKubeconfigIsBadInput(t *testing.T) {
	out, code := runChaosCmd(t, "chaos", "cleanup", "--kubeconfig", filepath.Join(t.TempDir(), "missing"))
	if code != exitBadInput || !strings.Contains(out, "kubeconfig:") {
		t.Fatalf("exit %d, output %q; want exit %d naming the kubeconfig", code, out, exitBadInput)
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
	out, code := runChaosCmd(t, "chaos", "cleanup", "--kubeconfig", kc, "--run-id", "r1", "--wait", "1s")
	if code != exitInfra || !strings.Contains(out, "chaos cleanup:") {
		t.Fatalf("exit %d, output %q; want exit %d", code, out, exitInfra)
	}
}

func TestChaosCleanupRejectsArguments(t *testing.T) {
	if _, code := runChaosCmd(t, "chaos", "cleanup", "extra"); code != exitBadInput {
		t.Fatalf("exit %d; want %d", code, exitBadInput)
	}
}
