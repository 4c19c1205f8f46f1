package testenv_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/dailydoco/ddp-verify/internal/testenv"
)

// helperEnv makes TestHelperNeedsMissingTool do its work: it runs only in a child process, so
// that its failure is observed rather than suffered.
const helperEnv = "DDP_TESTENV_HELPER"

// TestHelperNeedsMissingTool needs a program that exists nowhere.
func TestHelperNeedsMissingTool(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	testenv.LookPath(t, testenv.Dep{Name: "nothere", Install: "apt-get install -y nothere"}, "ddp-no-such-program")
	t.Log("reached past LookPath")
}

// A missing dependency fails the test with its install command; DDP_TEST_SKIP turns that into
// a skip that says why, except under CI=true.
func TestMissingFailsUnlessOptedOut(t *testing.T) {
	cases := []struct {
		name     string
		env      []string
		wantFail bool
		want     []string
	}{
		{"fails with the install command", nil, true,
			[]string{"--- FAIL", "nothere is missing", "apt-get install -y nothere", "DDP_TEST_SKIP=nothere"}},
		{"skips loudly when opted out", []string{"DDP_TEST_SKIP=wrk,nothere"}, false,
			[]string{"--- SKIP", "SKIPPED because DDP_TEST_SKIP=wrk,nothere", "apt-get install -y nothere"}},
		{"other opt-outs do not count", []string{"DDP_TEST_SKIP=chromium"}, true, []string{"--- FAIL"}},
		{"no opt-out under CI", []string{"DDP_TEST_SKIP=nothere", "CI=true"}, true, []string{"--- FAIL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNeedsMissingTool$", "-test.v")
			cmd.Env = append(os.Environ(), helperEnv+"=1", "CI=", "DDP_TEST_SKIP=")
			cmd.Env = append(cmd.Env, tc.env...)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tc.wantFail {
				t.Errorf("failed %v (%v), want %v:\n%s", failed, err, tc.wantFail, out)
			}
			if strings.Contains(string(out), "reached past LookPath") {
				t.Errorf("the test went on without its dependency:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// The refused address refuses, and keeps its port from servers started after it.
func TestRefusedAddr(t *testing.T) {
	addr := testenv.RefusedAddr(t)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("dial %s: connected, want refused", addr)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Fatalf("a server could listen on %s", addr)
	}
}
